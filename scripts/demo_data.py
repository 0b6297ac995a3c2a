#!/usr/bin/env python
"""Load the demo's data into the example project's database; safe to run again.

- policy ``demo-api``: prefix ``/api/demo/``, origins ``http://localhost:8001`` and
  ``http://127.0.0.1:8001`` (the demo front end), credentials on, ``X-Request-Id`` exposed;
- a superuser ``admin`` whose password is printed at the end. The password comes from
  ``DEMO_ADMIN_PASSWORD``, else from ``.demo-admin-password`` (created on the first run
  with a random one), so ``make demo`` prints the same login every time.

Run from the repository root with the example project's environment, e.g.
``DEBUG=true .venv/bin/python scripts/demo_data.py``.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_FILE = ROOT / ".demo-admin-password"
DEMO_ORIGINS = ["http://localhost:8001", "http://127.0.0.1:8001"]


def admin_password() -> str:
    from_env = os.environ.get("DEMO_ADMIN_PASSWORD")
    if from_env:
        return from_env
    if PASSWORD_FILE.exists():
        stored = PASSWORD_FILE.read_text().strip()
        if stored:
            return stored
    password = secrets.token_urlsafe(12)
    PASSWORD_FILE.write_text(password + "\n")
    PASSWORD_FILE.chmod(0o600)
    return password


def load_policy() -> None:
    from django.db import transaction

    from cors_admin.models import CorsOrigin, CorsPolicy

    with transaction.atomic():
        policy = CorsPolicy.objects.filter(name="demo-api").first() or CorsPolicy(name="demo-api")
        policy.description = (
            "The demo API, called by the demo front end on port 8001. "
            "Edit the origins below and watch the browser's requests succeed or fail."
        )
        policy.path = "/api/demo/"
        policy.path_type = "prefix"
        policy.enabled = True
        policy.allow_all_origins = False
        policy.allow_credentials = True
        policy.expose_headers = ["X-Request-Id"]
        policy.full_clean()
        policy.save()
        for origin in DEMO_ORIGINS:
            entry = CorsOrigin.objects.filter(policy=policy, origin=origin).first()
            if entry is None:
                entry = CorsOrigin(policy=policy, origin=origin, note="demo front end")
                entry.full_clean()
                entry.save()
    print(
        f"Demo policy '{policy.name}': {policy.path} allows "
        f"{', '.join(policy.origins.values_list('origin', flat=True))} (credentials on)"
    )


def load_admin(password: str) -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user = user_model.objects.filter(username="admin").first()
    if user is None:
        user_model.objects.create_superuser("admin", "admin@example.com", password)
    else:
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    import django

    django.setup()
    load_policy()
    password = admin_password()
    load_admin(password)
    host = os.environ.get("DEMO_HOST", "127.0.0.1")
    port = os.environ.get("DEMO_PORT", "8000")
    print()
    print(f"  Admin:    http://{host}:{port}/admin/")
    print("  Username: admin")
    print(f"  Password: {password}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
