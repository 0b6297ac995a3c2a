"""The example project's settings with the CORS middleware picked by an env variable.

Used by ``benchmarks/run.py`` for the full-stack (gunicorn) runs, so the
example project's own settings stay untouched:

* ``CORS_ADMIN_BENCH_MIDDLEWARE=cors_admin`` (default): exactly the example project.
* ``CORS_ADMIN_BENCH_MIDDLEWARE=none``: the same without ``CorsAdminMiddleware``.
* ``CORS_ADMIN_BENCH_MIDDLEWARE=corsheaders``: django-cors-headers in its place,
  configured like the benchmark's cors_admin policy.
* ``CORS_ADMIN_BENCH_MIDDLEWARE=floor``: ``benchmarks.floor.FloorMiddleware`` in its place
  (echoes Origin into Access-Control-Allow-Origin and sets Vary, checks nothing).
"""

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import INSTALLED_APPS, MIDDLEWARE

_OURS = "cors_admin.middleware.CorsAdminMiddleware"
BENCH_MIDDLEWARE = os.environ.get("CORS_ADMIN_BENCH_MIDDLEWARE", "cors_admin")
if BENCH_MIDDLEWARE not in ("cors_admin", "none", "corsheaders", "floor"):
    raise ValueError(f"CORS_ADMIN_BENCH_MIDDLEWARE={BENCH_MIDDLEWARE!r}")

if BENCH_MIDDLEWARE != "cors_admin":
    _index = MIDDLEWARE.index(_OURS)
    MIDDLEWARE = [m for m in MIDDLEWARE if m != _OURS]
    if BENCH_MIDDLEWARE == "floor":
        MIDDLEWARE.insert(_index, "benchmarks.floor.FloorMiddleware")
    if BENCH_MIDDLEWARE == "corsheaders":
        INSTALLED_APPS = [*INSTALLED_APPS, "corsheaders"]
        MIDDLEWARE.insert(_index, "corsheaders.middleware.CorsMiddleware")
        CORS_ALLOWED_ORIGINS = [
            "https://app.example.com",
            "https://admin.example.com",
            "http://localhost:3000",
        ]
        CORS_URLS_REGEX = r"^/api/demo/.*$"
        CORS_ALLOW_CREDENTIALS = True
        CORS_EXPOSE_HEADERS = ["X-Request-Id"]
        CORS_PREFLIGHT_MAX_AGE = 600
