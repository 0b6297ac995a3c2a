"""The example project: configured from the environment, checks pass, serves under gunicorn and
uvicorn with the app's middleware applying a stored policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.servers import ROOT, header_values, run_python, run_server, server_database

SETTINGS_VARS = ("DATABASE_URL", "CACHE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")

PRINT_SETTINGS = """
import json
import django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
    "port": str(db.get("PORT")), "user": db.get("USER"),
    "cache_backend": settings.CACHES["default"]["BACKEND"],
    "cache_location": str(settings.CACHES["default"].get("LOCATION")),
    "secret_key": settings.SECRET_KEY, "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def example_env(**values: str) -> dict[str, str]:
    """The current environment without any variable the example settings read, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SETTINGS_VARS and not k.startswith(("DJANGO_", "CORS_ADMIN_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", PYTHONPATH=str(ROOT))
    env.update(values)
    return env


def run_example(code: str, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=example_env(**values),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def example_settings(**values: str) -> dict[str, object]:
    result = run_example(PRINT_SETTINGS, **values)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_settings_come_from_the_environment() -> None:
    values = example_settings(
        DATABASE_URL="postgres://alice:s3cret@db.internal:5433/cors",
        CACHE_URL="redis://127.0.0.1:6379/3",
        SECRET_KEY="from-the-environment",
        DEBUG="false",
        ALLOWED_HOSTS="api.example.com,.example.org",
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert (values["name"], values["host"], values["port"], values["user"]) == (
        "cors",
        "db.internal",
        "5433",
        "alice",
    )
    assert values["cache_backend"] == "django.core.cache.backends.redis.RedisCache"
    assert values["cache_location"] == "redis://127.0.0.1:6379/3"
    assert values["secret_key"] == "from-the-environment"
    assert values["debug"] is False
    assert values["allowed_hosts"] == ["api.example.com", ".example.org"]


def test_defaults_are_a_sqlite_file_beside_manage_py_and_local_memory_cache() -> None:
    values = example_settings(DEBUG="true")
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(ROOT / "db.sqlite3")
    assert values["cache_backend"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["debug"] is True
    assert "127.0.0.1" in values["allowed_hosts"]  # type: ignore[operator]


def test_debug_without_secret_key_uses_a_development_key() -> None:
    if (ROOT / ".env").exists():
        pytest.skip(".env exists in the checkout and may set SECRET_KEY; cannot test the default")
    values = example_settings(DEBUG="true")
    assert str(values["secret_key"]).startswith("django-insecure-")


def test_production_without_secret_key_refuses_to_start() -> None:
    if (ROOT / ".env").exists():
        pytest.skip(".env exists in the checkout and may set SECRET_KEY; cannot test its absence")
    result = run_example(PRINT_SETTINGS, DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_manage_py_check_passes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        env=example_env(
            SECRET_KEY="check", DEBUG="false", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3"
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_cors_middleware_sits_above_common_middleware() -> None:
    middleware = list(settings.MIDDLEWARE)
    cors = middleware.index("cors_admin.middleware.CorsAdminMiddleware")
    assert cors < middleware.index("django.middleware.common.CommonMiddleware")
    # Nothing that can answer or redirect a preflight before the middleware sees it.
    assert middleware[:cors] == ["django.middleware.security.SecurityMiddleware"]


def test_installed_apps_and_api_mount() -> None:
    from django.urls import reverse

    assert "cors_admin" in settings.INSTALLED_APPS
    assert "rest_framework" in settings.INSTALLED_APPS
    assert settings.ROOT_URLCONF == "example_project.urls"
    assert reverse("schema") == "/api/schema/"


DEMO_POLICY = """
from cors_admin.models import CorsOrigin, CorsPolicy
policy = CorsPolicy(name="demo-api", path="/api/demo/", allow_credentials=True,
                    expose_headers=["X-Request-Id"])
policy.full_clean()
policy.save()
for origin in ["http://localhost:8001", "http://127.0.0.1:8001"]:
    entry = CorsOrigin(policy=policy, origin=origin)
    entry.full_clean()
    entry.save()
print("ok")
"""


@pytest.fixture(scope="module")
def demo_database() -> Iterator[str]:
    with server_database() as url:
        assert run_python(url, DEMO_POLICY).splitlines()[-1] == "ok"
        yield url


@pytest.mark.server
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_example_project_serves_admin_and_cors_under(kind: str, demo_database: str) -> None:
    with run_server(demo_database, kind=kind) as server:
        status, headers, body = server.request("GET", "/admin/login/")
        assert status == 200, server.log()
        assert b"Django administration" in body
        assert header_values(headers, "Access-Control-Allow-Origin") == []

        status, headers, body = server.request(
            "GET", "/api/demo/hello/", {"Origin": "http://localhost:8001"}
        )
        assert status == 200, server.log()
        assert json.loads(body)["message"] == "Hello from the demo API"
        assert header_values(headers, "Access-Control-Allow-Origin") == ["http://localhost:8001"]
        assert header_values(headers, "Access-Control-Allow-Credentials") == ["true"]
        # Header names are case-insensitive; the policy stores them normalized.
        expose = header_values(headers, "Access-Control-Expose-Headers")
        assert [v.lower() for v in expose] == ["x-request-id"]
        assert "Origin" in ", ".join(header_values(headers, "Vary"))

        status, headers, body = server.request(
            "OPTIONS",
            "/api/demo/echo/",
            {
                "Origin": "http://127.0.0.1:8001",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert (status, body) == (204, b""), server.log()
        assert header_values(headers, "Access-Control-Allow-Origin") == ["http://127.0.0.1:8001"]
        assert "POST" in header_values(headers, "Access-Control-Allow-Methods")[0].split(", ")

        status, headers, _ = server.request(
            "GET", "/api/demo/hello/", {"Origin": "https://evil.example"}
        )
        assert status == 200
        assert header_values(headers, "Access-Control-Allow-Origin") == []
        assert header_values(headers, "Access-Control-Allow-Credentials") == []
