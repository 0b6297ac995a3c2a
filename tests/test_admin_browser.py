"""A real browser in the admin: log in, add an origin inline, save, and the middleware allows it.

Headless Chromium (Debian's ``/usr/bin/chromium``) drives the admin of the
example project served by pytest-django's ``live_server`` (a threaded WSGI
server in this process, on the test database, committing for real). After the
save, a plain HTTP request with the new ``Origin`` must get
``Access-Control-Allow-Origin`` from the middleware, and the "test a request"
page must say the same. Screenshots of the change list, the change form and
the test page are saved to ``artifacts/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections
from django.utils import timezone

from cors_admin.models import CorsPolicy
from tests.browser import SCREENSHOTS, chromium
from tests.factories import CorsOriginFactory, CorsPolicyFactory, UserFactory, policy_with_origins

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_ORIGIN = "https://spa.example.com"


def get_with_origin(base_url: str, path: str, origin: str) -> tuple[int, list[tuple[str, str]]]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Origin": origin})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheaders()
    finally:
        conn.close()


def allow_origin(headers: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in headers if k.lower() == "access-control-allow-origin"]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are ordinary synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
            context.close()
        finally:
            # The ORM calls made while Playwright's loop ran used connections of their own
            # context (asgiref locals); close them while that context is still current, or
            # the test database cannot be dropped.
            connections.close_all()


def test_add_an_origin_inline_and_the_middleware_allows_it(live_server: Any, page: Any) -> None:
    UserFactory(username="operator", password="pw", is_staff=True, is_superuser=True)
    policy = policy_with_origins(
        "https://old.example.com", name="demo api", path="/api/", allow_credentials=True
    )
    CorsOriginFactory(
        policy=policy,
        origin="https://retired.example.com",
        expires_at=timezone.now() - timedelta(days=2),
    )
    policy_with_origins(
        "https://*.partner.example",
        "https://partner.example",
        name="partner api",
        path="/api/partner/",
        priority=50,
    )
    CorsPolicyFactory(
        name="open data", path="/api/open/", path_type="exact", allow_all_origins=True
    )
    policy_with_origins(
        "http://localhost:*", name="local dev", path=r"/dev/.*", path_type="regex", enabled=False
    )
    base = live_server.url
    status, headers = get_with_origin(base, "/api/demo/hello/", NEW_ORIGIN)
    assert status == 200 and allow_origin(headers) == []

    # Log in and land on the policy list.
    page.goto(f"{base}/admin/login/?next=/admin/cors_admin/corspolicy/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 4
    assert "(1 expired)" in page.inner_text("#result_list")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin-changelist.png"), full_page=True)

    # Open the policy and type the new origin into the empty allowlist row.
    page.click("#result_list a:text-is('demo api')")
    page.wait_for_selector("#corspolicy_form")
    row = page.locator("#origins-group tbody tr.form-row:not(.has_original):not(.empty-form)")
    row.first.locator("input[name$='-origin']").fill(NEW_ORIGIN.upper() + ":443")
    row.first.locator("input[name$='-note']").fill("new single-page app")
    page.screenshot(path=str(SCREENSHOTS / "admin-change-form.png"), full_page=True)
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")
    assert "was changed successfully" in page.inner_text("ul.messagelist")
    assert set(policy.origins.values_list("origin", flat=True)) == {
        "https://old.example.com",
        "https://retired.example.com",
        NEW_ORIGIN,  # normalized on save
    }

    # The middleware serving this site allows the new origin (the save bumped the revision).
    deadline = time.monotonic() + 5
    while True:
        status, headers = get_with_origin(base, "/api/demo/hello/", NEW_ORIGIN)
        if allow_origin(headers) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200
    assert allow_origin(headers) == [NEW_ORIGIN]
    assert ("Access-Control-Allow-Credentials", "true") in headers

    # The policy's "Test a request" link opens the test page prefilled with the new origin.
    page.click(f"a[href^='/admin/cors_admin/corspolicy/{policy.pk}/change/']")
    page.wait_for_selector("#corspolicy_form")
    page.click("a.cors-admin-test-link")
    page.wait_for_selector("[data-verdict]")
    assert page.get_attribute("[data-verdict]", "data-verdict") == "allowed"
    assert page.input_value("#id_origin") == NEW_ORIGIN
    # Then a preflighted request: PUT with JSON and a bearer token.
    page.fill("#id_path", "/api/demo/echo/")
    page.fill("#id_method", "PUT")
    page.fill("#id_request_headers", "content-type, authorization")
    page.click("input[name=_test]")
    page.wait_for_selector("[data-step=preflight]")
    assert page.get_attribute("[data-verdict]", "data-verdict") == "allowed"
    preflight = page.inner_text("[data-step=preflight] .cors-admin-response")
    assert "HTTP 204" in preflight
    assert f"Access-Control-Allow-Origin: {NEW_ORIGIN}" in preflight
    assert "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" in preflight
    assert (
        "Access-Control-Allow-Headers: accept, authorization, content-type, user-agent, "
        "x-csrftoken, x-requested-with" in preflight
    )
    page.screenshot(path=str(SCREENSHOTS / "admin-test-page.png"), full_page=True)

    # And a denied origin, for the record: the reason is spelled out.
    page.fill("#id_origin", "https://evil.example.net")
    page.fill("#id_method", "GET")
    page.fill("#id_request_headers", "")
    page.click("input[name=_test]")
    page.wait_for_selector("[data-verdict=denied]")
    assert "is not in the allowlist of policy 'demo api'" in page.inner_text("#cors-admin-result")
    page.screenshot(path=str(SCREENSHOTS / "admin-test-page-denied.png"), full_page=True)
    assert CorsPolicy.objects.count() == 4
