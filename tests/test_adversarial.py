"""Hostile Origin values: never granted, never an error.

The policy allows ``https://app.example.com`` and ``https://*.example.org``,
with credentials. Every value below is sent as an actual request and as a
preflight, through Django's test client (WSGI and ASGI handlers) and through
real gunicorn (WSGI) and uvicorn (ASGI) servers with raw ``http.client``
requests, so duplicate and folded header lines are real. None may get any
``Access-Control-*`` header, and none may cause a 5xx; a server may refuse a
malformed request itself with a 400.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client

from tests.factories import policy_with_origins
from tests.servers import Server, header_values, run_python, run_server, server_database

APP = "https://app.example.com"
WILDCARD = "https://*.example.org"
PATH = "/api/demo/hello/"


def utf8_as_latin1(text: str) -> str:
    """What a server sees when a client sends ``text`` as UTF-8 bytes (headers are latin-1)."""
    return text.encode("utf-8").decode("latin-1")


CORPUS: list[tuple[str, str]] = [
    ("null", "null"),
    ("NULL", "NULL"),
    ("suffix-trick", "https://example.com.evil.com"),
    ("suffix-trick-app", "https://app.example.com.evil.com"),
    ("prefix-trick", "https://evilexample.com"),
    ("prefix-trick-app", "https://evilapp.example.com"),
    ("suffix-trick-wildcard", "https://x.example.org.evil.com"),
    ("prefix-trick-wildcard", "https://xexample.org"),
    ("bare-wildcard-domain", "https://example.org"),
    ("empty-wildcard-label", "https://.example.org"),
    ("empty-label", "https://x..example.org"),
    ("literal-wildcard", "https://*.example.org"),
    ("trailing-dot", "https://app.example.com."),
    ("trailing-dot-wildcard", "https://x.example.org."),
    ("uppercase", "HTTPS://APP.EXAMPLE.COM"),
    ("uppercase-host", "https://APP.example.com"),
    ("uppercase-scheme", "Https://app.example.com"),
    ("uppercase-wildcard", "https://X.example.org"),
    ("default-port", "https://app.example.com:443"),
    ("default-port-wildcard", "https://x.example.org:443"),
    ("leading-zero-port", "https://app.example.com:0443"),
    ("other-port", "https://app.example.com:8443"),
    ("other-port-wildcard", "https://x.example.org:8443"),
    ("port-80", "https://app.example.com:80"),
    ("empty-port", "https://app.example.com:"),
    ("trailing-slash", "https://app.example.com/"),
    ("path", "https://app.example.com/path"),
    ("query", "https://app.example.com?x=1"),
    ("fragment", "https://app.example.com#x"),
    ("user-info", "https://user@app.example.com"),
    ("user-info-password", "https://user:pass@app.example.com"),
    ("at-trick", "https://app.example.com@evil.com"),
    ("fragment-at-trick", "https://evil.com#@app.example.com"),
    ("backslash-trick", "https://x.example.org\\@evil.com"),
    ("comma-joined", "https://app.example.com, https://evil.com"),
    ("comma-joined-tight", "https://app.example.com,https://evil.com"),
    ("comma-joined-same", "https://app.example.com, https://app.example.com"),
    ("space-joined", "https://evil.com https://app.example.com"),
    ("nul-end", "https://app.example.com\x00"),
    ("nul-inside", "https://app.example.com\x00.evil.com"),
    ("tab-inside", "https://app.example.com\t.evil.com"),
    ("vertical-tab", "https://app.example.com\x0b"),
    ("form-feed", "https://app.example.com\x0c"),
    ("escape", "https://app\x1b.example.com"),
    ("del", "https://app.example.com\x7f"),
    ("c1-control", "https://app.example.com\x85"),
    ("nbsp", "https://app.example.com\xa0"),
    ("soft-hyphen", "https://app.exam\xadple.com"),
    ("latin1-y", "https://app.example.com\xff"),
    ("folded-in-value", "https://app.example.com\r\n .evil.com"),
    ("percent-dot", "https://app.example.com%2eevil.com"),
    ("percent-host", "https://app%2eexample.com"),
    ("scheme-downgrade", "http://app.example.com"),
    ("scheme-downgrade-wildcard", "http://x.example.org"),
    ("ws-scheme", "wss://app.example.com"),
    ("no-scheme", "app.example.com"),
    ("scheme-relative", "//app.example.com"),
    ("empty", ""),
    ("star", "*"),
    ("quoted", '"https://app.example.com"'),
    ("semicolon", "https://app.example.com;"),
    ("ipv6-loopback", "https://[::1]"),
    ("hex-ip", "https://0x7f.0.0.1"),
    ("idn-lookalike-utf8", utf8_as_latin1("https://\u0430pp.example.com")),  # Cyrillic a
    ("idn-lookalike-punycode", "https://xn--pp-6kc.example.com"),
    ("idn-lookalike-wildcard-utf8", utf8_as_latin1("https://x.\u0435xample.org")),
    ("idn-lookalike-wildcard-punycode", "https://x.xn--xample-2of.org"),
    ("idn-lookalike-tld-punycode", "https://app.xn--exampl-8of.com"),
    ("over-1kib-wildcard", "https://" + ("a" * 60 + ".") * 17 + "example.org"),
    ("8kib", "https://" + "a" * 8192 + ".example.org"),
    ("8kib-labels", "https://" + "a." * 4096 + "example.org"),
]

#: Values a server trims as optional whitespace before the application sees them (they then
#: ARE the allowed origin): only sent through the test client, where nothing trims them.
CLIENT_ONLY: list[tuple[str, str]] = [
    ("leading-space", " https://app.example.com"),
    ("trailing-space", "https://app.example.com "),
    ("leading-tab", "\thttps://app.example.com"),
    ("trailing-tab", "https://app.example.com\t"),
    ("trailing-cr", "https://app.example.com\r"),
    ("trailing-lf", "https://app.example.com\n"),
    ("trailing-crlf", "https://app.example.com\r\n"),
    ("lf-inside", "https://app.example.com\n.evil.com"),
    ("unicode-lookalike", "https://\u0430pp.example.com"),
]

#: Several header lines, as raw clients can send them.
RAW_HEADER_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("duplicate-allowed-then-evil", [("Origin", APP), ("Origin", "https://evil.com")]),
    ("duplicate-evil-then-allowed", [("Origin", "https://evil.com"), ("Origin", APP)]),
    ("duplicate-same", [("Origin", APP), ("Origin", APP)]),
    ("duplicate-mixed-case-names", [("Origin", APP), ("origin", "https://x.example.org")]),
    ("folded-continuation", [("Origin", "https://app.example.com\r\n\t.evil.com")]),
    ("folded-evil-tail", [("Origin", "https://evil.com\r\n https://app.example.com")]),
]


#: Statuses with which a server refuses a malformed request itself, before Django sees it.
SERVER_REFUSALS = (400, 431)


def assert_not_granted(status: int, headers: list[tuple[str, str]], *, preflight: bool) -> None:
    cors = [(k, v) for k, v in headers if k.lower().startswith("access-control-")]
    assert cors == [], cors
    assert status < 500, status
    if status not in SERVER_REFUSALS:
        assert status == (403 if preflight else 200), status


# -- Django test client (WSGI and ASGI handlers) --------------------------------------------------


@pytest.fixture
def adversarial_policy(db: None) -> None:
    policy_with_origins(APP, WILDCARD, name="adv", path="/api/", allow_credentials=True)


def send(
    kind: str, client: Client, async_client: AsyncClient, method: str, headers: dict[str, str]
) -> HttpResponseBase:
    if kind == "sync":
        return client.generic(method, PATH, headers=headers)

    async def go() -> HttpResponseBase:
        return await async_client.generic(method, PATH, headers=headers)  # type: ignore[no-any-return]

    return async_to_sync(go)()


def client_headers(response: HttpResponseBase) -> list[tuple[str, str]]:
    return list(response.headers.items())


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


CLIENT_CASES = [
    pytest.param(kind, value, id=f"{kind}-{name}")
    for kind in ("sync", "async")
    for name, value in CORPUS + CLIENT_ONLY
    if kind == "sync" or _latin1(value)  # ASGI header values are bytes (latin-1)
]


@pytest.mark.parametrize(("kind", "origin"), CLIENT_CASES)
def test_client_never_grants(
    adversarial_policy: None, client: Client, async_client: AsyncClient, kind: str, origin: str
) -> None:
    actual = send(kind, client, async_client, "GET", {"Origin": origin})
    assert_not_granted(actual.status_code, client_headers(actual), preflight=False)
    assert actual.headers["Vary"] == "Origin"
    pre = send(
        kind,
        client,
        async_client,
        "OPTIONS",
        {"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert_not_granted(pre.status_code, client_headers(pre), preflight=True)
    assert pre.content == b""


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("origin", [APP, "https://x.example.org", "https://a.b.example.org"])
def test_client_control_allowed_origins_are_granted(
    adversarial_policy: None, client: Client, async_client: AsyncClient, kind: str, origin: str
) -> None:
    """The same setup does grant the allowed origins, so the corpus test can fail."""
    actual = send(kind, client, async_client, "GET", {"Origin": origin})
    assert actual.status_code == 200
    assert actual.headers["Access-Control-Allow-Origin"] == origin
    assert actual.headers["Access-Control-Allow-Credentials"] == "true"
    pre = send(
        kind,
        client,
        async_client,
        "OPTIONS",
        {"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == origin


# -- real servers ---------------------------------------------------------------------------------

CREATE_POLICY = f"""
from cors_admin.models import CorsOrigin, CorsPolicy
policy = CorsPolicy.objects.create(name="adv", path="/api/", allow_credentials=True)
CorsOrigin.objects.create(policy=policy, origin={APP!r})
CorsOrigin.objects.create(policy=policy, origin={WILDCARD!r})
"""


@pytest.fixture(scope="module")
def server_db() -> Iterator[str]:
    with server_database() as url:
        run_python(url, CREATE_POLICY)
        yield url


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest, server_db: str) -> Iterator[Server]:
    with run_server(server_db, request.param) as srv:
        yield srv


def raw(
    server: Server, method: str, headers: list[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]]]:
    # Values go out as latin-1 bytes, exactly as given (http.client only refuses bare CR/LF).
    encoded = [(name, value.encode("latin-1")) for name, value in headers]
    status, response_headers, _ = server.request(method, PATH, encoded)  # type: ignore[arg-type]
    return status, response_headers


@pytest.mark.server
def test_server_control_allowed_origins_are_granted(server: Server) -> None:
    for origin in (APP, "https://x.example.org"):
        status, headers = raw(server, "GET", [("Origin", origin)])
        assert status == 200
        assert header_values(headers, "Access-Control-Allow-Origin") == [origin]
        assert header_values(headers, "Access-Control-Allow-Credentials") == ["true"]
        assert [v.strip() for v in ",".join(header_values(headers, "Vary")).split(",")].count(
            "Origin"
        ) == 1
        status, headers = raw(
            server, "OPTIONS", [("Origin", origin), ("Access-Control-Request-Method", "GET")]
        )
        assert status == 204
        assert header_values(headers, "Access-Control-Allow-Origin") == [origin]


@pytest.mark.server
def test_server_joins_request_header_lines(server: Server) -> None:
    """Access-Control-Request-Headers split across several lines is read as one list."""
    status, headers = raw(
        server,
        "OPTIONS",
        [
            ("Origin", APP),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
            ("Access-Control-Request-Headers", "X-Requested-With"),
        ],
    )
    assert status == 204
    assert header_values(headers, "Access-Control-Allow-Origin") == [APP]
    status, headers = raw(
        server,
        "OPTIONS",
        [
            ("Origin", APP),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
            ("Access-Control-Request-Headers", "x-not-allowed"),
        ],
    )
    assert status == 403
    assert header_values(headers, "Access-Control-Allow-Origin") == []


@pytest.mark.server
@pytest.mark.parametrize("origin", [pytest.param(v, id=i) for i, v in CORPUS])
def test_server_never_grants(server: Server, origin: str) -> None:
    status, headers = raw(server, "GET", [("Origin", origin)])
    assert_not_granted(status, headers, preflight=False)
    status, headers = raw(
        server, "OPTIONS", [("Origin", origin), ("Access-Control-Request-Method", "GET")]
    )
    assert_not_granted(status, headers, preflight=True)


@pytest.mark.server
@pytest.mark.parametrize("lines", [pytest.param(lines, id=i) for i, lines in RAW_HEADER_CASES])
def test_server_never_grants_several_or_folded_lines(
    server: Server, lines: list[tuple[str, str]]
) -> None:
    status, headers = raw(server, "GET", lines)
    assert_not_granted(status, headers, preflight=False)
    status, headers = raw(server, "OPTIONS", [*lines, ("Access-Control-Request-Method", "GET")])
    assert_not_granted(status, headers, preflight=True)
