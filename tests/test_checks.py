"""System checks: stable ids for misplaced middleware and bad settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

from cors_admin.checks import check_middleware, check_settings
from cors_admin.conf import DEFAULTS

OURS = "cors_admin.middleware.CorsAdminMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
CORSHEADERS = "corsheaders.middleware.CorsMiddleware"


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def cors_ids() -> list[str]:
    """What ``manage.py check`` reports for this app, through Django's registry.

    ``databases=[]``: no database checks, as Django 5.2 does by default; Django 6.1 would
    otherwise check every connection and need database access.
    """
    checked = run_checks(databases=[])
    return sorted(m.id for m in checked if m.id and m.id.startswith("cors_admin."))


def test_the_test_settings_pass() -> None:
    assert check_middleware() == []
    assert check_settings() == []
    assert cors_ids() == []


@override_settings(MIDDLEWARE=[SECURITY, SESSION, COMMON])
def test_e001_middleware_missing() -> None:
    messages = check_middleware()
    assert ids(messages) == ["cors_admin.E001"]
    assert OURS in messages[0].msg
    assert "before CommonMiddleware" in messages[0].hint
    assert cors_ids() == ["cors_admin.E001"]


@pytest.mark.parametrize(
    "earlier",
    [
        COMMON,
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.cache.FetchFromCacheMiddleware",
        "django.middleware.cache.CacheMiddleware",
    ],
)
def test_e002_middleware_after_short_circuiting_middleware(earlier: str) -> None:
    with override_settings(MIDDLEWARE=[SECURITY, earlier, OURS, SESSION]):
        messages = check_middleware()
        assert ids(messages) == ["cors_admin.E002"]
        assert earlier in messages[0].msg
        assert cors_ids() == ["cors_admin.E002"]
    with override_settings(MIDDLEWARE=[SECURITY, OURS, earlier, SESSION]):
        assert check_middleware() == []


@override_settings(MIDDLEWARE=[SECURITY, OURS, SESSION, COMMON, CORSHEADERS])
def test_e003_django_cors_headers_middleware_installed() -> None:
    messages = check_middleware()
    assert ids(messages) == ["cors_admin.E003"]
    assert "Access-Control-Allow-Origin" in messages[0].msg
    assert cors_ids() == ["cors_admin.E003"]


def test_corsheaders_app_without_its_middleware_is_fine() -> None:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "corsheaders"]):
        assert check_middleware() == []


SETTING_CASES = [
    ("CORS_ADMIN_REFRESH_INTERVAL", "1", "cors_admin.E004"),
    ("CORS_ADMIN_REFRESH_INTERVAL", -1, "cors_admin.E004"),
    ("CORS_ADMIN_REFRESH_INTERVAL", True, "cors_admin.E004"),
    ("CORS_ADMIN_REFRESH_INTERVAL", None, "cors_admin.E004"),
    ("CORS_ADMIN_PREFLIGHT_STATUS", 302, "cors_admin.E005"),
    ("CORS_ADMIN_PREFLIGHT_STATUS", "204", "cors_admin.E005"),
    ("CORS_ADMIN_PREFLIGHT_STATUS", True, "cors_admin.E005"),
    ("CORS_ADMIN_PREFLIGHT_STATUS", None, "cors_admin.E005"),
    ("CORS_ADMIN_REVISION_CACHE", "no-such-alias", "cors_admin.E006"),
    ("CORS_ADMIN_REVISION_CACHE", 5, "cors_admin.E006"),
    ("CORS_ADMIN_REVISION_CACHE_KEY", "", "cors_admin.E007"),
    ("CORS_ADMIN_REVISION_CACHE_KEY", 5, "cors_admin.E007"),
    ("CORS_ADMIN_REVISION_CACHE_KEY", None, "cors_admin.E007"),
    ("CORS_ADMIN_ERROR_LOG_INTERVAL", "60", "cors_admin.E008"),
    ("CORS_ADMIN_ERROR_LOG_INTERVAL", -0.5, "cors_admin.E008"),
    ("CORS_ADMIN_ERROR_LOG_INTERVAL", False, "cors_admin.E008"),
]


@pytest.mark.parametrize(("name", "value", "check_id"), SETTING_CASES)
def test_bad_setting_types(name: str, value: Any, check_id: str) -> None:
    with override_settings(**{name: value}):
        messages = check_settings()
        assert ids(messages) == [check_id]
        assert name in messages[0].msg
        assert repr(value) in messages[0].msg
        assert cors_ids() == [check_id]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CORS_ADMIN_REFRESH_INTERVAL", 0),
        ("CORS_ADMIN_REFRESH_INTERVAL", 2.5),
        ("CORS_ADMIN_PREFLIGHT_STATUS", 200),
        ("CORS_ADMIN_PREFLIGHT_STATUS", 204),
        ("CORS_ADMIN_REVISION_CACHE", None),
        ("CORS_ADMIN_REVISION_CACHE_KEY", "myproject:cors"),
        ("CORS_ADMIN_ERROR_LOG_INTERVAL", 0),
    ],
)
def test_good_setting_values(name: str, value: Any) -> None:
    with override_settings(**{name: value}):
        assert check_settings() == []


def test_unset_settings_use_their_defaults() -> None:
    with override_settings():
        for name in DEFAULTS:
            if hasattr(settings, name):
                delattr(settings, name)
        assert check_settings() == []


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    ],
)
def test_w001_revision_cache_other_processes_cannot_see(backend: str) -> None:
    caches = {"default": {"BACKEND": backend}, "shared": {"BACKEND": backend}}
    with override_settings(CACHES=caches, CORS_ADMIN_REVISION_CACHE="shared"):
        messages = check_settings()
        assert ids(messages) == ["cors_admin.W001"]
        assert messages[0].level < 40  # a warning, not an error
        assert "'shared'" in messages[0].msg


def test_shared_revision_cache_is_fine() -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
        },
    }
    with override_settings(CACHES=caches, CORS_ADMIN_REVISION_CACHE="shared"):
        assert check_settings() == []
