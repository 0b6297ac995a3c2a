#!/usr/bin/env bash
# Is the PostgreSQL server the tests use reachable? Exit 0 if so.
#
# Otherwise print "SKIPPED: PostgreSQL not available ..." and exit 1 under CI=true
# (CI has PostgreSQL, so its absence is a failure) or 2 on a developer machine
# (the caller treats 2 as "skip this run").
set -uo pipefail

url=${CORS_ADMIN_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
python=${1:-.venv/bin/python}

if "$python" - "$url" <<'PY' >/dev/null 2>&1; then
import sys

import psycopg

url = sys.argv[1].replace("postgres://", "postgresql://", 1)
with psycopg.connect(url, connect_timeout=5) as conn:
    conn.execute("SELECT 1")
PY
    exit 0
fi

echo "SKIPPED: PostgreSQL not available at $url - the PostgreSQL test run did not happen." >&2
echo "         Start PostgreSQL (or set CORS_ADMIN_TEST_PG_URL) and run 'make test-postgres'." >&2
case "${CI:-}" in
    true | 1 | yes)
        echo "         CI=true: a CI machine must provide PostgreSQL, so this is a failure." >&2
        exit 1
        ;;
esac
exit 2
