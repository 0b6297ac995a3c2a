"""Live, typed access to the ``CORS_ADMIN_*`` settings.

Every attribute reads ``django.conf.settings`` when it is first needed, never at
import time. Values are remembered until Django's ``setting_changed`` signal
says a ``CORS_ADMIN_*`` setting changed (``override_settings`` sends it), so the
request path does not pay for a ``getattr`` on a missing setting each time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

__all__ = ["DEFAULTS", "settings"]

#: Every setting the app reads, with its default.
DEFAULTS: dict[str, Any] = {
    # Seconds between two revision checks of one process (0: check on every request).
    "CORS_ADMIN_REFRESH_INTERVAL": 1.0,
    # Status of an allowed preflight answer: 204 (default) or 200.
    "CORS_ADMIN_PREFLIGHT_STATUS": 204,
    # Alias in CACHES holding the shared revision counter; None: a database row.
    "CORS_ADMIN_REVISION_CACHE": None,
    # Key of the revision counter in that cache.
    "CORS_ADMIN_REVISION_CACHE_KEY": "cors_admin:revision",
    # Seconds between two log records of the same refresh failure.
    "CORS_ADMIN_ERROR_LOG_INTERVAL": 60.0,
}


class _Settings:
    @property
    def REFRESH_INTERVAL(self) -> float:
        return float(self._get("CORS_ADMIN_REFRESH_INTERVAL"))

    @property
    def PREFLIGHT_STATUS(self) -> int:
        return int(self._get("CORS_ADMIN_PREFLIGHT_STATUS"))

    @property
    def REVISION_CACHE(self) -> str | None:
        value = self._get("CORS_ADMIN_REVISION_CACHE")
        return None if value is None else str(value)

    @property
    def REVISION_CACHE_KEY(self) -> str:
        return str(self._get("CORS_ADMIN_REVISION_CACHE_KEY"))

    @property
    def ERROR_LOG_INTERVAL(self) -> float:
        return float(self._get("CORS_ADMIN_ERROR_LOG_INTERVAL"))

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _get(self, name: str) -> Any:
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = getattr(django_settings, name, DEFAULTS[name])
            return value

    def reload(self) -> None:
        """Forget remembered values (called when a ``CORS_ADMIN_*`` setting changes)."""
        self._cache.clear()

    def raw(self, name: str) -> Any:
        """The setting as configured (no conversion), for the system checks."""
        return getattr(django_settings, name, DEFAULTS[name])


settings = _Settings()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CORS_ADMIN_"):
        settings.reload()


setting_changed.connect(_on_setting_changed, dispatch_uid="cors_admin_conf_reload")
