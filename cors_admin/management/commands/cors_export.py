"""``manage.py cors_export [--output FILE]``: every policy as JSON, ready for cors_import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...transfer import export_document


class Command(BaseCommand):
    help = (
        "Write every CORS policy (the REST API representation without ids and timestamps, "
        "sorted by name) as JSON, to stdout or --output FILE. Feed it to cors_import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="File to write (default: stdout).")
        parser.add_argument(
            "--indent", type=int, default=2, help="JSON indentation (default 2; 0: compact)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        document = export_document()
        indent = options["indent"] or None
        text = json.dumps(document, indent=indent, ensure_ascii=False, sort_keys=False) + "\n"
        output = options["output"]
        if output and output != "-":
            Path(output).write_text(text, encoding="utf-8")
            count = len(document["policies"])
            self.stderr.write(
                f"Exported {count} {'policy' if count == 1 else 'policies'} to {output}."
            )
        else:
            self.stdout.write(text, ending="")
