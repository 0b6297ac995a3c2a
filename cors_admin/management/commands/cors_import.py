"""``manage.py cors_import FILE [--dry-run]``: create/update policies from cors_export JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...transfer import ImportFailed, import_policies, policies_from_document


class Command(BaseCommand):
    help = (
        "Import CORS policies from a JSON file written by cors_export ('-' reads stdin). "
        "Idempotent by policy name: creates missing policies, updates those that differ, leaves "
        "equal ones alone. Everything is validated before anything is written; all writes happen "
        "in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON file from cors_export, or '-' for stdin.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would change; write nothing.",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Also delete the stored policies whose names are not in the file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "nothing was imported."
            ) from None
        try:
            items = policies_from_document(document)
            result = import_policies(items, dry_run=options["dry_run"], prune=options["prune"])
        except ImportFailed as exc:
            for label, errors in exc.errors.items():
                self.stderr.write(f"{label}: {json.dumps(errors, ensure_ascii=False)}")
            raise CommandError(str(exc)) from None

        verbosity = options["verbosity"]
        if verbosity >= 2:
            for title, names in (
                ("created", result.created),
                ("updated", result.updated),
                ("deleted", result.deleted),
                ("unchanged", result.unchanged if verbosity >= 3 else []),
            ):
                for name in names:
                    self.stdout.write(f"  {title}: {name}")
        prefix = "Dry run, nothing written: " if result.dry_run else "Imported: "
        self.stdout.write(
            self.style.SUCCESS(f"{prefix}{result.summary()} ({result.seconds:.2f} s).")
        )
