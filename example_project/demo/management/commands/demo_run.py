"""Run the whole demo: the API on one origin, the front end on another; Ctrl-C stops both."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)

from example_project.demo.frontend_server import FrontendServer, start_in_thread

from .demo_setup import admin_password


class Command(BaseCommand):
    help = (
        "Migrate, load the demo policies (demo_setup), then serve the demo API on "
        "http://localhost:8000 and the demo front end on http://localhost:8001 "
        "until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--api-port", type=int, default=8000, help="API port (8000).")
        parser.add_argument(
            "--frontend-port", type=int, default=8001, help="Front-end port (8001)."
        )
        parser.add_argument(
            "--bind", default="127.0.0.1", help="Address both servers listen on (127.0.0.1)."
        )
        parser.add_argument(
            "--no-setup",
            action="store_true",
            help="Skip migrate and demo_setup: keep the policies as they are.",
        )
        parser.add_argument("--password", default=None, help="Admin password for demo_setup.")

    def handle(self, *args: Any, **options: Any) -> None:
        api_port = options["api_port"]
        frontend_port = options["frontend_port"]
        bind = options["bind"]
        password = "(unchanged: see demo_setup)"
        if not options["no_setup"]:
            call_command("migrate", interactive=False, verbosity=0)
            password = options["password"] or admin_password()
            call_command(
                "demo_setup",
                frontend_origin=[
                    f"http://localhost:{frontend_port}",
                    f"http://127.0.0.1:{frontend_port}",
                ],
                password=password,
                stdout=self.stdout,
            )

        try:
            api = ThreadedWSGIServer((bind, api_port), WSGIRequestHandler)
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {bind}:{api_port} ({exc}); stop the other server or pass "
                "--api-port."
            ) from None
        # Like runserver: serve the admin's static files too, even with DEBUG off.
        api.set_app(StaticFilesHandler(get_internal_wsgi_application()))
        try:
            frontend = FrontendServer((bind, frontend_port), api_port=api_port)
        except OSError as exc:
            api.server_close()
            raise CommandError(
                f"Cannot listen on {bind}:{frontend_port} ({exc}); stop the other server or "
                "pass --frontend-port."
            ) from None

        start_in_thread(api)
        start_in_thread(frontend)
        front = f"http://localhost:{frontend_port}"
        back = f"http://localhost:{api_port}"
        line = "=" * 76
        self.stdout.write(
            "\n".join(
                [
                    line,
                    "The cors_admin demo is running. Open the front end in your browser:",
                    "",
                    f"    {front}/",
                    "",
                    f"  Demo API (another origin): {back}/api/demo/hello/",
                    f"  Admin:                     {back}/admin/cors_admin/corspolicy/",
                    f"  Login:                     admin / {password}",
                    "",
                    "  Edit the allowlist in the admin, press Retry on the page: no restart.",
                    "  Ctrl-C stops both servers.",
                    line,
                ]
            )
        )
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo servers.")
        finally:
            for server in (frontend, api):
                server.shutdown()
                server.server_close()
