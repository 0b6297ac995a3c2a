"""The policy snapshot: query counts, revision bumps, fail-static, expiry, threads, fork.

Requests go through the real middleware stack of the example project to a demo
view that never touches the database, so every query counted here is the
cache's own. Tests that need ``transaction.on_commit`` to run (the bump) or
exact query counts (no test savepoints) use ``transaction=True``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models.signals import post_save
from django.test import Client
from django.utils import timezone

from cors_admin import cache
from cors_admin.checks import check_settings
from cors_admin.models import CorsOrigin, CorsPolicy, CorsRevision
from tests.factories import CorsOriginFactory, CorsPolicyFactory, policy_with_origins

PATH = "/api/demo/hello/"
A = "https://app.example.com"
B = "https://new.example.com"
C = "https://other.example.com"
REDIS_URL = "redis://127.0.0.1:6379/3"
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nobody listens on port 1

# One revision check is one query. A rebuild adds one read transaction holding two
# SELECTs (policies, entries); Django logs its BEGIN/COMMIT, and on PostgreSQL the
# SET TRANSACTION ISOLATION LEVEL REPEATABLE READ that makes both SELECTs consistent.
_LOAD_QUERIES = {"sqlite": 4, "postgresql": 5}


def load_queries() -> int:
    return _LOAD_QUERIES[connection.vendor]


def rebuild_queries() -> int:
    return 1 + load_queries()


def acao(response: Any) -> str | None:
    return response.headers.get("Access-Control-Allow-Origin")


def get(client: Any, origin: str, path: str = PATH) -> Any:
    return client.get(path, headers={"origin": origin})


def preflight(client: Any, origin: str) -> Any:
    return client.options(PATH, headers={"origin": origin, "access-control-request-method": "PUT"})


def revision_row() -> int:
    # transaction=True tests flush the tables after them, the migration's row included.
    return int(CorsRevision.objects.get_or_create(pk=1, defaults={"value": 1})[0].value)


class FakeClock:
    """Stands in for the ``time`` module inside ``cors_admin.cache``: both clocks move
    only when the test says so."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.mono = 1_000_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def time_ns(self) -> int:
        return int(self.wall * 1e9)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(cache, "time", fake)
    return fake


@pytest.fixture
def interval(settings: Any) -> float:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 5.0
    return 5.0


