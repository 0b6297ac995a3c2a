"""explain(): the middleware's evaluation, described for people (admin, API, command)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from cors_admin.engine import OriginSpec, PolicySpec, compile_policies
from cors_admin.explain import explain

APP = "https://app.example.com"
SNAPSHOT = compile_policies(
    [
        PolicySpec(
            name="api",
            path="/api/",
            origins=(OriginSpec(APP),),
            allow_methods=("GET", "POST", "PUT"),
            allow_headers=("content-type",),
            allow_credentials=True,
        )
    ]
)


def test_a_simple_get_is_explained_as_the_request_itself() -> None:
    result = explain(APP, "/api/items/", "GET", snapshot=SNAPSHOT)
    assert (result.allowed, result.preflight, result.status, result.policy) == (
        True,
        False,
        None,
        "api",
    )
    assert result.headers == {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


@pytest.mark.parametrize(
    ("method", "headers", "allowed", "reason"),
    [
        ("PUT", None, True, "preflight from origin"),  # not a simple method: preflighted
        ("PATCH", None, False, "method PATCH is not allowed by policy 'api'"),
        ("POST", "content-type", True, "preflight from origin"),  # a named header: preflighted
        ("POST", "x-token", False, "request header 'x-token' is not allowed by policy 'api'"),
    ],
)
def test_requests_a_browser_would_preflight_are_explained_by_their_preflight(
    method: str, headers: str | None, allowed: bool, reason: str
) -> None:
    result = explain(APP, "/api/items/", method, headers, snapshot=SNAPSHOT)
    assert result.preflight is True
    assert result.allowed is allowed
    assert result.status == (204 if allowed else 403)
    assert reason in result.reason
    if not allowed:
        assert not any(name.startswith("Access-Control-Allow") for name in result.headers)


def test_actual_describes_the_request_after_its_preflight() -> None:
    result = explain(APP, "/api/items/", "PUT", snapshot=SNAPSHOT, actual=True)
    assert (result.allowed, result.preflight, result.status) == (True, False, None)
    assert result.headers["Access-Control-Allow-Origin"] == APP


def test_options_is_a_preflight_and_its_status_follows_the_setting() -> None:
    with override_settings(CORS_ADMIN_PREFLIGHT_STATUS=200):
        result = explain(APP, "/api/items/", "OPTIONS", request_method="PUT", snapshot=SNAPSHOT)
    assert (result.preflight, result.allowed, result.status) == (True, True, 200)
    assert result.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT"


def test_uncovered_paths_and_denied_origins_say_why() -> None:
    uncovered = explain(APP, "/other/", "GET", snapshot=SNAPSHOT)
    assert (uncovered.covered, uncovered.allowed, uncovered.headers) == (False, False, {})
    assert "no enabled policy covers path '/other/'" in uncovered.reason
    denied = explain("https://evil.example", "/api/x", "GET", snapshot=SNAPSHOT)
    assert denied.headers == {"Vary": "Origin"}
    assert "not in the allowlist of policy 'api'" in denied.reason
    malformed = explain("https://APP.example.com", "/api/x", "GET", snapshot=SNAPSHOT)
    assert "not a well-formed serialized origin" in malformed.reason


UNREACHABLE_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "revision": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there: a real outage
        "OPTIONS": {"socket_connect_timeout": 0.2},
    },
}


@pytest.mark.django_db
@override_settings(CACHES=UNREACHABLE_REDIS, CORS_ADMIN_REVISION_CACHE="revision")
def test_without_any_snapshot_the_answer_is_no_cors_headers() -> None:
    result = explain(APP, "/api/x", "GET")  # the first load fails: no snapshot at all
    assert (result.allowed, result.covered, result.headers) == (False, False, {})
    assert "no CORS headers" in result.reason
