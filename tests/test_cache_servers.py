"""The policy cache across real processes: gunicorn with 4 workers, one database.

* Every worker enforces an edit made through the REST API (in whichever worker
  took the request) within the refresh interval plus a rebuild margin.
* After warm-up the database stops accepting connections (PostgreSQL: the
  database refuses connections and its backends are terminated; SQLite: the
  file is replaced by a directory, so opening it fails even for root, which
  ``chmod 000`` would not stop). Requests keep their CORS headers, nothing
  answers 5xx, each worker logs the failure once; after the database is back,
  edits flow again.

The demo view ``/api/demo/pid/`` names the worker that answered and touches no
database. Runs on SQLite, and on PostgreSQL with ``CORS_ADMIN_TEST_DB=postgres``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import (
    PG_ADMIN_URL,
    Server,
    header_values,
    run_python,
    run_server,
    server_database,
    using_postgres,
)

pytestmark = pytest.mark.server

WORKERS = 4
REFRESH_INTERVAL = 1.0
REBUILD_MARGIN = 1.0
A = "https://app.example.com"
B = "https://new.example.com"
C = "https://later.example.com"
DENIED = "https://evil.example.net"

SETUP = f"""
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from cors_admin.models import CorsOrigin, CorsPolicy
user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
policy = CorsPolicy.objects.create(name="multi", path="/api/demo/")
CorsOrigin.objects.create(policy=policy, origin="{A}")
print("SETUP", Token.objects.create(user=user).key, policy.pk)
"""


@dataclass
class Answer:
    sent: float  # time.monotonic() when the request was sent
    received: float
    pid: int | None
    status: int
    allow_origin: list[str]
    vary: str


@dataclass
class Site:
    url: str
    server: Server
    token: str
    policy_id: int
    pids: set[int]
    pool: ThreadPoolExecutor

    def ask(self, origin: str, sleep: float = 0.15) -> Answer:
        sent = time.monotonic()
        status, headers, body = self.server.request(
            "GET", f"/api/demo/pid/?sleep={sleep}", {"Origin": origin}
        )
        pid = json.loads(body)["pid"] if status == 200 else None
        return Answer(
            sent,
            time.monotonic(),
            pid,
            status,
            header_values(headers, "Access-Control-Allow-Origin"),
            ", ".join(header_values(headers, "Vary")),
        )

    def round(self, origin: str) -> list[Answer]:
        """As many concurrent requests as workers: each busy worker leaves the next
        connection to an idle one, so a round usually reaches every worker."""
        return list(self.pool.map(lambda _: self.ask(origin), range(WORKERS)))

    def patch_origins(self, origins: list[str]) -> float:
        """Edit the allowlist through the REST API; returns when the response arrived."""
        status, _, body = self.server.request(
            "PATCH",
            f"/api/cors/policies/{self.policy_id}/",
            {
                "Authorization": f"Token {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            json.dumps({"origins": origins}).encode(),
        )
        assert status == 200, body
        assert sorted(json.loads(body)["origins"]) == sorted(origins)
        return time.monotonic()

    def converge(self, origin: str, since: float, timeout: float = 20.0) -> dict[int, float]:
        """Poll every worker until each allows ``origin``; check no late stale answer.

        Returns, per worker, the seconds from ``since`` (the API's answer) to its
        first answer that allows ``origin``.
        """
        first: dict[int, float] = {}
        late: list[Answer] = []
        deadline = since + timeout
        bound = since + REFRESH_INTERVAL + REBUILD_MARGIN
        while set(first) != self.pids and time.monotonic() < deadline:
            for answer in self.round(origin):
                assert answer.status == 200, answer
                assert answer.pid in self.pids, f"a worker was replaced: {answer}\n{self.log()}"
                if answer.allow_origin == [origin]:
                    first.setdefault(answer.pid, answer.received - since)
                elif answer.sent > bound:
                    late.append(answer)
        assert set(first) == self.pids, f"workers never enforcing: {self.pids - set(first)}"
        assert not late, f"stale answers later than interval + margin: {late}"
        return first

    def log(self) -> str:
        return self.server.log()


def warm(site: Site, origin: str, allowed: bool, timeout: float = 30.0) -> None:
    """Rounds until every worker answered with a snapshot (the policy covers the path)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < WORKERS and time.monotonic() < deadline:
        for answer in site.round(origin):
            assert answer.status == 200, answer
            assert answer.vary == "Origin", answer  # covered: the worker has a snapshot
            assert answer.allow_origin == ([origin] if allowed else []), answer
            assert answer.pid is not None
            seen.add(answer.pid)
    assert len(seen) == WORKERS, f"only {len(seen)} workers answered:\n{site.log()}"
    site.pids = seen


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with server_database() as url:
        output = run_python(url, SETUP)
        line = next(line for line in output.splitlines() if line.startswith("SETUP "))
        token, policy_id = line.split()[1:]
        with (
            run_server(
                url,
                "gunicorn",
                workers=WORKERS,
                env={"CORS_ADMIN_REFRESH_INTERVAL": str(REFRESH_INTERVAL)},
                ready_path="/api/demo/pid/",
            ) as server,
            ThreadPoolExecutor(WORKERS) as pool,
        ):
            yield Site(url, server, token, int(policy_id), set(), pool)


def report(title: str, figures: dict[int, float]) -> None:
    rows = ", ".join(f"{pid}: {seconds:.2f}s" for pid, seconds in sorted(figures.items()))
    db = "PostgreSQL" if using_postgres() else "SQLite"
    print(
        f"\n[{db}] {title}: max {max(figures.values()):.2f}s over {len(figures)} workers "
        f"(interval {REFRESH_INTERVAL}s, poll round ~0.15s) -- {rows}"
    )


def test_an_api_edit_reaches_every_worker_within_the_interval(site: Site) -> None:
    warm(site, B, allowed=False)
    changed = site.patch_origins([A, B])
    figures = site.converge(B, since=changed)
    report("API edit enforced by every worker after", figures)
    assert max(figures.values()) <= REFRESH_INTERVAL + REBUILD_MARGIN


# -- database outage ------------------------------------------------------------------


@contextlib.contextmanager
def database_outage(url: str) -> Iterator[str]:
    """Make the server's database unreachable for real; yields how."""
    if using_postgres():
        import psycopg

        name = url.rsplit("/", 1)[1]
        admin_url = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                target = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1)
                with pytest.raises(psycopg.OperationalError):
                    psycopg.connect(f"{target}/{name}", connect_timeout=5).close()
                yield "PostgreSQL: ALLOW_CONNECTIONS false + pg_terminate_backend"
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    else:
        path = Path(url.removeprefix("sqlite:///"))
        assert path.is_file(), path
        away = path.with_name(path.name + ".away")
        if os.geteuid() != 0:
            path.chmod(0)
            how = "SQLite: chmod 000 on the database file"
        else:  # root ignores file modes: put a directory where the file was
            path.rename(away)
            path.mkdir()
            how = "SQLite: the file replaced by a directory (root ignores chmod 000)"
        try:
            with pytest.raises(sqlite3.OperationalError):
                sqlite3.connect(str(path)).execute("SELECT 1 FROM sqlite_master")
            yield how
        finally:
            if away.exists():
                path.rmdir()
                away.rename(path)
            else:
                path.chmod(0o644)


