"""The process-wide policy snapshot and the revision that invalidates it.

* :func:`current` returns the compiled :class:`~cors_admin.engine.PolicySet`.
  Between two checks it touches nothing but a clock: zero queries. At most
  once per ``CORS_ADMIN_REFRESH_INTERVAL`` a process reads the shared revision
  (one query, or one cache ``get``) and rebuilds only when it changed.
* Every change schedules :func:`schedule_bump` with ``transaction.on_commit``:
  after the commit the local snapshot is marked stale (this process serves the
  change at once) and the shared revision is bumped (other processes and
  servers follow within the interval). A rolled-back change never bumps.
* Fail-static: an error while refreshing keeps the last good snapshot (and is
  logged, rate-limited); with no snapshot at all :func:`current` returns
  ``None`` and the middleware adds no CORS headers.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from .conf import settings
from .engine import OriginSpec, PolicySet, PolicySpec, compile_policies

__all__ = [
    "bump",
    "current",
    "invalidate_local",
    "load_specs",
    "needs_refresh",
    "peek",
    "read_revision",
    "refresh",
    "reset",
    "schedule_bump",
]

logger = logging.getLogger("cors_admin")

_POLICY_FIELDS = (
    "id",
    "name",
    "path",
    "path_type",
    "priority",
    "enabled",
    "allow_all_origins",
    "allow_credentials",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "max_age",
    "allow_private_network",
)


class _State:
    def __init__(self) -> None:
        self.snapshot: PolicySet | None = None
        self.next_check = 0.0  # time.monotonic() after which the revision is checked
        self.lock = threading.Lock()
        self.last_error_log = float("-inf")
        self.rebuilds = 0  # how many snapshots this process compiled (for tests and ops)


_state = _State()


def peek() -> PolicySet | None:
    """The snapshot as it is, without checking for a newer revision."""
    return _state.snapshot


def needs_refresh() -> bool:
    return time.monotonic() >= _state.next_check


def current() -> PolicySet | None:
    """The snapshot to answer a request with; refreshes at most once per interval."""
    if time.monotonic() < _state.next_check:
        return _state.snapshot
    return refresh()


def invalidate_local() -> None:
    """Make this process check the revision on its next request."""
    _state.next_check = 0.0


def reset() -> None:
    """Forget the snapshot entirely (tests; a process fork that wants a clean start)."""
    with _state.lock:
        _state.snapshot = None
        _state.next_check = 0.0


def rebuild_count() -> int:
    return _state.rebuilds


def _alias() -> str:
    from .models import CorsPolicy

    return router.db_for_read(CorsPolicy) or DEFAULT_DB_ALIAS


def refresh(force: bool = False) -> PolicySet | None:
    """Check the revision now and rebuild if it moved (or if ``force``).

    Only one thread per process refreshes at a time; the others keep using the
    previous snapshot instead of waiting (unless there is none yet).
    """
    snapshot = _state.snapshot
    if snapshot is None:
        acquired = _state.lock.acquire(timeout=10)
    else:
        acquired = _state.lock.acquire(blocking=False)
    if not acquired:
        return _state.snapshot
    try:
        started = time.monotonic()
        if not force and started < _state.next_check:
            return _state.snapshot  # another thread refreshed while we waited
        _state.next_check = started + max(settings.REFRESH_INTERVAL, 0.0)
        try:
            revision = read_revision()
            snapshot = _state.snapshot
            now = time.time()
            if force or snapshot is None or snapshot.revision != revision:
                snapshot = compile_policies(load_specs(), now=now, revision=revision)
                _state.rebuilds += 1
            elif snapshot.valid_until is not None and now >= snapshot.valid_until:
                # An allowlist entry expired: recompile from the rows we already hold.
                snapshot = compile_policies(snapshot.specs, now=now, revision=revision)
                _state.rebuilds += 1
            else:
                return snapshot
            for error in snapshot.errors:
                logger.warning("cors_admin: %s", error)
            _state.snapshot = snapshot
        except Exception:
            _log_failure()
            _discard_broken_connection()
        return _state.snapshot
    finally:
        _state.lock.release()


def _log_failure() -> None:
    now = time.monotonic()
    if now - _state.last_error_log >= settings.ERROR_LOG_INTERVAL:
        _state.last_error_log = now
        state = (
            "keeping the last good snapshot"
            if _state.snapshot
            else "no snapshot yet: no CORS headers"
        )
        logger.exception("cors_admin: could not refresh CORS policies (%s)", state)


def _discard_broken_connection() -> None:
    try:
        conn = connections[_alias()]
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()
    except Exception:  # pragma: no cover - best effort only
        pass


def _run_query(alias: str, func: Any) -> Any:
    """Run a read; inside an outer transaction use a savepoint so a failure cannot poison it."""
    if connections[alias].in_atomic_block:
        with transaction.atomic(using=alias):
            return func()
    return func()


def load_specs() -> list[PolicySpec]:
    """Read every enabled policy and its entries: two queries, whatever the counts."""
    from .models import CorsOrigin, CorsPolicy

    alias = _alias()

    def query() -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
        rows = list(CorsPolicy.objects.using(alias).filter(enabled=True).values(*_POLICY_FIELDS))
        entries = list(
            CorsOrigin.objects.using(alias)
            .filter(policy__enabled=True)
            .values_list("policy_id", "origin", "expires_at")
            .order_by()
        )
        return rows, entries

    rows, entries = _run_query(alias, query)
    by_policy: dict[int, list[OriginSpec]] = {}
    for policy_id, origin, expires_at in entries:
        by_policy.setdefault(policy_id, []).append(
            OriginSpec(origin, expires_at.timestamp() if expires_at is not None else None)
        )
    return [spec_from_row(row, by_policy.get(row["id"], ())) for row in rows]


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


def spec_from_row(row: dict[str, Any], origins: Any = ()) -> PolicySpec:
    return PolicySpec(
        id=row.get("id"),
        name=row["name"],
        path=row["path"],
        path_type=row["path_type"],
        priority=row["priority"],
        enabled=row["enabled"],
        allow_all_origins=row["allow_all_origins"],
        origins=tuple(origins),
        allow_credentials=row["allow_credentials"],
        allow_methods=_as_tuple(row["allow_methods"]),
        allow_headers=_as_tuple(row["allow_headers"]),
        expose_headers=_as_tuple(row["expose_headers"]),
        max_age=row["max_age"],
        allow_private_network=row["allow_private_network"],
    )


# -- the revision -------------------------------------------------------------


def read_revision() -> int:
    """The shared revision: one cache ``get`` or one single-row query."""
    alias = settings.REVISION_CACHE
    if alias:
        cache = caches[alias]
        key = settings.REVISION_CACHE_KEY
        value = cache.get(key)
        if value is None:
            # Lost (eviction, restart): start from a fresh value every process will see as new.
            cache.add(key, time.time_ns() // 1000, timeout=None)
            value = cache.get(key)
        return int(value)
    from .models import CorsRevision

    db = _alias()
    value = _run_query(
        db,
        lambda: CorsRevision.objects.using(db).filter(pk=1).values_list("value", flat=True).first(),
    )
    return int(value or 0)


def bump(using: str | None = None) -> None:
    """Move the shared revision forward now (normally called by :func:`schedule_bump`)."""
    invalidate_local()
    alias = settings.REVISION_CACHE
    if alias:
        cache = caches[alias]
        key = settings.REVISION_CACHE_KEY
        try:
            cache.incr(key)
        except ValueError:
            cache.add(key, time.time_ns() // 1000, timeout=None)
        return
    from django.db.models import F

    from .models import CorsRevision

    db = using or DEFAULT_DB_ALIAS
    if not CorsRevision.objects.using(db).filter(pk=1).update(value=F("value") + 1):
        CorsRevision.objects.using(db).get_or_create(pk=1, defaults={"value": 2})


def _bump_after_commit(using: str) -> None:
    try:
        bump(using)
    except Exception:
        invalidate_local()
        logger.exception("cors_admin: could not bump the CORS policy revision")


def schedule_bump(using: str | None = None) -> None:
    """Bump the revision once the current transaction on ``using`` commits (now if none)."""
    using = using or DEFAULT_DB_ALIAS
    conn = transaction.get_connection(using)
    if conn.in_atomic_block:
        for entry in conn.run_on_commit:
            if getattr(entry[1], "_cors_admin_bump", False):
                return  # one bump per transaction is enough

    def callback() -> None:
        _bump_after_commit(using)

    callback._cors_admin_bump = True  # type: ignore[attr-defined]
    transaction.on_commit(callback, using=using)


def _on_change(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    schedule_bump(using)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    from .models import CorsOrigin, CorsPolicy

    for model in (CorsPolicy, CorsOrigin):
        post_save.connect(
            _on_change, sender=model, dispatch_uid=f"cors_admin_save_{model.__name__}"
        )
        post_delete.connect(
            _on_change, sender=model, dispatch_uid=f"cors_admin_delete_{model.__name__}"
        )
