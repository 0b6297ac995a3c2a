"""System checks with stable ids (``cors_admin.E001`` ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import Error, Tags, Warning, register

from .conf import settings

MIDDLEWARE_PATH = "cors_admin.middleware.CorsAdminMiddleware"

#: Middleware that can answer or redirect a request before the view: ours must come first,
#: or preflights get redirected (browsers refuse that) or answered without CORS headers.
SHORT_CIRCUITING_MIDDLEWARE = (
    "django.middleware.common.CommonMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.contrib.redirects.middleware.RedirectFallbackMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
    "django.middleware.cache.CacheMiddleware",
)

CORS_HEADERS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"


@register(Tags.compatibility)
def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or [])
    errors: list[Any] = []
    if MIDDLEWARE_PATH not in middleware:
        return [
            Error(
                f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE, so no CORS policy is applied.",
                hint="Add it near the top of MIDDLEWARE, before CommonMiddleware.",
                id="cors_admin.E001",
            )
        ]
    position = middleware.index(MIDDLEWARE_PATH)
    for earlier in middleware[:position]:
        if earlier in SHORT_CIRCUITING_MIDDLEWARE:
            errors.append(
                Error(
                    f"'{MIDDLEWARE_PATH}' comes after '{earlier}', which can answer or redirect "
                    "a request first: preflights would be redirected or miss their CORS headers.",
                    hint=f"Move '{MIDDLEWARE_PATH}' above '{earlier}' in MIDDLEWARE.",
                    id="cors_admin.E002",
                )
            )
    if CORS_HEADERS_MIDDLEWARE in middleware:
        errors.append(
            Error(
                "django-cors-headers' CorsMiddleware is installed too: both would add CORS "
                "headers, and browsers reject two Access-Control-Allow-Origin values.",
                hint=f"Remove '{CORS_HEADERS_MIDDLEWARE}' (run 'manage.py cors_import_settings' "
                "to carry its settings over).",
                id="cors_admin.E003",
            )
        )
    return errors


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    interval = settings.raw("CORS_ADMIN_REFRESH_INTERVAL")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        errors.append(
            Error(
                "CORS_ADMIN_REFRESH_INTERVAL must be a number of seconds, 0 or more; "
                f"got {interval!r}.",
                id="cors_admin.E004",
            )
        )
    status = settings.raw("CORS_ADMIN_PREFLIGHT_STATUS")
    if status not in (200, 204) or isinstance(status, bool):
        errors.append(
            Error(
                f"CORS_ADMIN_PREFLIGHT_STATUS must be 204 or 200; got {status!r}.",
                id="cors_admin.E005",
            )
        )
    alias = settings.raw("CORS_ADMIN_REVISION_CACHE")
    caches = getattr(django_settings, "CACHES", {}) or {}
    if alias is not None:
        if not isinstance(alias, str) or alias not in caches:
            errors.append(
                Error(
                    f"CORS_ADMIN_REVISION_CACHE must be None or an alias in CACHES; got {alias!r}.",
                    hint=f"Known aliases: {', '.join(sorted(caches)) or 'none'}.",
                    id="cors_admin.E006",
                )
            )
        else:
            backend = str(caches[alias].get("BACKEND", ""))
            if backend.endswith(("LocMemCache", "DummyCache")):
                errors.append(
                    Warning(
                        f"CORS_ADMIN_REVISION_CACHE uses '{alias}' ({backend}), which other "
                        "processes cannot see: edits would reach only the worker that made them.",
                        hint="Use a shared cache (Redis, Memcached, database cache) or set "
                        "CORS_ADMIN_REVISION_CACHE = None to use the database.",
                        id="cors_admin.W001",
                    )
                )
    key = settings.raw("CORS_ADMIN_REVISION_CACHE_KEY")
    if not isinstance(key, str) or not key:
        errors.append(
            Error(
                f"CORS_ADMIN_REVISION_CACHE_KEY must be a non-empty string; got {key!r}.",
                id="cors_admin.E007",
            )
        )
    log_interval = settings.raw("CORS_ADMIN_ERROR_LOG_INTERVAL")
    if (
        isinstance(log_interval, bool)
        or not isinstance(log_interval, (int, float))
        or log_interval < 0
    ):
        errors.append(
            Error(
                f"CORS_ADMIN_ERROR_LOG_INTERVAL must be a number of seconds, 0 or more; "
                f"got {log_interval!r}.",
                id="cors_admin.E008",
            )
        )
    return errors
