"""End to end: a real Chromium on one origin calls the demo API on another.

The API runs under gunicorn on a fresh migrated database with the demo
policies (``demo_setup``); the demo front end (``demo_frontend``) serves the
page from a second origin. Chromium loads the page, runs the cases and the
test reads the outcomes from the DOM; then the policies are changed through
the REST API and a retry must show the browser's new verdicts, with no
restart. The console messages Chromium prints are checked against the
wording the troubleshooting guide quotes (``tests/test_docs.py``).

``demo_setup`` itself is tested without a browser too: it must restore the demo
policies on every run and leave other policies alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest

from cors_admin import cache
from cors_admin.explain import explain
from cors_admin.models import CorsPolicy
from tests.browser import SCREENSHOTS, chromium
from tests.factories import policy_with_origins
from tests.servers import ROOT, Server, base_env, free_port, manage, run_server, server_database
from tests.test_docs import CHROMIUM_MESSAGES, CONSOLE_PREFIX

REFRESH_INTERVAL = 0.5
PARTNER = "https://partner.example.com"
DEFAULT_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
]


@dataclass
class Demo:
    database_url: str
    api: Server
    frontend_url: str
    token: str
    console: list[str] = field(default_factory=list)

    @property
    def api_base(self) -> str:
        # "localhost" like the front end: same site, different origins (see the demo page).
        return f"http://localhost:{self.api.port}"

    @property
    def frontend_origin(self) -> str:
        return self.frontend_url.rstrip("/")

    def api_call(self, method: str, path: str, data: Any = None) -> tuple[int, Any]:
        """The REST API, authenticated with the admin's DRF token."""
        body = None if data is None else json.dumps(data).encode()
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, _, payload = self.api.request(method, path, headers, body)
        return status, json.loads(payload) if payload else None

    def policy(self, name: str) -> dict[str, Any]:
        status, page = self.api_call("GET", "/api/cors/policies/")
        assert status == 200, page
        rows = page["results"] if isinstance(page, dict) else page
        return next(row for row in rows if row["name"] == name)

    def patch_policy(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        policy = self.policy(name)
        status, body = self.api_call("PATCH", f"/api/cors/policies/{policy['id']}/", changes)
        assert status == 200, body
        return body


@contextlib.contextmanager
def run_frontend(database_url: str, env: dict[str, str]) -> Iterator[str]:
    """``manage.py demo_frontend`` on a free port; yields its base URL (on ``localhost``)."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "demo_frontend", "--port", str(port), "--quiet"],
        cwd=ROOT,
        env={**base_env(database_url), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"demo_frontend exited early:\n{log.read().decode()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config.json", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    env = {"CORS_ADMIN_REFRESH_INTERVAL": str(REFRESH_INTERVAL)}
    with server_database() as url:
        with run_frontend(url, env) as frontend_url:
            origin = frontend_url.rstrip("/")
            out = manage(url, "demo_setup", "--frontend-origin", origin, "--password", "e2e")
            assert f"allows {origin}" in out
            token = re.search(r"Generated token (\w+)", manage(url, "drf_create_token", "admin"))
            assert token, "drf_create_token printed no token"
            with run_server(url, "gunicorn", env=env) as api:
                yield Demo(url, api, frontend_url, token.group(1))


def outcomes(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".case", "nodes => Object.fromEntries(nodes.map(n => [n.dataset.case, n.dataset.outcome]))"
    )


def run_cases(page: Any, runs: int) -> dict[str, str]:
    page.click("#run-all")
    page.wait_for_selector(f'body[data-runs="{runs}"][data-state="done"]', timeout=20_000)
    return outcomes(page)


def wait_for_console(console: list[str], expected: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while expected not in console:
        if time.monotonic() > deadline:
            joined = "\n".join(console)
            raise AssertionError(f"Chromium did not log:\n{expected}\nIt logged:\n{joined}")
        time.sleep(0.05)


def blocked_message(demo: Demo, path: str, key: str, **values: str) -> str:
    prefix = CONSOLE_PREFIX.format(url=demo.api_base + path, origin=demo.frontend_origin)
    return prefix + CHROMIUM_MESSAGES[key].format(**values)


def case_text(page: Any, case: str, selector: str) -> str:
    return page.inner_text(f'.case[data-case="{case}"] {selector}')


@pytest.mark.browser
@pytest.mark.server
def test_browser_obeys_the_allowlist_and_follows_api_edits(demo: Demo, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{demo.frontend_url}?autorun=0&api={demo.api_base}")
        assert page.inner_text("#page-origin") == demo.frontend_origin
        assert page.inner_text("#api-base") == demo.api_base

        # 1. The demo policies as loaded: the everyday cases pass, two are refused.
        assert run_cases(page, 1) == {
            "simple-get": "allowed",
            "preflight-post": "allowed",
            "credentials": "allowed",
            "exposed-header": "allowed",
            "custom-header": "blocked",
            "other-policy": "blocked",
        }
        assert "demo_session=demo-user" in case_text(page, "credentials", ".summary")
        assert "X-Request-Id is readable: demo-42" in case_text(page, "exposed-header", ".summary")
        assert "http://localhost" in case_text(page, "simple-get", ".sent")
        # cors_admin refuses the preflight with 403 and no CORS headers, so Chromium blames
        # the missing Access-Control-Allow-Origin of the preflight response.
        preflight_refused = blocked_message(demo, "/api/demo/hello/", "preflight-no-acao")
        partner_refused = blocked_message(demo, "/api/demo/partner/", "no-acao")
        wait_for_console(console, preflight_refused)
        wait_for_console(console, partner_refused)
        # The page predicts the console message from cors_admin's explanation: it must be right.
        assert case_text(page, "custom-header", ".console") == preflight_refused
        assert case_text(page, "other-policy", ".console") == partner_refused
        assert "not in the allowlist of policy 'demo-partner'" in case_text(
            page, "other-policy", ".reason"
        )
        assert "request header 'x-demo-token' is not allowed" in case_text(
            page, "custom-header", ".reason"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "demo.png"), full_page=True)

        # 2. Operators change the policies through the REST API; nothing is restarted.
        partner = demo.patch_policy("demo-partner", {"origins": [PARTNER, demo.frontend_origin]})
        assert partner["origins"] == sorted([PARTNER, demo.frontend_origin])
        api = demo.patch_policy(
            "demo-api",
            {
                "allow_headers": [*DEFAULT_HEADERS, "x-demo-token"],
                "allow_credentials": False,
                "expose_headers": [],
            },
        )
        assert api["allow_credentials"] is False
        time.sleep(REFRESH_INTERVAL + 0.2)  # every process sees it within the refresh interval
        console.clear()
        assert run_cases(page, 2) == {
            "simple-get": "allowed",
            "preflight-post": "allowed",
            "credentials": "blocked",
            "exposed-header": "partial",
            "custom-header": "allowed",
            "other-policy": "allowed",
        }
        assert "not listed in Access-Control-Expose-Headers" in case_text(
            page, "exposed-header", ".summary"
        )
        credentials_refused = blocked_message(demo, "/api/demo/login/", "credentials-missing")
        wait_for_console(console, credentials_refused)
        assert case_text(page, "credentials", ".console") == credentials_refused
        page.screenshot(path=str(SCREENSHOTS / "demo-after-api-edit.png"), full_page=True)
    finally:
        context.close()


class MisconfiguredServer(BaseHTTPRequestHandler):
    """CORS mistakes cors_admin never makes, so the guide's other messages can be checked too."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        origin = self.headers.get("Origin", "")
        if self.path == "/wildcard":
            self._send(200, [("Access-Control-Allow-Origin", "*")])
        elif self.path == "/multiple":
            self._send(200, [("Access-Control-Allow-Origin", f"{origin}, {PARTNER}")])
        elif self.path == "/twice":
            self._send(
                200,
                [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Origin", origin)],
            )
        elif self.path == "/other":
            self._send(200, [("Access-Control-Allow-Origin", PARTNER)])
        else:
            self._send(404, [])

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin", "")
        allow = [("Access-Control-Allow-Origin", origin)]
        if self.path == "/methods":
            self._send(204, [*allow, ("Access-Control-Allow-Methods", "GET, POST")])
        elif self.path == "/headers":
            self._send(204, [*allow, ("Access-Control-Allow-Headers", "content-type")])
        elif self.path == "/status":
            self._send(401, allow)
        elif self.path == "/redirect":
            self._send(301, [*allow, ("Location", "/elsewhere")])
        else:
            self._send(404, [])


@pytest.mark.browser
@pytest.mark.server
def test_console_messages_match_the_troubleshooting_guide(demo: Demo, browser: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), MisconfiguredServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://localhost:{server.server_address[1]}"
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    cases = [
        ("/wildcard", "{credentials: 'include'}", "wildcard-credentials", {}),
        ("/multiple", "{}", "multiple", {"values": f"{demo.frontend_origin}, {PARTNER}"}),
        ("/twice", "{}", "multiple", {"values": f"{demo.frontend_origin}, {demo.frontend_origin}"}),
        ("/other", "{}", "wrong-origin", {"value": PARTNER}),
        ("/methods", "{method: 'PATCH'}", "method", {"method": "PATCH"}),
        ("/headers", "{headers: {'X-Foo': '1'}}", "header", {"header": "x-foo"}),
        ("/status", "{method: 'PATCH'}", "preflight-status", {}),
        ("/redirect", "{method: 'PATCH'}", "preflight-redirect", {}),
    ]
    try:
        page.goto(f"{demo.frontend_url}?autorun=0&api={demo.api_base}")
        for path, init, key, values in cases:
            error = page.evaluate(
                f"fetch('{base}{path}', {init}).then(() => 'no error', e => String(e))"
            )
            assert error == "TypeError: Failed to fetch", (path, error)
            prefix = CONSOLE_PREFIX.format(url=base + path, origin=demo.frontend_origin)
            wait_for_console(console, prefix + CHROMIUM_MESSAGES[key].format(**values))
    finally:
        page.close()
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_demo_setup_restores_the_demo_policies_and_leaves_others_alone() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    front = "http://localhost:8001"
    other = policy_with_origins("https://app.example.com", name="not-a-demo", path="/api/")
    call_command("demo_setup", frontend_origin=[front], password="first", stdout=StringIO())
    demo_api = CorsPolicy.objects.get(name="demo-api")
    demo_api.allow_credentials = False
    demo_api.save()
    demo_api.origins.create(origin="https://added.example.com")
    CorsPolicy.objects.get(name="demo-partner").origins.create(origin=front)

    out = StringIO()
    call_command("demo_setup", frontend_origin=[front], password="second", stdout=out)
    assert "'demo-api' restored" in out.getvalue()
    assert "password 'second'" in out.getvalue()
    cache.reset()
    assert CorsPolicy.objects.count() == 3
    assert list(
        CorsPolicy.objects.get(name="demo-api").origins.values_list("origin", flat=True)
    ) == [front]
    assert explain(front, "/api/demo/hello/").headers == {
        "Access-Control-Allow-Origin": front,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-request-id",
        "Vary": "Origin",
    }
    refused = explain(front, "/api/demo/partner/")
    assert (refused.allowed, refused.policy) == (False, "demo-partner")
    assert not explain(front, "/api/demo/hello/", "GET", "x-demo-token").allowed
    assert list(other.origins.values_list("origin", flat=True)) == ["https://app.example.com"]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("second")