def raw_sql(sql: str, params: tuple[Any, ...] = ()) -> None:
    """Write behind the ORM's back, the way another process's commit reaches us."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def change_from_another_process(policy: CorsPolicy, origin: str) -> None:
    """Another process adds an entry and bumps the shared revision after its commit."""
    now = timezone.now()
    with transaction.atomic():
        raw_sql(
            "INSERT INTO cors_admin_corsorigin (policy_id, origin, note, expires_at, "
            "created_at, updated_at) VALUES (%s, %s, '', NULL, %s, %s)",
            (policy.pk, origin, now, now),
        )
    raw_sql("UPDATE cors_admin_corsrevision SET value = value + 1 WHERE id = 1")


# -- query counts -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("policies", [1, 50])
def test_rebuild_is_a_constant_number_of_queries_then_zero(
    policies: int, client: Client, interval: float, django_assert_num_queries: Any
) -> None:
    for i in range(policies):
        policy = CorsPolicyFactory(name=f"p{i}", path="/api/" if i == 0 else f"/api/p{i}/")
        CorsOrigin.objects.bulk_create(
            CorsOrigin(policy=policy, origin=f"https://o{j}.p{i}.example.com") for j in range(40)
        )
    CorsOriginFactory(policy=CorsPolicy.objects.get(name="p0"), origin=A)
    cache.reset()

    with django_assert_num_queries(rebuild_queries()):
        response = get(client, A)
    assert acao(response) == A
    snapshot = cache.peek()
    assert snapshot is not None and len(snapshot.specs) == policies
    assert sum(len(spec.origins) for spec in snapshot.specs) == policies * 40 + 1

    with django_assert_num_queries(0):
        for _ in range(25):
            assert acao(get(client, A)) == A
            assert acao(get(client, B)) is None
            assert preflight(client, A).status_code == 204
            assert preflight(client, B).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_zero_queries_between_refreshes_with_the_async_client(
    async_client: Any, interval: float, django_assert_num_queries: Any
) -> None:
    policy_with_origins(A)
    cache.reset()

    async def requests(count: int) -> list[Any]:
        return [await async_client.get(PATH, headers={"origin": A}) for _ in range(count)]

    with django_assert_num_queries(rebuild_queries()):
        (first,) = async_to_sync(requests)(1)
    assert acao(first) == A
    with django_assert_num_queries(0):
        responses = async_to_sync(requests)(30)
    assert [acao(r) for r in responses] == [A] * 30


@pytest.mark.django_db(transaction=True)
def test_one_revision_query_per_interval_when_nothing_changed(
    client: Client, clock: FakeClock, interval: float, django_assert_num_queries: Any
) -> None:
    policy_with_origins(A)
    cache.reset()
    get(client, A)
    rebuilds = cache.rebuild_count()

    clock.advance(interval - 0.01)
    with django_assert_num_queries(0):
        assert acao(get(client, A)) == A
    clock.advance(0.02)
    with django_assert_num_queries(1):  # the revision, unchanged: no rebuild
        assert acao(get(client, A)) == A
    with django_assert_num_queries(0):
        for _ in range(10):
            assert acao(get(client, A)) == A
    assert cache.rebuild_count() == rebuilds


@pytest.mark.django_db(transaction=True)
def test_one_revision_query_for_a_burst_of_async_requests(
    async_client: Any, clock: FakeClock, interval: float, django_assert_num_queries: Any
) -> None:
    policy_with_origins(A)
    cache.reset()

    async def burst(count: int) -> list[Any]:
        return list(
            await asyncio.gather(
                *(async_client.get(PATH, headers={"origin": A}) for _ in range(count))
            )
        )

    async_to_sync(burst)(1)
    clock.advance(interval + 0.01)
    with django_assert_num_queries(1):
        responses = async_to_sync(burst)(20)
    assert [acao(r) for r in responses] == [A] * 20


@pytest.mark.django_db(transaction=True)
def test_real_clock_interval(client: Client, settings: Any, django_assert_num_queries: Any) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 0.4
    policy_with_origins(A)
    cache.reset()
    get(client, A)
    with django_assert_num_queries(0):
        get(client, A)
    time.sleep(0.4)
    with django_assert_num_queries(1):
        assert acao(get(client, A)) == A


# -- other processes --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_change_from_another_process_is_seen_after_the_interval(
    client: Client, clock: FakeClock, interval: float, django_assert_num_queries: Any
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, B)) is None

    change_from_another_process(policy, B)
    with django_assert_num_queries(0):
        assert acao(get(client, B)) is None  # within the interval: the old snapshot
    clock.advance(interval)
    with django_assert_num_queries(rebuild_queries()):
        assert acao(get(client, B)) == B


# -- the writing process, bumps after commit ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_writing_process_serves_its_change_at_once(
    client: Client, clock: FakeClock, interval: float, django_assert_num_queries: Any
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, B)) is None
    before = revision_row()

    CorsOriginFactory(policy=policy, origin=B)  # autocommit: on_commit runs at once

    assert revision_row() == before + 1
    with django_assert_num_queries(rebuild_queries()):
        assert acao(get(client, B)) == B  # no clock advance: not waiting for the interval


@pytest.mark.django_db(transaction=True)
def test_rollback_never_bumps_nor_shows(
    client: Client, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 0  # check the revision on every request
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, B)) is None
    before, rebuilds = revision_row(), cache.rebuild_count()

    with pytest.raises(RuntimeError), transaction.atomic():
        CorsOriginFactory(policy=policy, origin=B)
        CorsPolicy.objects.filter(pk=policy.pk).update(allow_all_origins=True)
        CorsPolicyFactory(name="all", path="/", allow_all_origins=True)
        raise RuntimeError("operator cancelled")

    assert revision_row() == before
    assert not CorsOrigin.objects.filter(origin=B).exists()
    with django_assert_num_queries(2):  # one revision check per request, no rebuild
        assert acao(get(client, B)) is None
        assert acao(get(client, A)) == A
    assert cache.rebuild_count() == rebuilds


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_loaded_inside_a_rolled_back_change_does_not_outlive_the_interval(
    client: Client, clock: FakeClock, interval: float
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    before = revision_row()

    with pytest.raises(RuntimeError), transaction.atomic():
        CorsOriginFactory(policy=policy, origin=B)
        # The process's first load happens inside the writing transaction (explain() in a
        # script, say): it reads the transaction's own view, B included.
        inside = cache.current()
        assert inside is not None and B in {o.value for o in inside.specs[0].origins}
        raise RuntimeError("operator cancelled")

    assert revision_row() == before  # the revision did not move: only a rebuild drops B
    clock.advance(interval)
    assert acao(get(client, B)) is None
    assert acao(get(client, A)) == A


@pytest.mark.django_db(transaction=True)
def test_rolled_back_savepoint_inside_a_committed_transaction(
    client: Client, interval: float
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    get(client, A)
    before = revision_row()

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            CorsOriginFactory(policy=policy, origin=B)
            raise RuntimeError
        CorsOriginFactory(policy=policy, origin=C)
        CorsOrigin.objects.filter(origin=C).update(note="kept")

    assert revision_row() == before + 1  # one bump for the transaction
    assert acao(get(client, C)) == C
    assert acao(get(client, B)) is None

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            CorsOriginFactory(policy=policy, origin=B)
            raise RuntimeError
    assert revision_row() == before + 1  # nothing committed: no bump


@pytest.mark.django_db(transaction=True)
def test_bulk_update_in_a_committed_transaction(client: Client, interval: float) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    response = get(client, A)
    assert acao(response) == A and response.headers["Vary"] == "Origin"
    before = revision_row()

    with transaction.atomic():
        assert CorsPolicy.objects.filter(pk=policy.pk).update(enabled=False) == 1

    assert revision_row() == before + 1
    response = get(client, A)
    assert acao(response) is None
    assert "Vary" not in response.headers  # no policy covers the path any more


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change, allowed, denied",
    [
        pytest.param(lambda p: p.delete(), [], [A], id="model-delete"),
        pytest.param(
            lambda p: CorsPolicy.objects.filter(pk=p.pk).delete(), [], [A], id="qs-delete"
        ),
        pytest.param(
            lambda p: CorsOrigin.objects.filter(origin=A).delete(), [], [A], id="origin-qs-delete"
        ),
        pytest.param(
            lambda p: CorsOrigin.objects.bulk_create([CorsOrigin(policy=p, origin=B)]),
            [A, B],
            [],
            id="bulk-create",
        ),
        pytest.param(lambda p: _bulk_update_origin(p, B), [B], [A], id="bulk-update"),
        pytest.param(lambda p: _inline_edit(p, B), [B], [A], id="origin-inline-change"),
        pytest.param(lambda p: _policy_save(p), [A, B, C], [], id="policy-save"),
    ],
)
def test_every_change_path_bumps_after_commit(
    client: Client, interval: float, change: Any, allowed: list[str], denied: list[str]
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, A)) == A
    before = revision_row()

    with transaction.atomic():
        change(policy)
        assert revision_row() == before  # not before the commit

    assert revision_row() == before + 1
    for origin in allowed:
        assert acao(get(client, origin)) in (origin, "*")
    for origin in denied:
        assert acao(get(client, origin)) is None


def _bulk_update_origin(policy: CorsPolicy, new: str) -> None:
    entries = list(policy.origins.all())
    entries[0].origin = new
    CorsOrigin.objects.bulk_update(entries, ["origin"])


def _inline_edit(policy: CorsPolicy, new: str) -> None:
    """What the admin's inline formset does with one changed row."""
    entry = policy.origins.get()
    entry.origin = new
    entry.full_clean()
    entry.save()


