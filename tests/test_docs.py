"""The docs' checkable claims: settings, check ids, code samples, links, console messages."""

from __future__ import annotations

#: What Chromium prints before every CORS error in the console.
CONSOLE_PREFIX = (
    "Access to fetch at '{url}' from origin '{origin}' has been blocked by CORS policy: "
)

#: The rest of each message, as Chromium words it (captured by tests/test_demo_e2e.py).
CHROMIUM_MESSAGES: dict[str, str] = {
    "no-acao": "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "preflight-no-acao": (
        "Response to preflight request doesn't pass access control check: "
        "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    ),
    "wildcard-credentials": (
        "The value of the 'Access-Control-Allow-Origin' header in the response must not be "
        "the wildcard '*' when the request's credentials mode is 'include'."
    ),
    "credentials-missing": (
        "The value of the 'Access-Control-Allow-Credentials' header in the response is '' "
        "which must be 'true' when the request's credentials mode is 'include'."
    ),
    "preflight-status": (
        "Response to preflight request doesn't pass access control check: "
        "It does not have HTTP ok status."
    ),
    "preflight-redirect": (
        "Response to preflight request doesn't pass access control check: "
        "Redirect is not allowed for a preflight request."
    ),
    "method": (
        "Method {method} is not allowed by Access-Control-Allow-Methods in preflight response."
    ),
    "header": (
        "Request header field {header} is not allowed by Access-Control-Allow-Headers in "
        "preflight response."
    ),
    "multiple": (
        "The 'Access-Control-Allow-Origin' header contains multiple values '{values}', but only "
        "one is allowed. Have the server send the header with a valid value."
    ),
    "wrong-origin": (
        "The 'Access-Control-Allow-Origin' header has a value '{value}' that is not equal to the "
        "supplied origin. Have the server send the header with a valid value."
    ),
}

#: The example values the troubleshooting guide fills the placeholders with.
DOC_EXAMPLES = {
    "method": "PATCH",
    "header": "x-foo",
    "values": "https://app.example.com, https://admin.example.com",
    "value": "https://app.example.com",
}
