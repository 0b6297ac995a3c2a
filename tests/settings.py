"""Settings for the test suite: the example project's, with the database picked by env.

``CORS_ADMIN_TEST_DB=postgres`` runs on PostgreSQL (``CORS_ADMIN_TEST_PG_URL``,
default ``postgres://postgres@127.0.0.1:5432/postgres``); anything else on SQLite.
"""

import os

import environ

# The example settings refuse to start without SECRET_KEY when DEBUG is false.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")

from example_project.settings import *  # noqa: F403

_env = environ.Env()

if os.environ.get("CORS_ADMIN_TEST_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": _env.db_url_config(
            os.environ.get("CORS_ADMIN_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        )
    }
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("CORS_ADMIN_TEST_PG_NAME", "test_cors_admin")
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CORS_ADMIN_TEST_SQLITE", ":memory:"),
            "TEST": {"NAME": os.environ.get("CORS_ADMIN_TEST_SQLITE_TEST") or None},
        }
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CORS_ADMIN_REVISION_CACHE = None
DEBUG = False