def _policy_save(policy: CorsPolicy) -> None:
    policy.allow_all_origins = True
    policy.full_clean()
    policy.save()


@pytest.mark.django_db(transaction=True)
def test_fixture_load_bumps_once_after_commit(
    client: Client, interval: float, tmp_path: Path
) -> None:
    cache.reset()
    assert acao(get(client, B)) is None
    before = revision_row()
    now = timezone.now().isoformat()
    fixture = tmp_path / "policies.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "cors_admin.corspolicy",
                    "pk": 9001,
                    "fields": {
                        "name": "from-fixture",
                        "description": "",
                        "path": "/api/",
                        "path_type": "prefix",
                        "priority": 100,
                        "enabled": True,
                        "allow_all_origins": False,
                        "allow_credentials": False,
                        "allow_methods": ["GET", "POST"],
                        "allow_headers": ["content-type"],
                        "expose_headers": [],
                        "max_age": None,
                        "allow_private_network": False,
                        "created_at": now,
                        "updated_at": now,
                    },
                },
                *(
                    {
                        "model": "cors_admin.corsorigin",
                        "pk": 9001 + i,
                        "fields": {
                            "policy": 9001,
                            "origin": origin,
                            "note": "",
                            "expires_at": None,
                            "created_at": now,
                            "updated_at": now,
                        },
                    }
                    for i, origin in enumerate([B, C])
                ),
            ]
        )
    )
    raw_flags: list[bool] = []

    def spy(sender: Any, raw: bool = False, **kwargs: Any) -> None:
        raw_flags.append(raw)

    post_save.connect(spy, sender=CorsOrigin, dispatch_uid="test_cache_spy")
    try:
        call_command("loaddata", str(fixture), verbosity=0)
    finally:
        post_save.disconnect(dispatch_uid="test_cache_spy", sender=CorsOrigin)

    assert raw_flags == [True, True]  # loaddata saves raw, and the signal still fires
    assert revision_row() == before + 1
    assert acao(get(client, B)) == B
    assert acao(get(client, C)) == C


