"""The process-wide policy snapshot and the revision that invalidates it.

* :func:`current` returns the compiled :class:`~cors_admin.engine.PolicySet`.
  Between two checks it touches nothing but a clock: zero queries. At most
  once per ``CORS_ADMIN_REFRESH_INTERVAL`` a process reads the shared revision
  (one query, or one cache ``get``) and rebuilds only when it changed. A
  rebuild reads every policy and entry in a constant number of queries, inside
  one read transaction (a consistent view of the tables), and swaps the new
  snapshot in with a single assignment: a request sees the old snapshot or the
  new one, never half of either.
* One thread per process rebuilds at a time; the others keep answering from
  the previous snapshot instead of waiting. They wait only when there is no
  snapshot yet, or right after this process committed a change (so the
  process that made a change serves it at once).
* Every change schedules :func:`schedule_bump` with ``transaction.on_commit``:
  after the commit the shared revision is bumped (other processes and servers
  follow within the interval) and the local snapshot is marked stale. A
  rolled-back change never bumps. A bump that fails (database or cache down
  right after the commit) is retried at each refresh of this process.
* Entries with an expiry stop matching at that time without any write: the
  snapshot knows its earliest expiry (``valid_until``) and the next check is
  scheduled no later than that; the snapshot is then recompiled from the rows
  it already holds, even while the database is unreachable.
* Fail-static: an error while refreshing keeps the last good snapshot (logged
  at most once per ``CORS_ADMIN_ERROR_LOG_INTERVAL``, and once more on
  recovery); with no snapshot at all :func:`current` returns ``None`` and the
  middleware adds no CORS headers. Either way the next interval retries.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, router, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

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
    "rebuild_count",
    "refresh",
    "reset",
    "schedule_bump",
]

logger = logging.getLogger("cors_admin")

_JSON_FIELDS = ("allow_methods", "allow_headers", "expose_headers")
# Every column a PolicySpec holds (the engine's fields carry the models' names).
_POLICY_FIELDS = ("id", *(f.name for f in fields(PolicySpec) if f.name not in ("id", "origins")))
_SCALAR_FIELDS = tuple(f for f in _POLICY_FIELDS if f not in _JSON_FIELDS)

#: How long a thread waits for another one's refresh when it has to (no snapshot yet,
#: or a change of this process not served yet) before it answers from what there is.
_WAIT_SECONDS = 10.0
#: How long an async caller's claim on a due refresh holds off the other callers.
_CLAIM_SECONDS = 10.0


class _State:
    """Everything the process knows. Readers take no lock: each field is one atomic
    reference; writers of the snapshot hold ``lock``."""

    def __init__(self) -> None:
        self.snapshot: PolicySet | None = None
        self.next_check = 0.0  # time.monotonic() after which the revision is checked
        self.lock = threading.Lock()  # held by the one thread refreshing
        self.schedule_lock = threading.Lock()  # orders next_check writes with invalidate_local
        self.claimed_until = 0.0  # async callers: one of them owns the due refresh
        self.local_writes = 0  # changes this process committed (see invalidate_local)
        self.local_writes_seen = 0  # ... of which the snapshot is known to include
        self.pending_bump: str | None = None  # a bump that failed after its commit: retried
        self.last_error_log = float("-inf")
        self.failures = 0  # refreshes failed in a row
        self.failure_logged = False  # ... and one of them was logged: log the recovery
        self.rebuilds = 0  # how many snapshots this process compiled (for tests and ops)


_state = _State()


def _after_fork_in_child() -> None:
    # A lock held by some thread of the parent at fork time would stay held forever in
    # the child (that thread does not exist there): start with a fresh one, and check
    # the revision on the first request rather than trusting the parent's schedule.
    _state.lock = threading.Lock()
    _state.schedule_lock = threading.Lock()
    _state.next_check = 0.0
    _state.claimed_until = 0.0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def peek() -> PolicySet | None:
    """The snapshot as it is, without checking for a newer revision."""
    return _state.snapshot


def _must_wait() -> bool:
    """No snapshot yet, or a change of this process to serve (unless refreshes are failing)."""
    if _state.snapshot is None:
        return True
    return _state.local_writes != _state.local_writes_seen and not _state.failures


def needs_refresh() -> bool:
    """Whether the caller should call :func:`refresh` now (the async middleware's test).

    Once the interval has passed, the first caller claims the refresh and the
    next callers are told ``False`` (they answer from the current snapshot)
    until that refresh ends. Without a snapshot, or right after a change made by
    this process, every caller is told ``True`` so that none serves stale data.
    """
    now = time.monotonic()
    if now < _state.next_check:
        return False
    if _must_wait():
        return True
    if now < _state.claimed_until:
        return False
    _state.claimed_until = now + _CLAIM_SECONDS
    return True


def current() -> PolicySet | None:
    """The snapshot to answer a request with; refreshes at most once per interval."""
    if time.monotonic() < _state.next_check:
        return _state.snapshot
    return refresh()


def invalidate_local() -> None:
    """Make this process reload the policies on its next request (after a local change)."""
    with _state.schedule_lock:
        _state.local_writes += 1
        _state.next_check = 0.0
    _state.claimed_until = 0.0


def reset() -> None:
    """Forget the snapshot entirely (tests; a process that wants a clean start)."""
    with _state.lock:
        _state.snapshot = None
        _state.next_check = 0.0
        _state.claimed_until = 0.0
        _state.local_writes_seen = _state.local_writes
        _state.last_error_log = float("-inf")
        _state.failures = 0
        _state.failure_logged = False
        _state.pending_bump = None


def rebuild_count() -> int:
    """How many snapshots this process compiled so far."""
    return _state.rebuilds


def _alias() -> str:
    from .models import CorsPolicy

    return router.db_for_read(CorsPolicy) or DEFAULT_DB_ALIAS


def refresh(force: bool = False) -> PolicySet | None:
    """Check the revision now and rebuild if it moved (or if ``force``).

    Only one thread per process refreshes at a time; the others keep using the
    previous snapshot instead of waiting (unless there is none yet, or this
    process committed a change that the snapshot may not hold yet). Never
    raises because the database or the revision cache is unreachable.
    """
    state = _state
    if _must_wait():
        acquired = state.lock.acquire(timeout=_WAIT_SECONDS)
    else:
        acquired = state.lock.acquire(blocking=False)
    if not acquired:
        return state.snapshot
    try:
        started = time.monotonic()
        writes = state.local_writes
        if not force and started < state.next_check:
            return state.snapshot  # another thread refreshed while we waited
        force = force or writes != state.local_writes_seen
        # next_check stays due until the refresh ends: meanwhile the other threads come
        # here, and wait for it if this process has a change to serve (see _must_wait).
        try:
            problem = _refresh_locked(force)
        except Exception as exc:
            _expire_locked()  # expiry needs no database
            _log_failure(exc)
            _discard_broken_connection()
        else:
            state.local_writes_seen = writes  # on failure: reload again next time
            if problem is not None:
                _log_failure(problem, partial=True)
            elif state.failures:
                if state.failure_logged:  # a flapping source: as rate-limited as its errors
                    logger.warning(
                        "cors_admin: CORS policies refreshed again after %d failed attempt(s)",
                        state.failures,
                    )
                state.failures = 0
                state.failure_logged = False
        finally:
            _schedule_next_check(started, writes)
        return state.snapshot
    finally:
        state.claimed_until = 0.0
        state.lock.release()


def _refresh_locked(force: bool) -> Exception | None:
    """Refresh; raise if nothing could be done, return the error of a step that failed
    without stopping the rest (a retried bump, or the revision when ``force``)."""
    problem: Exception | None = None
    pending = _state.pending_bump
    # Not inside a caller's transaction (database revision): its rollback would undo
    # the bump after we forgot it, and a failed UPDATE there would break that transaction.
    if pending is not None and (
        settings.REVISION_CACHE or not transaction.get_connection(pending).in_atomic_block
    ):
        try:  # other processes learn of a change of ours late, but not never
            _bump_shared(pending)
            _state.pending_bump = None
        except Exception as exc:
            problem = exc
    revision: object
    try:
        revision = read_revision()
    except Exception as exc:
        if not force:
            raise
        # This process changed the policies: serve the change from the database even
        # though the revision is unknown (a fresh object differs from any later read).
        revision, problem = object(), exc
    snapshot = _state.snapshot
    if force or snapshot is None or snapshot.revision != revision:
        if _has_pending_bump(connections[_alias()]):
            # Read inside a transaction holding uncommitted changes of ours: if it rolls
            # back, no bump will tell. A revision no read matches makes the next check
            # rebuild from what is committed by then.
            revision = object()
        _rebuild(load_specs, revision)
    else:
        _expire_locked()
    return problem


def _expire_locked() -> None:
    """Recompile from the rows already held when an allowlist entry expired."""
    snapshot = _state.snapshot
    if snapshot is not None and snapshot.valid_until is not None:
        if time.time() >= snapshot.valid_until:
            _rebuild(lambda: snapshot.specs, snapshot.revision)


def _rebuild(specs: Callable[[], Iterable[PolicySpec]], revision: object) -> None:
    """Compile and install a snapshot, reusing the unchanged policies of the current one."""
    # A rebuild allocates hundreds of thousands of objects without a cycle among
    # them; the cyclic collector would only walk them again and again meanwhile.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        new = compile_policies(
            specs(), now=time.time(), revision=revision, previous=_state.snapshot
        )
    finally:
        if gc_was_enabled:
            gc.enable()
    _install(new)


def _install(snapshot: PolicySet) -> None:
    for error in snapshot.errors:
        logger.warning("cors_admin: %s", error)
    _state.rebuilds += 1
    _state.snapshot = snapshot  # the swap: one reference assignment


def _schedule_next_check(started: float, writes: int) -> None:
    """Schedule the next check one interval after ``started``, and no later than the
    snapshot's earliest expiry, unless this process committed a change meanwhile."""
    due = started + max(settings.REFRESH_INTERVAL, 0.0)
    snapshot = _state.snapshot
    if snapshot is not None and snapshot.valid_until is not None:
        due = min(due, time.monotonic() + max(snapshot.valid_until - time.time(), 0.0))
    with _state.schedule_lock:
        if _state.local_writes == writes:
            _state.next_check = due
        # else: invalidate_local() left the check due; the refresh may predate that change.


def _log_failure(error: Exception, partial: bool = False) -> None:
    _state.failures += 1
    now = time.monotonic()
    if now - _state.last_error_log >= settings.ERROR_LOG_INTERVAL:
        _state.last_error_log = now
        _state.failure_logged = True
        if partial:
            what = (
                "this process reloaded its own change, but the shared revision could not be "
                "read or bumped: other processes may not see the change yet"
            )
        elif _state.snapshot is not None:
            what = "keeping the last good snapshot"
        else:
            what = "no snapshot yet: no CORS headers until one loads"
        logger.error(
            "cors_admin: could not refresh CORS policies (%s; %d failed attempt(s) in a row; "
            "retrying every %ss, logging at most every %ss)",
            what,
            _state.failures,
            settings.REFRESH_INTERVAL,
            settings.ERROR_LOG_INTERVAL,
            exc_info=error,
        )


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
    """Read every enabled policy and its entries: two queries, whatever the counts.

    Both run in one read transaction, so they see the same committed state
    (PostgreSQL is asked for REPEATABLE READ; SQLite and MySQL/InnoDB give a
    consistent read within a transaction by default).
    """
    from .models import CorsOrigin, CorsPolicy

    alias = _alias()
    conn = connections[alias]

    def query() -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
        # The JSON lists come back as text and are decoded once per distinct value:
        # most policies share the same method and header lists.
        rows = list(
            CorsPolicy.objects.using(alias)
            .filter(enabled=True)
            .annotate(**{f"{name}_json": Cast(name, TextField()) for name in _JSON_FIELDS})
            .values(*_SCALAR_FIELDS, *(f"{name}_json" for name in _JSON_FIELDS))
        )
        entries = list(
            CorsOrigin.objects.using(alias)
            .filter(policy__enabled=True)
            .values_list("policy_id", "origin", "expires_at")
            .order_by()
        )
        return rows, entries

    outer = conn.in_atomic_block  # the caller's transaction: read its view, in a savepoint
    with transaction.atomic(using=alias):
        if not outer and conn.vendor == "postgresql":
            with conn.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows, entries = query()
    by_policy: dict[int, list[OriginSpec]] = {}
    for policy_id, origin, expires_at in entries:
        by_policy.setdefault(policy_id, []).append(
            OriginSpec(origin, expires_at.timestamp() if expires_at is not None else None)
        )
    decoded: dict[str | None, tuple[str, ...]] = {}
    for row in rows:
        for name in _JSON_FIELDS:
            text = row.pop(f"{name}_json")
            try:
                row[name] = decoded[text]
            except KeyError:
                row[name] = decoded[text] = _as_tuple(_json_or_none(text))
    # Each row now holds exactly the fields of a PolicySpec but its origins.
    return [PolicySpec(**row, origins=tuple(by_policy.get(row["id"], ()))) for row in rows]


def _json_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


# -- the revision -------------------------------------------------------------


def _fresh_revision() -> int:
    # A value no process can hold yet (the counter was lost or never created).
    return time.time_ns() // 1000


def read_revision() -> int:
    """The shared revision: one cache ``get`` or one single-row query."""
    alias = settings.REVISION_CACHE
    if alias:
        cache = caches[alias]
        key = settings.REVISION_CACHE_KEY
        value = cache.get(key)
        if value is None:
            # Lost (eviction, restart): start from a fresh value every process will see as new.
            cache.add(key, _fresh_revision(), timeout=None)
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
    """Move the shared revision forward now (normally called by :func:`schedule_bump`).

    This process reloads on its next request whether or not the bump succeeds.
    """
    try:
        _bump_shared(using)
    finally:
        invalidate_local()


def _bump_shared(using: str | None) -> None:
    alias = settings.REVISION_CACHE
    if alias:
        cache = caches[alias]
        key = settings.REVISION_CACHE_KEY
        try:
            cache.incr(key)
        except ValueError:  # the key is missing: a fresh value is a change for everyone
            if not cache.add(key, _fresh_revision(), timeout=None):
                cache.incr(key)
        return
    from django.db.models import F
    from django.utils import timezone

    from .models import CorsRevision

    db = using or DEFAULT_DB_ALIAS
    rows = CorsRevision.objects.using(db).filter(pk=1)
    if rows.update(value=F("value") + 1, updated_at=timezone.now()):
        return
    try:
        with transaction.atomic(using=db):
            CorsRevision.objects.using(db).create(pk=1, value=_fresh_revision())
    except IntegrityError:  # created meanwhile by another process: move it once more
        rows.update(value=F("value") + 1, updated_at=timezone.now())


def _bump_after_commit(using: str) -> None:
    try:
        bump(using)
    except Exception:
        _state.pending_bump = using
        logger.exception(
            "cors_admin: could not bump the CORS policy revision after a change; this process "
            "serves the change and retries the bump every refresh interval"
        )


def _has_pending_bump(conn: Any) -> bool:
    """Whether ``conn`` is in a transaction with a change of ours not committed yet."""
    return bool(conn.in_atomic_block) and any(
        getattr(entry[1], "_cors_admin_bump", False) for entry in conn.run_on_commit
    )


def schedule_bump(using: str | None = None) -> None:
    """Bump the revision once the current transaction on ``using`` commits (now if none).

    Several changes in one transaction schedule one bump. A rolled-back
    transaction bumps nothing: Django drops its ``on_commit`` callbacks.
    """
    using = using or DEFAULT_DB_ALIAS
    # A pending bump covers this change too: Django drops a callback only when a
    # savepoint that was open at its registration is rolled back, which can happen
    # only while that savepoint is still open, and then this change goes with it.
    if _has_pending_bump(transaction.get_connection(using)):
        return

    def callback() -> None:
        _bump_after_commit(using)

    callback._cors_admin_bump = True  # type: ignore[attr-defined]
    transaction.on_commit(callback, using=using)


def _on_change(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    # Also fires for fixture loads (``raw=True``): loaddata runs in a transaction, so
    # the bump happens once, after the fixture committed.
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
