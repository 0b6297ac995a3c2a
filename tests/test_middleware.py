"""The middleware at the HTTP level, through WSGI (test client) and ASGI (async client).

Every test runs twice, with the same assertions: ``sync`` goes through Django's
WSGI handler, ``async`` through the ASGI handler (the middleware's async path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client, override_settings

from cors_admin import cache
from cors_admin.middleware import CorsAdminMiddleware
from tests.factories import policy_with_origins
from tests.urls_cors import CALLS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_cors")]

APP = "https://app.example.com"
EVIL = "https://evil.example.com"
ACAO = "Access-Control-Allow-Origin"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
DEFAULT_ACAM = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
DEFAULT_ACAH = "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with"


class Http:
    """One request helper for both handlers."""

    def __init__(self, kind: str, client: Client, async_client: AsyncClient) -> None:
        self.kind = kind
        self.client = client
        self.async_client = async_client

    def __repr__(self) -> str:
        return self.kind

    def raise_exceptions(self, value: bool) -> None:
        self.client.raise_request_exception = value
        self.async_client.raise_request_exception = value

    def request(
        self,
        method: str,
        path: str,
        origin: str | None = None,
        script_name: str = "",
        **headers: str,
    ) -> HttpResponseBase:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        if origin is not None:
            sent["Origin"] = origin
        if self.kind == "sync":
            extra: dict[str, Any] = {"SCRIPT_NAME": script_name} if script_name else {}
            return self.client.generic(method, path, headers=sent, **extra)
        # ASGI: 'path' is the decoded path and includes the root path, which Django strips
        # into path_info. (AsyncClient.generic cannot send a non-ASCII path or a root path.)
        scope = {
            "method": method,
            "path": script_name + unquote(path),
            "root_path": script_name,
            "query_string": "",
            "server": ("127.0.0.1", "80"),
            "scheme": "http",
            "headers": [(b"host", b"testserver")]
            + [(k.lower().encode(), v.encode("latin-1")) for k, v in sent.items()],
        }

        async def send() -> HttpResponseBase:
            return await self.async_client.request(**scope)  # type: ignore[no-any-return]

        return async_to_sync(send)()


@pytest.fixture(params=["sync", "async"])
def http(request: pytest.FixtureRequest, client: Client, async_client: AsyncClient) -> Http:
    return Http(request.param, client, async_client)


@pytest.fixture(autouse=True)
def policies(db: None) -> Iterator[None]:
    CALLS.clear()
    policy_with_origins(APP, "https://*.example.org", name="api", path="/api/")
    policy_with_origins(
        APP,
        name="with-id",
        path="/api/with-id/",
        path_type="exact",
        allow_credentials=True,
        expose_headers=["X-Request-Id", "X-Total"],
        max_age=600,
        allow_private_network=True,
    )
    policy_with_origins(name="star", path="/star/", allow_all_origins=True, allow_credentials=True)
    # A trap for SCRIPT_NAME: matching must use path_info, never the full path.
    policy_with_origins(name="prefix-trap", path="/prefix/", allow_all_origins=True)
    # Matched against the percent-decoded path_info.
    policy_with_origins(
        "https://cafe.example.com",
        name="cafe",
        path="/api/caf\u00e9/",
        path_type="regex",
        priority=1,
    )
    yield
    CALLS.clear()


def cors_headers(response: HttpResponseBase) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    }


def vary_names(response: HttpResponseBase) -> list[str]:
    return [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]


def body(response: HttpResponseBase) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined]


# -- actual requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, "https://a.example.org", "https://a.b.example.org"])
def test_allowed_simple_get(http: Http, origin: str) -> None:
    response = http.request("GET", "/api/plain/", origin)
    assert response.status_code == 200
    assert body(response) == b"plain GET"
    assert cors_headers(response) == {ACAO: origin}
    assert response.headers["Vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    [EVIL, "https://example.org", "http://app.example.com", "null", "HTTPS://APP.EXAMPLE.COM"],
)
def test_denied_simple_get_runs_the_view_without_cors_headers(http: Http, origin: str) -> None:
    response = http.request("GET", "/api/plain/", origin)
    assert response.status_code == 200
    assert body(response) == b"plain GET"
    assert cors_headers(response) == {}
    assert response.headers["Vary"] == "Origin"
    assert CALLS["plain"] == 1


def test_vary_origin_without_an_origin_header(http: Http) -> None:
    response = http.request("GET", "/api/plain/")
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert response.headers["Vary"] == "Origin"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_actual_requests(http: Http, method: str) -> None:
    response = http.request(method, "/api/plain/", APP)
    assert response.status_code == 200
    assert body(response) == f"plain {method}".encode()
    assert cors_headers(response) == {ACAO: APP}


def test_options_without_request_method_reaches_the_view(http: Http) -> None:
    response = http.request("OPTIONS", "/api/counted/", APP)
    assert response.status_code == 418  # the view's own answer
    assert CALLS["counted"] == 1
    assert cors_headers(response) == {ACAO: APP}
    assert response.headers["Vary"] == "Origin"


def test_credentials_and_expose_headers(http: Http) -> None:
    response = http.request("GET", "/api/with-id/", APP)
    assert response.status_code == 200
    assert cors_headers(response) == {
        ACAO: APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "X-Request-Id, X-Total",
    }
    assert response.headers["Vary"] == "Origin"
    denied = http.request("GET", "/api/with-id/", "https://a.example.org")
    assert cors_headers(denied) == {}


# -- preflights ---------------------------------------------------------------------------------


def test_allowed_preflight_is_answered_by_the_middleware(http: Http) -> None:
    response = http.request(
        "OPTIONS",
        "/api/counted/",
        APP,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="Content-Type, X-Requested-With",
    )
    assert response.status_code == 204
    assert body(response) == b""
    assert CALLS["counted"] == 0
    assert cors_headers(response) == {
        ACAO: APP,
        "Access-Control-Allow-Methods": DEFAULT_ACAM,
        "Access-Control-Allow-Headers": DEFAULT_ACAH,
    }
    assert response.headers["Vary"] == PREFLIGHT_VARY
    assert "Content-Type" not in response.headers


def test_allowed_preflight_with_credentials_max_age_and_private_network(http: Http) -> None:
    response = http.request(
        "OPTIONS",
        "/api/with-id/",
        APP,
        Access_Control_Request_Method="PUT",
        Access_Control_Request_Private_Network="true",
    )
    assert response.status_code == 204
    assert cors_headers(response) == {
        ACAO: APP,
        "Access-Control-Allow-Methods": DEFAULT_ACAM,
        "Access-Control-Allow-Headers": DEFAULT_ACAH,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Private-Network": "true",
    }
    not_asked = http.request("OPTIONS", "/api/with-id/", APP, Access_Control_Request_Method="PUT")
    assert "Access-Control-Allow-Private-Network" not in not_asked.headers
    assert (
        "Access-Control-Allow-Private-Network"
        not in http.request(
            "OPTIONS",
            "/api/counted/",
            APP,
            Access_Control_Request_Method="PUT",
            Access_Control_Request_Private_Network="true",
        ).headers
    )


@override_settings(CORS_ADMIN_PREFLIGHT_STATUS=200)
def test_preflight_status_setting(http: Http) -> None:
    response = http.request("OPTIONS", "/api/counted/", APP, Access_Control_Request_Method="GET")
    assert response.status_code == 200
    assert body(response) == b""
    assert cors_headers(response)[ACAO] == APP
    denied = http.request("OPTIONS", "/api/counted/", EVIL, Access_Control_Request_Method="GET")
    assert denied.status_code == 403
    assert CALLS["counted"] == 0


@pytest.mark.parametrize(
    ("origin", "request_method", "request_headers"),
    [
        (EVIL, "GET", None),  # origin not allowed
        ("null", "GET", None),
        ("https://app.example.com/", "GET", None),
        (APP, "get", None),  # methods are case-sensitive
        (APP, "PROPFIND", None),
        (APP, "POST", "content-type, x-secret"),  # a header not allowed
        (APP, "POST", "content-type; x"),  # malformed list
        (APP, "POST", "a," * 3000),  # oversize list
    ],
)
def test_denied_preflight(
    http: Http, origin: str, request_method: str, request_headers: str | None
) -> None:
    headers = {"Access_Control_Request_Method": request_method}
    if request_headers is not None:
        headers["Access_Control_Request_Headers"] = request_headers
    response = http.request("OPTIONS", "/api/counted/", origin, **headers)
    assert response.status_code == 403
    assert body(response) == b""
    assert cors_headers(response) == {}
    assert response.headers["Vary"] == PREFLIGHT_VARY
    assert CALLS["counted"] == 0


def test_star_allow_headers_echo_authorization(http: Http) -> None:
    response = http.request(
        "OPTIONS",
        "/star/plain/",
        "https://anything.test",
        Access_Control_Request_Method="GET",
        Access_Control_Request_Headers="Authorization",
    )
    assert response.status_code == 204
    # The star policy keeps the default header list (authorization is in it).
    assert cors_headers(response)["Access-Control-Allow-Headers"] == DEFAULT_ACAH


# -- allow all origins --------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, "https://anything.test", "null", None])
def test_allow_all_answers_star_without_vary(http: Http, origin: str | None) -> None:
    response = http.request("GET", "/star/plain/", origin)
    assert response.status_code == 200
    # Credentials are configured too, but never go with '*'.
    assert cors_headers(response) == {ACAO: "*"}
    assert "Vary" not in response.headers


def test_allow_all_keeps_the_views_vary_untouched(http: Http) -> None:
    response = http.request("GET", "/star/vary-cookie/", APP)
    assert response.headers["Vary"] == "Cookie"
    assert cors_headers(response) == {ACAO: "*"}


def test_allow_all_preflight(http: Http) -> None:
    response = http.request(
        "OPTIONS", "/star/plain/", "https://anything.test", Access_Control_Request_Method="DELETE"
    )
    assert response.status_code == 204
    assert cors_headers(response) == {
        ACAO: "*",
        "Access-Control-Allow-Methods": DEFAULT_ACAM,
        "Access-Control-Allow-Headers": DEFAULT_ACAH,
    }
    assert (
        response.headers["Vary"] == "Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    assert CALLS["plain"] == 0


# -- Vary ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, EVIL, None])
def test_vary_is_merged_with_the_views_own(http: Http, origin: str | None) -> None:
    response = http.request("GET", "/api/vary-cookie/", origin)
    assert response.headers["Vary"] == "Cookie, Origin"


@pytest.mark.parametrize("origin", [APP, EVIL, None])
def test_vary_is_never_duplicated(http: Http, origin: str | None) -> None:
    response = http.request("GET", "/api/vary-origin/", origin)
    assert [v.lower() for v in vary_names(response)].count("origin") == 1
    assert response.headers["Vary"] == "origin, Accept-Encoding"


def test_vary_star_stays_star(http: Http) -> None:
    response = http.request("GET", "/api/vary-star/", APP)
    assert response.headers["Vary"] == "*"
    assert cors_headers(response) == {ACAO: APP}


# -- the view's own CORS headers ------------------------------------------------------------------


def test_view_set_cors_headers_are_replaced(http: Http) -> None:
    response = http.request("GET", "/api/own-cors/", APP)
    assert cors_headers(response) == {ACAO: APP}
    denied = http.request("GET", "/api/own-cors/", EVIL)
    assert cors_headers(denied) == {}
    assert denied.headers["Vary"] == "Origin"


# -- uncovered paths ----------------------------------------------------------------------------


def test_uncovered_path_is_untouched(http: Http) -> None:
    response = http.request("GET", "/open/plain/", APP)
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert "Vary" not in response.headers
    own = http.request("GET", "/open/own-cors/", APP)
    assert own.headers[ACAO] == "https://evil.example.com"  # the middleware does nothing
    assert own.headers["Access-Control-Max-Age"] == "999999"
    pre = http.request("OPTIONS", "/open/counted/", APP, Access_Control_Request_Method="GET")
    assert pre.status_code == 418  # the view answered: nothing short-circuits
    assert CALLS["counted"] == 1
    assert "Vary" not in pre.headers


# -- errors, streaming, APPEND_SLASH, SCRIPT_NAME --------------------------------------------------


def test_a_failing_view_still_gets_cors_headers(http: Http) -> None:
    http.raise_exceptions(False)
    response = http.request("GET", "/api/boom/", APP)
    assert response.status_code == 500
    assert CALLS["boom"] == 1
    assert cors_headers(response) == {ACAO: APP}
    assert response.headers["Vary"] == "Origin"
    denied = http.request("GET", "/api/boom/", EVIL)
    assert denied.status_code == 500
    assert cors_headers(denied) == {}


def test_streaming_response(http: Http) -> None:
    response = http.request("GET", "/api/stream/", APP)
    assert response.status_code == 200
    assert response.streaming
    assert cors_headers(response) == {ACAO: APP}
    assert response.headers["Vary"] == "Origin"
    assert body(response) == b"chunk 0\nchunk 1\nchunk 2\n"


@override_settings(APPEND_SLASH=True)
def test_preflight_to_a_path_missing_its_slash_is_not_redirected(http: Http) -> None:
    response = http.request("OPTIONS", "/api/items", APP, Access_Control_Request_Method="POST")
    assert response.status_code == 204
    assert cors_headers(response)[ACAO] == APP
    assert "Location" not in response.headers
    assert CALLS["counted"] == 0
    denied = http.request("OPTIONS", "/api/items", EVIL, Access_Control_Request_Method="POST")
    assert denied.status_code == 403


@override_settings(APPEND_SLASH=True)
def test_redirect_by_common_middleware_carries_cors_headers(http: Http) -> None:
    response = http.request("GET", "/api/items", APP)
    assert response.status_code == 301
    assert response.headers["Location"] == "/api/items/"
    assert cors_headers(response) == {ACAO: APP}
    assert response.headers["Vary"] == "Origin"
    followed = http.request("GET", "/api/items/", APP)
    assert followed.status_code == 200
    assert cors_headers(followed) == {ACAO: APP}


def test_script_name_prefix_matches_on_path_info(http: Http) -> None:
    response = http.request("GET", "/api/plain/", APP, script_name="/prefix")
    assert response.status_code == 200
    assert response.headers["X-Path"] == "/prefix/api/plain/"  # request.path has the prefix
    # The 'api' policy decided (path_info), not 'prefix-trap' (which would answer '*').
    assert cors_headers(response) == {ACAO: APP}
    assert response.headers["Vary"] == "Origin"
    denied = http.request("GET", "/api/plain/", EVIL, script_name="/prefix")
    assert cors_headers(denied) == {}
    pre = http.request(
        "OPTIONS", "/api/counted/", APP, script_name="/prefix", Access_Control_Request_Method="GET"
    )
    assert pre.status_code == 204
    assert CALLS["counted"] == 0


def test_regex_matches_the_decoded_path(http: Http) -> None:
    response = http.request("GET", "/api/caf%C3%A9/", "https://cafe.example.com")
    assert response.status_code == 200
    assert cors_headers(response) == {ACAO: "https://cafe.example.com"}
    # The 'cafe' policy decides that path: APP is not in its allowlist.
    assert cors_headers(http.request("GET", "/api/caf%C3%A9/", APP)) == {}


def test_a_policy_change_after_reset_is_seen(http: Http) -> None:
    assert cors_headers(http.request("GET", "/api/plain/", "https://new.example.com")) == {}
    policy_with_origins("https://new.example.com", name="api")  # get_or_create by name
    cache.reset()
    assert cors_headers(http.request("GET", "/api/plain/", "https://new.example.com")) == {
        ACAO: "https://new.example.com"
    }


@override_settings(CORS_ADMIN_REFRESH_INTERVAL=3600)
def test_no_queries_once_the_snapshot_is_loaded(http: Http, django_assert_num_queries: Any) -> None:
    http.request("GET", "/api/plain/", APP)  # loads the snapshot
    with django_assert_num_queries(0):
        response = http.request(
            "OPTIONS", "/api/counted/", APP, Access_Control_Request_Method="GET"
        )
        http.request("GET", "/api/plain/", EVIL)
    assert response.status_code == 204


def test_each_handler_uses_its_own_middleware_path(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = CorsAdminMiddleware.__acall__

    async def counting(self: CorsAdminMiddleware, request: Any) -> HttpResponseBase:
        calls.append(request.path)
        return await original(self, request)

    monkeypatch.setattr(CorsAdminMiddleware, "__acall__", counting)
    response = http.request("GET", "/api/plain/", APP)
    assert cors_headers(response) == {ACAO: APP}
    assert calls == (["/api/plain/"] if http.kind == "async" else [])


def test_malformed_stored_data_never_grants_nor_errors(http: Http) -> None:
    """Rows written around validation (raw SQL, bulk update) are skipped, never granted."""
    from cors_admin.models import CorsOrigin, CorsPolicy

    api = CorsPolicy.objects.get(name="api")
    CorsOrigin.objects.create(policy=api, origin="placeholder")
    CorsOrigin.objects.filter(origin="placeholder").update(origin="https://evil.example.com/")
    policy_with_origins(
        name="broken-regex", path="/api/(", path_type="regex", priority=0, allow_all_origins=True
    )
    cache.reset()
    for origin in (EVIL, "https://evil.example.com/"):
        response = http.request("GET", "/api/plain/", origin)
        assert response.status_code == 200
        assert cors_headers(response) == {}
        pre = http.request("OPTIONS", "/api/counted/", origin, Access_Control_Request_Method="GET")
        assert pre.status_code == 403
        assert cors_headers(pre) == {}
    assert cors_headers(http.request("GET", "/api/plain/", APP)) == {ACAO: APP}
    snapshot = cache.peek()
    assert snapshot is not None
    assert any("broken-regex" in e for e in snapshot.errors)
    assert any("https://evil.example.com/" in e for e in snapshot.errors)


def test_no_snapshot_fails_closed_without_errors(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(cache, "current", broken)
    monkeypatch.setattr(cache, "refresh", broken)
    monkeypatch.setattr(cache, "needs_refresh", lambda: True)
    monkeypatch.setattr(cache, "peek", lambda: None)
    response = http.request("GET", "/api/plain/", APP)
    assert response.status_code == 200
    assert cors_headers(response) == {}
    pre = http.request("OPTIONS", "/api/counted/", APP, Access_Control_Request_Method="GET")
    assert pre.status_code == 418  # nothing to answer with: the view runs, no CORS headers
    assert cors_headers(pre) == {}
