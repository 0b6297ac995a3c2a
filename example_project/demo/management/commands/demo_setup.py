"""Load the demo policies and an admin login; safe to run again (idempotent).

The demo policies are put back into their starting state every time, so a
second ``make demo`` starts from the page's documented results. Policies
with other names are never touched.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from cors_admin.engine import DEFAULT_HEADERS, DEFAULT_METHODS
from cors_admin.models import CorsOrigin, CorsPolicy
from cors_admin.validation import normalize_origin

#: The demo front end, by both of the names a newcomer may type (each is its own origin).
DEFAULT_FRONTEND_ORIGINS = ["http://localhost:8001", "http://127.0.0.1:8001"]
PASSWORD_FILE_NAME = ".demo-admin-password"
PARTNER_ORIGIN = "https://partner.example.com"


@dataclass
class DemoPolicy:
    name: str
    fields: dict[str, Any]
    origins: list[tuple[str, str]] = field(default_factory=list)


def demo_policies(frontend_origins: list[str]) -> list[DemoPolicy]:
    """The demo's policies, allowing ``frontend_origins`` where the demo page expects it."""
    return [
        DemoPolicy(
            name="demo-api",
            fields={
                "description": (
                    "The demo API under /api/demo/. Allows the demo front end with cookies "
                    "and lets it read X-Request-Id. max_age 0 makes the browser ask again "
                    "on every Retry, so edits show at once (Chromium would otherwise cache "
                    "an allowed preflight for 5 seconds)."
                ),
                "path": "/api/demo/",
                "path_type": "prefix",
                "priority": 100,
                "enabled": True,
                "allow_all_origins": False,
                "allow_credentials": True,
                "allow_methods": list(DEFAULT_METHODS),
                "allow_headers": list(DEFAULT_HEADERS),
                "expose_headers": ["x-request-id"],
                "max_age": 0,
                "allow_private_network": False,
            },
            origins=[(o, "the demo front end (manage.py demo_run)") for o in frontend_origins],
        ),
        DemoPolicy(
            name="demo-partner",
            fields={
                "description": (
                    "Only /api/demo/partner/: a partner's site may read it, the demo front "
                    "end may not (yet). Add the front end's origin here to see the demo "
                    "page's last case turn green."
                ),
                "path": "/api/demo/partner/",
                "path_type": "prefix",
                "priority": 100,
                "enabled": True,
                "allow_all_origins": False,
                "allow_credentials": False,
                "allow_methods": ["GET", "HEAD", "OPTIONS"],
                "allow_headers": ["accept", "content-type"],
                "expose_headers": [],
                "max_age": 0,
                "allow_private_network": False,
            },
            origins=[(PARTNER_ORIGIN, "a partner's site; the demo front end is not listed")],
        ),
    ]


class Command(BaseCommand):
    help = (
        "Create (or restore) the demo CORS policies 'demo-api' and 'demo-partner' and an "
        "admin superuser for the local demo. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--frontend-origin",
            action="append",
            dest="frontend_origins",
            metavar="ORIGIN",
            help="Origin of the demo front end to allow; repeat for several "
            f"(default: {' and '.join(DEFAULT_FRONTEND_ORIGINS)}).",
        )
        parser.add_argument("--username", default="admin", help="Admin user name (admin).")
        parser.add_argument(
            "--password",
            default=None,
            help="Admin password. Default: $DEMO_ADMIN_PASSWORD, else the one kept in "
            f"{PASSWORD_FILE_NAME} beside manage.py (a random one is created on the first run).",
        )
        parser.add_argument(
            "--no-admin", action="store_true", help="Do not create or update the admin user."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        frontends: list[str] = []
        for value in options["frontend_origins"] or DEFAULT_FRONTEND_ORIGINS:
            try:
                origin = normalize_origin(value)
            except ValidationError as exc:
                raise CommandError(f"--frontend-origin {value!r}: {exc.messages[0]}") from None
            if origin not in frontends:
                frontends.append(origin)
        with transaction.atomic():
            for demo in demo_policies(frontends):
                created = self._put(demo)
                origins = ", ".join(o for o, _ in demo.origins)
                verb = "created" if created else "restored"
                self.stdout.write(
                    f"Policy {demo.name!r} {verb}: {demo.fields['path']} allows {origins}"
                )
            if not options["no_admin"]:
                self._admin(options["username"], options["password"] or admin_password())

    def _put(self, demo: DemoPolicy) -> bool:
        policy = CorsPolicy.objects.filter(name=demo.name).first()
        created = policy is None
        if policy is None:
            policy = CorsPolicy(name=demo.name)
        for name, value in demo.fields.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.save()
        wanted = dict(demo.origins)
        policy.origins.exclude(origin__in=list(wanted)).delete()
        existing = {o.origin: o for o in policy.origins.all()}
        for origin, note in wanted.items():
            entry = existing.get(origin) or CorsOrigin(policy=policy, origin=origin)
            entry.note = note
            entry.expires_at = None
            entry.full_clean()
            entry.save()
        return created

    def _admin(self, username: str, password: str) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(username=username).first()
        if user is None:
            user = user_model(username=username, email=f"{username}@example.com")
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"Admin login: user {username!r}, password {password!r}")


def admin_password() -> str:
    """$DEMO_ADMIN_PASSWORD, else the stored demo password, else a new random one (stored)."""
    from_env = os.environ.get("DEMO_ADMIN_PASSWORD")
    if from_env:
        return from_env
    path = Path(getattr(settings, "BASE_DIR", Path.cwd())) / PASSWORD_FILE_NAME
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password