def test_database_outage_after_warm_up_keeps_serving_then_recovers(site: Site) -> None:
    warm(site, A, allowed=True)
    errors_before = site.log().count("could not refresh CORS policies")
    with database_outage(site.url) as how:
        started = time.monotonic()
        seen: set[int] = set()
        answers = 0
        # Long enough for every worker to try (and fail) at least twice.
        while time.monotonic() < started + 2 * REFRESH_INTERVAL + 0.5 or seen != site.pids:
            for answer in site.round(A):
                assert answer.status == 200, f"{answer}\n{site.log()}"
                assert answer.allow_origin == [A], answer
                assert answer.vary == "Origin", answer
                seen.add(answer.pid)  # type: ignore[arg-type]
                answers += 1
            status, headers, _ = site.server.request(
                "OPTIONS",
                "/api/demo/pid/",
                {"Origin": A, "Access-Control-Request-Method": "PUT"},
            )
            assert (status, header_values(headers, "Access-Control-Allow-Origin")) == (204, [A])
            status, headers, _ = site.server.request(
                "OPTIONS",
                "/api/demo/pid/",
                {"Origin": DENIED, "Access-Control-Request-Method": "PUT"},
            )
            assert (status, header_values(headers, "Access-Control-Allow-Origin")) == (403, [])
            assert time.monotonic() < started + 30, "the workers did not all answer"
        outage = time.monotonic() - started
        log = site.log()
        failures = log.count("could not refresh CORS policies") - errors_before
    print(
        f"\n[{how}] {outage:.1f}s down, {answers} requests to {len(seen)} workers: all 200 "
        f"with their CORS headers; {failures} error records (at most one per worker a minute)"
    )
    assert 1 <= failures <= WORKERS, log
    assert " 500 " not in log and "Internal Server Error" not in log

    changed = site.patch_origins([A, C])
    figures = site.converge(C, since=changed)
    report("after the outage, API edit enforced by every worker after", figures)
    assert "refreshed again after" in site.log()