@pytest.mark.django_db(transaction=True)
def test_a_missing_revision_row_is_recreated_by_the_next_bump(
    client: Client, interval: float
) -> None:
    policy = policy_with_origins(A)
    CorsRevision.objects.all().delete()
    cache.reset()
    get(client, A)
    assert cache.read_revision() == 0

    CorsOriginFactory(policy=policy, origin=B)
    assert cache.read_revision() > 0
    assert acao(get(client, B)) == B


# -- the revision in a shared cache (Redis) -----------------------------------------


@pytest.fixture
def redis_revision(settings: Any) -> Iterator[str]:
    key = f"cors_admin_test:{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "cors_revision": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
    settings.CORS_ADMIN_REVISION_CACHE = "cors_revision"
    settings.CORS_ADMIN_REVISION_CACHE_KEY = key
    yield key
    caches["cors_revision"].delete(key)


@pytest.mark.django_db(transaction=True)
def test_redis_revision(
    client: Client,
    clock: FakeClock,
    interval: float,
    redis_revision: str,
    django_assert_num_queries: Any,
) -> None:
    shared = caches["cors_revision"]
    policy = policy_with_origins(A)
    cache.reset()
    with django_assert_num_queries(load_queries()):  # the revision comes from Redis
        assert acao(get(client, A)) == A
    first = shared.get(redis_revision)
    assert first is not None and cache.peek().revision == first  # type: ignore[union-attr]

    clock.advance(interval)
    with django_assert_num_queries(0):  # revision check: one Redis GET, no query
        assert acao(get(client, B)) is None

    row = revision_row()
    CorsOriginFactory(policy=policy, origin=B)  # this process: at once
    assert shared.get(redis_revision) == first + 1
    assert revision_row() == row  # the database row is not used
    assert acao(get(client, B)) == B

    change_from_another_process(policy, C)  # bumps the row, which nobody reads ...
    clock.advance(interval)
    assert acao(get(client, C)) is None
    shared.incr(redis_revision)  # ... the Redis counter is what other processes bump
    assert acao(get(client, C)) is None  # within the interval
    clock.advance(interval)
    assert acao(get(client, C)) == C


