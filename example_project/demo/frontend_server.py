"""The demo front end: a static page on its own origin, plus a same-origin explain endpoint.

The page (``frontend/index.html``) calls the demo API on another origin. To
show *why* the browser allowed or blocked a call, it also asks this server's
``/explain`` endpoint, which runs :func:`cors_admin.explain.explain` — the
evaluation the middleware makes — against the same database. That endpoint
is same-origin for the page, so it is never subject to CORS itself.
"""

from __future__ import annotations

import json
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import connections

from cors_admin.explain import explain

FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"


class FrontendHandler(SimpleHTTPRequestHandler):
    server: FrontendServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(FRONTEND_DIR), **kwargs)

    def do_GET(self) -> None:
        route = urlsplit(self.path).path
        if route == "/explain":
            self._explain()
        elif route == "/config.json":
            self._json(HTTPStatus.OK, {"api": self.server.api_base_for(self.headers.get("Host"))})
        else:
            super().do_GET()

    def end_headers(self) -> None:
        # The page is edited while the demo runs; never let the browser serve a stale copy.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"[front end] {self.address_string()} - {format % args}\n")

    def _explain(self) -> None:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        path = query.get("path", "")
        if not path.startswith("/"):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "give path=/api/..."})
            return
        try:
            result = explain(
                query.get("origin") or None,
                path,
                query.get("method", "GET"),
                query.get("headers") or None,
            )
            self._json(HTTPStatus.OK, result.as_dict())
        finally:
            # Each request runs in its own thread: close the connection it opened.
            connections.close_all()

    def _json(self, status: HTTPStatus, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FrontendServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        api_base: str | None = None,
        api_port: int = 8000,
        quiet: bool = False,
    ) -> None:
        super().__init__(address, FrontendHandler)
        self.api_base = api_base.rstrip("/") if api_base else None
        self.api_port = api_port
        self.quiet = quiet

    def api_base_for(self, host_header: str | None) -> str:
        """The API the page calls: the fixed base, else the page's own host name on the API port.

        Keeping the host name the page was opened with (``localhost`` or ``127.0.0.1``)
        keeps page and API on the same *site*, so the demo cookie travels.
        """
        if self.api_base:
            return self.api_base
        host = urlsplit(f"//{host_header or 'localhost'}").hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"


def start_in_thread(server: Any) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
