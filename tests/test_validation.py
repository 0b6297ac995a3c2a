"""The shared validators: per-item and per-field messages, cross-field rules, warnings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cors_admin.validation import (
    normalize_header_names,
    normalize_methods,
    normalize_origin,
    normalize_origins,
    policy_warnings,
    validate_path,
    validate_policy,
)


def test_normalize_origin() -> None:
    assert normalize_origin("HTTPS://App.Example.COM:443") == "https://app.example.com"
    with pytest.raises(ValidationError) as excinfo:
        normalize_origin("https://app.example.com/")
    assert excinfo.value.code == "invalid_origin"
    assert "Remove the trailing slash" in excinfo.value.messages[0]


def test_normalize_origins_reports_each_item() -> None:
    assert normalize_origins(["HTTPS://A.example.com", "http://localhost:*", "null"]) == [
        "https://a.example.com",
        "http://localhost:*",
        "null",
    ]
    with pytest.raises(ValidationError) as excinfo:
        normalize_origins(
            [
                "https://a.example.com",
                "https://a.example.com/path",
                "HTTPS://A.EXAMPLE.COM:443",
                "https://*.com",
                "https://b.example.com",
            ]
        )
    messages = excinfo.value.messages
    assert len(messages) == 3
    assert messages[0].startswith("Item 2: ") and "contains a path" in messages[0]
    assert messages[1] == ("Item 3: 'https://a.example.com' is listed twice (same as item 1).")
    assert messages[2].startswith("Item 4: ") and "public suffix 'com'" in messages[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["GET", "POST"], ["GET", "POST"]),
        ("GET, POST,PATCH", ["GET", "POST", "PATCH"]),
        (["get", "GET"], ["get", "GET"]),  # case-sensitive, kept as written
        (["GET", " GET ", ""], ["GET"]),
        (("PROPFIND",), ["PROPFIND"]),
        ([], []),
    ],
)
def test_normalize_methods(value: Any, expected: list[str]) -> None:
    assert normalize_methods(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["*"], "'*' is not accepted for methods"),
        (["GET POST"], "'GET POST' is not a valid HTTP token"),
        (["GET;"], "is not a valid HTTP token"),
        (["G\u00c9T"], "is not a valid HTTP token"),
        ([1], "must be a string"),
        (5, "Enter a list of methods"),
        ({"GET": 1}, "Enter a list of methods"),
    ],
)
def test_normalize_methods_refusals(value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        normalize_methods(value)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Content-Type", "X-Api-Key", "content-type"], ["content-type", "x-api-key"]),
        ("Accept, Authorization", ["accept", "authorization"]),
        (["*"], ["*"]),
        ([], []),
    ],
)
def test_normalize_header_names(value: Any, expected: list[str]) -> None:
    assert normalize_header_names(value) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (["*", "x-a"], {}, "Use '*' alone"),
        (["*"], {"allow_star": False}, "'*' is not accepted here"),
        (["x a"], {}, "is not a valid HTTP token"),
        (["x-a:"], {}, "is not a valid HTTP token"),
        (None, {}, "Enter a list of header names"),
    ],
)
def test_normalize_header_names_refusals(value: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        normalize_header_names(value, **kwargs)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("path", "path_type"),
    [
        ("/", "prefix"),
        ("/api/", "prefix"),
        ("/api", "prefix"),
        ("/api/items", "exact"),
        (r"/api/items/\d+", "regex"),
        (r"^/api/(v1|v2)/$", "regex"),
        ("/caf\u00e9/", "prefix"),
    ],
)
def test_validate_path_accepts(path: str, path_type: str) -> None:
    assert validate_path(path, path_type) == path


@pytest.mark.parametrize(
    ("path", "path_type", "message"),
    [
        ("", "prefix", "Enter a path"),
        (None, "prefix", "Enter a path"),
        ("api/", "prefix", "starts with '/', for example /api/"),
        ("api/items", "exact", "starts with '/'"),
        ("/api/?x=1", "prefix", "no spaces, query string or fragment"),
        ("/api/#x", "exact", "no spaces, query string or fragment"),
        ("/api /", "prefix", "no spaces, query string or fragment"),
        ("/api/\x00", "prefix", "control characters"),
        ("/api/(", "regex", "does not compile"),
        ("[", "regex", "does not compile"),
        ("/" + "a" * 500, "prefix", "at most 500"),
        ("/api/", "glob", "Unknown path type"),
    ],
)
def test_validate_path_refusals(path: Any, path_type: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_path(path, path_type)
    assert message in excinfo.value.messages[0]


def test_validate_policy_accepts_legal_combinations() -> None:
    validate_policy({"allow_credentials": True}, ["https://app.example.com", "http://x.test"])
    validate_policy({"allow_all_origins": True}, ["null"])
    validate_policy({"allow_credentials": False, "expose_headers": ["*"]}, ["null"])
    validate_policy({"max_age": 0}, [])


@pytest.mark.parametrize(
    ("data", "origins", "field", "message"),
    [
        (
            {"allow_credentials": True, "allow_all_origins": True},
            [],
            "allow_credentials",
            "Browsers refuse credentials with 'Access-Control-Allow-Origin: *'",
        ),
        (
            {"allow_credentials": True},
            ["https://app.example.com", "null"],
            "origins",
            "The 'null' origin cannot be combined with credentials",
        ),
        (
            {"allow_credentials": True, "expose_headers": ["*"]},
            [],
            "expose_headers",
            "list the header names instead",
        ),
        ({"max_age": -1}, [], "max_age", "0 or more"),
        ({"max_age": "600"}, [], "max_age", "0 or more"),
    ],
)
def test_validate_policy_refusals(
    data: dict[str, Any], origins: list[str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_policy(data, origins)
    errors = excinfo.value.message_dict
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_validate_policy_reports_every_field_at_once() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_policy(
            {"allow_credentials": True, "allow_all_origins": True, "max_age": -5}, ["null"]
        )
    assert set(excinfo.value.message_dict) == {"allow_credentials", "origins", "max_age"}


def warnings_for(data: dict[str, Any], origins: list[str] = [], expiries: Any = ()) -> str:  # noqa: B006
    return "\n".join(policy_warnings(data, origins, expiries))


def test_no_warnings_for_a_plain_policy() -> None:
    assert policy_warnings({"allow_credentials": True, "max_age": 7200}, ["https://a.test"]) == []


def test_warning_for_plain_http_with_credentials() -> None:
    text = warnings_for({"allow_credentials": True}, ["http://app.example.com", "https://b.test"])
    assert "plain-HTTP origins (http://app.example.com)" in text
    assert "plain-HTTP" not in warnings_for({"allow_credentials": False}, ["http://a.test"])
    # Loopback is not a network path anyone can sit on.
    for origin in (
        "http://localhost:3000",
        "http://127.0.0.1:8000",
        "http://[::1]",
        "http://a.localhost",
    ):
        assert "plain-HTTP" not in warnings_for({"allow_credentials": True}, [origin])


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [
        (None, None),
        (600, None),
        (7200, None),
        (7201, "above Chromium's cap of 7200 s"),
        (86400, "above Chromium's cap of 7200 s"),
        (86401, "above every browser's cap"),
    ],
)
def test_max_age_warnings(max_age: int | None, expected: str | None) -> None:
    text = warnings_for({"max_age": max_age})
    if expected is None:
        assert "max_age" not in text
    else:
        assert expected in text
    if max_age == 86401:
        assert "Chromium's cap of 7200" not in text  # one warning, the stronger one


def test_other_warnings() -> None:
    assert "allows all origins" in warnings_for({"allow_all_origins": True, "name": "open"})
    assert "'null' origin is allowed" in warnings_for({}, ["null"])
    assert "wildcard entries (https://*.example.com)" in warnings_for(
        {"allow_credentials": True}, ["https://*.example.com"]
    )
    assert "Private Network Access" in warnings_for({"allow_private_network": True})
    past = timezone.now() - timedelta(days=1)
    future = timezone.now() + timedelta(days=1)
    text = warnings_for({}, ["https://old.test", "https://new.test"], [past, future])
    assert "already expired and match nothing: https://old.test" in text
    assert "https://new.test" not in text
