"""Serve only the demo front end (the API runs elsewhere, e.g. under gunicorn)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_project.demo.frontend_server import FrontendServer


class Command(BaseCommand):
    help = "Serve the demo front-end page on its own origin (default http://localhost:8001)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001, help="Port (default 8001).")
        parser.add_argument("--bind", default="127.0.0.1", help="Address (default 127.0.0.1).")
        parser.add_argument(
            "--api",
            default=None,
            help="Base URL of the demo API the page calls (default: the page's own host name "
            "on --api-port); the page's ?api= query parameter overrides both.",
        )
        parser.add_argument(
            "--api-port", type=int, default=8000, help="Port of the demo API (default 8000)."
        )
        parser.add_argument("--quiet", action="store_true", help="Do not log requests.")

    def handle(self, *args: Any, **options: Any) -> None:
        address = (options["bind"], options["port"])
        try:
            server = FrontendServer(
                address, options["api"], options["api_port"], quiet=options["quiet"]
            )
        except OSError as exc:
            raise CommandError(f"Cannot listen on {address[0]}:{address[1]}: {exc}") from None
        port = server.server_address[1]
        self.stdout.write(
            f"Demo front end on http://localhost:{port}/ calling the API at "
            f"{server.api_base_for(f'localhost:{port}')}"
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
