"""Minimal Django settings for the in-process benchmarks (``benchmarks/run.py``).

Both cors_admin and django-cors-headers are installed here, only for the
benchmark. The database is a SQLite file chosen by ``CORS_ADMIN_BENCH_DB``
(``run.py`` creates a temporary one); the in-memory database is the fallback.

The refresh interval is long on purpose: the timed rounds must measure the
steady state (a snapshot lookup), not a revision check that happens to fall
inside a round. ``run.py`` measures the cost of one revision check, and the
queries made at the default 1 s interval, separately.
"""

import os

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "cors_admin",
    "corsheaders",
]
MIDDLEWARE: list[str] = []  # run.py wraps a view with each middleware by hand
ROOT_URLCONF = "benchmarks.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CORS_ADMIN_BENCH_DB", ":memory:"),
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CORS_ADMIN_REFRESH_INTERVAL = 3600.0

# django-cors-headers, configured like the benchmark's cors_admin policy "api"
# (run.py swaps CORS_ALLOWED_ORIGINS for the 1,000-origin variant).
CORS_ALLOWED_ORIGINS = [
    "https://app.example.com",
    "https://admin.example.com",
    "http://localhost:3000",
]
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_EXPOSE_HEADERS = ["X-Request-Id"]
CORS_PREFLIGHT_MAX_AGE = 600

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"cors_admin": {"handlers": ["console"], "level": "WARNING"}},
}