@pytest.mark.django_db(transaction=True)
def test_redis_revision_lost_counts_as_a_change(
    client: Client, clock: FakeClock, interval: float, redis_revision: str
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    get(client, A)
    rebuilds = cache.rebuild_count()
    now = timezone.now()
    with transaction.atomic():
        raw_sql(
            "INSERT INTO cors_admin_corsorigin (policy_id, origin, note, expires_at, "
            "created_at, updated_at) VALUES (%s, %s, '', NULL, %s, %s)",
            (policy.pk, B, now, now),
        )
    caches["cors_revision"].delete(redis_revision)  # eviction, Redis restarted empty
    clock.advance(interval)
    assert acao(get(client, B)) == B
    assert cache.rebuild_count() == rebuilds + 1
    assert caches["cors_revision"].get(redis_revision) is not None


def test_w001_for_a_revision_cache_other_processes_cannot_see(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
    settings.CORS_ADMIN_REVISION_CACHE = "default"
    assert [m.id for m in check_settings()] == ["cors_admin.W001"]
    settings.CORS_ADMIN_REVISION_CACHE = "shared"
    assert check_settings() == []
    settings.CORS_ADMIN_REVISION_CACHE = None
    assert check_settings() == []


# -- fail-static --------------------------------------------------------------------


def refresh_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "cors_admin" and r.levelno == logging.ERROR and "could not refresh" in r.msg
    ]


def recoveries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cors_admin" and "refreshed again" in r.msg]


@pytest.mark.django_db
def test_unreachable_redis_after_warm_up_keeps_the_snapshot(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    policy_with_origins(A)
    settings.CORS_ADMIN_REFRESH_INTERVAL = 1
    settings.CORS_ADMIN_ERROR_LOG_INTERVAL = 60
    assert acao(get(client, A)) == A  # warm, revision from the database

    key = f"cors_admin_test:{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "cors_revision": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS_URL,
        },
    }
    settings.CORS_ADMIN_REVISION_CACHE = "cors_revision"
    settings.CORS_ADMIN_REVISION_CACHE_KEY = key
    caplog.set_level(logging.INFO, logger="cors_admin")
    for _ in range(5):
        clock.advance(1)
        response = get(client, A)
        assert response.status_code == 200
        assert acao(response) == A
        assert preflight(client, A).status_code == 204
        assert preflight(client, B).status_code == 403
    errors = refresh_errors(caplog)
    assert len(errors) == 1  # five failed refreshes, one record per ERROR_LOG_INTERVAL
    assert "keeping the last good snapshot" in errors[0].getMessage()
    assert errors[0].exc_info is not None

    clock.advance(60)
    get(client, A)
    assert len(refresh_errors(caplog)) == 2

    settings.CACHES = {
        **settings.CACHES,
        "cors_revision": {**settings.CACHES["cors_revision"], "LOCATION": REDIS_URL},
    }
    clock.advance(1)
    try:
        assert acao(get(client, A)) == A
        assert len(recoveries(caplog)) == 1
        assert len(refresh_errors(caplog)) == 2
    finally:
        caches["cors_revision"].delete(key)


@pytest.fixture
def broken_revision_table() -> Iterator[Any]:
    """Make the revision query fail for real: the table is renamed away (and back)."""
    renamed: list[bool] = []

    def break_it() -> None:
        raw_sql("ALTER TABLE cors_admin_corsrevision RENAME TO cors_admin_corsrevision_away")
        renamed.append(True)

    def repair() -> None:
        if renamed:
            raw_sql("ALTER TABLE cors_admin_corsrevision_away RENAME TO cors_admin_corsrevision")
            renamed.clear()

    break_it.repair = repair  # type: ignore[attr-defined]
    yield break_it
    repair()


