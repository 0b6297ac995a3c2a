"""``manage.py cors_explain``: what the middleware does with a request, and why."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...explain import explain


class Command(BaseCommand):
    help = (
        "Explain the CORS decision for a request: the matching policy, allowed or not, the "
        "reason, and the exact headers the middleware sets. Uses the same engine and policy "
        "snapshot as the middleware."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            help="Origin header value, for example https://app.example.com (omit: no Origin).",
        )
        parser.add_argument("--path", required=True, help="Request path, for example /api/items/.")
        parser.add_argument(
            "--method",
            default="GET",
            help="Request method (default GET). A method other than GET/HEAD/POST, or --header, "
            "is explained as the preflight a browser sends for it; OPTIONS is a preflight itself.",
        )
        parser.add_argument(
            "--header",
            action="append",
            default=[],
            metavar="NAME",
            help="A request header the page sets (Access-Control-Request-Headers); repeatable, "
            "or comma-separated.",
        )
        parser.add_argument(
            "--request-method",
            help="Access-Control-Request-Method of an explicit OPTIONS preflight.",
        )
        parser.add_argument(
            "--private-network",
            action="store_true",
            help="Send Access-Control-Request-Private-Network: true.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        headers = ", ".join(h.strip() for h in options["header"] if h.strip()) or None
        result = explain(
            options["origin"],
            options["path"],
            options["method"],
            headers,
            request_method=options["request_method"],
            private_network=options["private_network"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, sort_keys=True))
            return
        verdict = "ALLOWED" if result.allowed else "NOT ALLOWED"
        style = self.style.SUCCESS if result.allowed else self.style.ERROR
        kind = "preflight" if result.preflight else "request"
        self.stdout.write(style(f"{verdict} ({kind})"))
        self.stdout.write(
            f"Policy:  {result.policy or '(none: no enabled policy covers the path)'}"
        )
        self.stdout.write(f"Reason:  {result.reason}")
        if result.status is not None:
            self.stdout.write(f"Status:  {result.status} (answered by the middleware)")
        if result.headers:
            self.stdout.write("Headers:")
            for name, value in result.headers.items():
                self.stdout.write(f"  {name}: {value}")
        else:
            self.stdout.write("Headers: (no CORS headers)")