@pytest.mark.django_db(transaction=True)
def test_database_errors_after_warm_up_keep_the_snapshot(
    client: Client,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    broken_revision_table: Any,
    clock: FakeClock,
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 1
    settings.CORS_ADMIN_ERROR_LOG_INTERVAL = 30
    policy = policy_with_origins(A)
    CorsOriginFactory(policy=policy, origin=C, expires_at=timezone.now() + timedelta(seconds=20))
    cache.reset()
    assert acao(get(client, C)) == C
    caplog.set_level(logging.INFO, logger="cors_admin")

    broken_revision_table()
    for _ in range(12):  # 12 s of failing refreshes, one per interval
        clock.advance(1)
        response = get(client, A)
        assert (response.status_code, acao(response)) == (200, A)
    assert len(refresh_errors(caplog)) == 1
    clock.advance(19)  # 30 s after the first record: the next failure logs again
    assert acao(get(client, A)) == A
    assert len(refresh_errors(caplog)) == 2
    # C expired meanwhile: it stops matching although nothing can be read.
    assert acao(get(client, C)) is None
    assert acao(get(client, A)) == A

    broken_revision_table.repair()
    clock.advance(1)
    assert acao(get(client, A)) == A
    assert len(recoveries(caplog)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_flapping_database_logs_one_error_and_one_recovery_per_log_interval(
    client: Client,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    broken_revision_table: Any,
    clock: FakeClock,
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 1
    settings.CORS_ADMIN_ERROR_LOG_INTERVAL = 60
    policy_with_origins(A)
    cache.reset()
    assert acao(get(client, A)) == A
    caplog.set_level(logging.INFO, logger="cors_admin")

    for _ in range(5):  # down one second, up the next
        broken_revision_table()
        clock.advance(1)
        assert acao(get(client, A)) == A
        broken_revision_table.repair()
        clock.advance(1)
        assert acao(get(client, A)) == A
    assert len(refresh_errors(caplog)) == 1
    assert len(recoveries(caplog)) == 1

    clock.advance(60)  # the next failure is logged again, and so is its recovery
    broken_revision_table()
    clock.advance(1)
    get(client, A)
    broken_revision_table.repair()
    clock.advance(1)
    get(client, A)
    assert len(refresh_errors(caplog)) == 2
    assert len(recoveries(caplog)) == 2


@pytest.mark.django_db(transaction=True)
def test_no_snapshot_and_no_database_means_no_cors_headers_then_retry(
    settings: Any,
    broken_revision_table: Any,
    clock: FakeClock,
    django_assert_num_queries: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 1
    client = Client(raise_request_exception=False)
    policy_with_origins(A)
    broken_revision_table()
    cache.reset()
    caplog.set_level(logging.INFO, logger="cors_admin")

    response = get(client, A)
    assert response.status_code == 200  # the view's own answer
    assert acao(response) is None
    assert "Vary" not in response.headers
    answer = preflight(client, A)  # not answered by the middleware: the view runs
    assert answer.status_code == 200 and answer.json()["method"] == "OPTIONS"
    assert acao(answer) is None
    assert get(client, A, "/api/demo/boom/").status_code == 500  # the view's error, not ours
    assert "no snapshot yet" in refresh_errors(caplog)[0].getMessage()

    with django_assert_num_queries(0):  # no retry before the interval
        assert acao(get(client, A)) is None
    broken_revision_table.repair()
    clock.advance(1)
    assert acao(get(client, A)) == A


@pytest.mark.django_db(transaction=True)
def test_postgresql_outage_after_warm_up(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """The real thing: the server refuses connections and kills ours."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (SQLite is covered by the server test)")
    import psycopg

    settings.CORS_ADMIN_REFRESH_INTERVAL = 1
    settings.CORS_ADMIN_ERROR_LOG_INTERVAL = 60
    policy_with_origins(A)
    cache.reset()
    assert acao(get(client, A)) == A
    db = connection.settings_dict
    name = db["NAME"]
    caplog.set_level(logging.INFO, logger="cors_admin")
    with psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            for _ in range(5):
                clock.advance(1)
                response = get(client, A)
                assert (response.status_code, acao(response)) == (200, A)
            assert len(refresh_errors(caplog)) == 1
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    clock.advance(1)
    assert acao(get(client, A)) == A
    assert len(recoveries(caplog)) == 1


def bump_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cors_admin" and "could not bump" in r.msg]


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_the_revision_row_is_unreachable(
    client: Client,
    interval: float,
    clock: FakeClock,
    broken_revision_table: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, B)) is None
    before = revision_row()
    caplog.set_level(logging.INFO, logger="cors_admin")

    broken_revision_table()
    CorsOriginFactory(policy=policy, origin=B)  # committed; the bump after it fails
    assert len(bump_errors(caplog)) == 1
    assert acao(get(client, B)) == B  # the writing process serves it all the same

    broken_revision_table.repair()
    assert revision_row() == before  # nobody else knows yet ...
    clock.advance(interval)
    assert acao(get(client, B)) == B
    assert revision_row() == before + 1  # ... until the retried bump at the next check
    assert len(recoveries(caplog)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retried_bump_is_not_lost_with_a_transaction_that_rolls_back(
    client: Client, interval: float, clock: FakeClock, broken_revision_table: Any
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    get(client, A)
    before = revision_row()
    broken_revision_table()
    CorsOriginFactory(policy=policy, origin=B)  # committed; the bump after it fails
    broken_revision_table.repair()

    with pytest.raises(RuntimeError), transaction.atomic():
        assert B in {o.value for o in cache.current().specs[0].origins}  # type: ignore[union-attr]
        raise RuntimeError("the caller's transaction rolls back")

    assert revision_row() == before  # not retried inside it ...
    clock.advance(interval)
    assert acao(get(client, B)) == B
    assert revision_row() == before + 1  # ... but at the next check outside one


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_redis_is_unreachable(
    client: Client,
    interval: float,
    clock: FakeClock,
    redis_revision: str,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    assert acao(get(client, B)) is None
    first = caches["cors_revision"].get(redis_revision)
    live = settings.CACHES["cors_revision"]
    caplog.set_level(logging.INFO, logger="cors_admin")

    settings.CACHES = {**settings.CACHES, "cors_revision": {**live, "LOCATION": DEAD_REDIS_URL}}
    CorsOriginFactory(policy=policy, origin=B)
    assert len(bump_errors(caplog)) == 1
    assert acao(get(client, B)) == B  # reloaded from the database without the revision
    clock.advance(interval)
    assert acao(get(client, B)) == B  # Redis still down: fail-static, the change kept

    settings.CACHES = {**settings.CACHES, "cors_revision": live}
    assert caches["cors_revision"].get(redis_revision) == first
    clock.advance(interval)
    assert acao(get(client, B)) == B
    assert caches["cors_revision"].get(redis_revision) == first + 1  # the bump, retried
    assert len(recoveries(caplog)) == 1


# -- expiry -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_expired_entry_stops_matching_without_any_write(
    client: Client, clock: FakeClock, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 300  # longer than the expiry: the snapshot knows
    policy = policy_with_origins(A)
    expires = datetime.fromtimestamp(clock.time() + 30, tz=UTC)
    CorsOriginFactory(policy=policy, origin=B, expires_at=expires)
    cache.reset()
    assert acao(get(client, B)) == B
    snapshot = cache.peek()
    assert snapshot is not None and snapshot.valid_until == pytest.approx(expires.timestamp())

    clock.advance(29)
    with django_assert_num_queries(0):
        assert acao(get(client, B)) == B
    clock.advance(1.01)
    with django_assert_num_queries(1):  # the revision check; the rows are already held
        response = get(client, B)
    assert acao(response) is None
    assert response.headers["Vary"] == "Origin"
    assert acao(get(client, A)) == A
    assert cache.peek().valid_until is None  # type: ignore[union-attr]


def test_an_expired_entry_stops_matching_with_the_real_clock(
    db: Any, client: Client, settings: Any
) -> None:
    settings.CORS_ADMIN_REFRESH_INTERVAL = 300
    policy = policy_with_origins(A)
    expires = timezone.now() + timedelta(seconds=0.4)
    CorsOriginFactory(policy=policy, origin=B, expires_at=expires)
    cache.reset()
    first = get(client, B)
    time.sleep(max((expires - timezone.now()).total_seconds(), 0) + 0.02)
    assert acao(first) == B
    assert acao(get(client, B)) is None


# -- threads, async claims, fork ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_rebuild_at_a_time_and_the_others_keep_the_old_snapshot(
    clock: FakeClock, interval: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    old = cache.current()
    change_from_another_process(policy, B)
    clock.advance(interval)

    original = cache.load_specs
    active, most = [0], [0]
    rebuilding, release = threading.Event(), threading.Event()

    def slow_load() -> Any:
        active[0] += 1
        most[0] = max(most[0], active[0])
        rebuilding.set()
        release.wait(10)
        try:
            return original()
        finally:
            active[0] -= 1

    monkeypatch.setattr(cache, "load_specs", slow_load)
    results: list[Any] = []

    def worker() -> None:
        try:
            results.append(cache.current())
        finally:
            connections.close_all()

    rebuilder = threading.Thread(target=worker)
    rebuilder.start()
    assert rebuilding.wait(5)
    others = [threading.Thread(target=worker) for _ in range(6)]
    for t in others:
        t.start()
    for t in others:
        t.join(5)
    during = list(results)  # the six that asked while the rebuild was held up
    release.set()
    rebuilder.join(5)

    assert most[0] == 1
    assert during == [old] * 6  # none waited, none saw a half-built snapshot
    new = cache.peek()
    assert new is not None and new is not old and new.revision != old.revision  # type: ignore[union-attr]
    assert {o.value for o in new.specs[0].origins} == {A, B}


@pytest.mark.django_db(transaction=True)
def test_the_writer_waits_for_a_rebuild_another_thread_started_after_its_change(
    clock: FakeClock, interval: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_with_origins(A)
    cache.reset()
    cache.current()
    CorsOriginFactory(policy=policy, origin=B)  # committed: this process must serve B now

    original = cache.load_specs
    rebuilding, release = threading.Event(), threading.Event()

    def slow_load() -> Any:
        rebuilding.set()
        release.wait(10)
        return original()

    monkeypatch.setattr(cache, "load_specs", slow_load)
    results: dict[str, Any] = {}

    def worker(name: str) -> None:
        try:
            results[name] = cache.current()
        finally:
            connections.close_all()

    rebuilder = threading.Thread(target=worker, args=("rebuilder",))
    rebuilder.start()
    assert rebuilding.wait(5)  # another thread took the rebuild that holds B
    writer = threading.Thread(target=worker, args=("writer",))
    writer.start()
    writer.join(0.3)  # it must wait for that rebuild, not answer from the old snapshot
    release.set()
    writer.join(5)
    rebuilder.join(5)

    served = results["writer"]
    assert served is not None
    assert {o.value for o in served.specs[0].origins} == {A, B}


def test_async_callers_claim_the_due_refresh_once(
    db: Any, clock: FakeClock, interval: float
) -> None:
    assert cache.needs_refresh() and cache.needs_refresh()  # no snapshot: everybody
    cache.refresh()
    assert not cache.needs_refresh()
    clock.advance(interval)
    assert cache.needs_refresh()  # the first one claims it ...
    assert not cache.needs_refresh()  # ... the others use the current snapshot
    cache.refresh()
    clock.advance(interval)
    assert cache.needs_refresh()
    cache.invalidate_local()  # a change of this process: nobody serves the old one
    assert cache.needs_refresh() and cache.needs_refresh()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_inherit_a_held_lock(db: Any) -> None:
    cache.refresh()
    assert cache.peek() is not None
    lock = cache._state.lock
    lock.acquire()  # some thread of the parent is refreshing at fork time
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            ok = cache._state.lock.acquire(blocking=False) and cache.needs_refresh()
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
