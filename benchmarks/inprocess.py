"""In-process measurements: per-request overhead, queries per request, rebuild time and memory.

Django must be configured (``benchmarks.settings``) before this module is imported.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from benchmarks import workload
from benchmarks.floor import FloorMiddleware
from benchmarks.workload import Case
from cors_admin import cache
from cors_admin.engine import PolicySet, PolicySpec, compile_policies
from cors_admin.middleware import CorsAdminMiddleware

View = Callable[[HttpRequest], HttpResponseBase]


def view(request: HttpRequest) -> HttpResponse:
    """The trivial view: a fresh response per call, so header changes never accumulate."""
    return HttpResponse(b"ok")


def make_request(case: Case) -> HttpRequest:
    factory = RequestFactory()
    headers: dict[str, str] = {}
    if case.origin is not None:
        headers["Origin"] = case.origin
    if case.preflight:
        headers["Access-Control-Request-Method"] = workload.PREFLIGHT_METHOD
        headers["Access-Control-Request-Headers"] = workload.PREFLIGHT_HEADERS
    return factory.generic(case.method, case.path, headers=headers)


def install_snapshot(snapshot: PolicySet | None) -> None:
    """Make ``snapshot`` what ``cache.current()`` serves, with no revision check due.

    Uses the cache module's private state: the benchmark compiles large policy
    sets directly instead of writing each of them to the database.
    """
    cache._state.snapshot = snapshot
    cache._state.next_check = time.monotonic() + 1e9


# -- per-request overhead -----------------------------------------------------


class PathCycler:
    """Call ``target`` with the request's ``path_info`` set to the next of ``paths``.

    Used for the many-paths case, with a twin wrapping the bare view as the
    reference, so the cycling itself cancels out of the overhead.
    """

    def __init__(self, target: Callable[[HttpRequest], HttpResponseBase], paths: list[str]) -> None:
        self.target = target
        self.paths = paths
        self.i = 0

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        i = self.i
        self.i = i + 1
        request.path_info = self.paths[i % len(self.paths)]
        return self.target(request)


@dataclass
class Unit:
    variant: str
    case: Case
    call: Callable[[HttpRequest], HttpResponseBase]
    request: HttpRequest
    #: what the unit is compared with (timed in the same block); None: the bare view
    ref: Callable[[HttpRequest], HttpResponseBase] | None = None
    samples: list[float] = field(default_factory=list)  # overhead per call (ns), per round
    samples_cpu: list[float] = field(default_factory=list)  # the same in CPU time
    totals: list[float] = field(default_factory=list)  # wrapped call time per call (ns)


def make_unit(variant: str, case: Case, middleware: Callable[[HttpRequest], Any]) -> Unit:
    request = make_request(case)
    if not case.distinct_paths:
        return Unit(variant, case, middleware, request)
    paths = [f"{case.path}items/{k}/" for k in range(case.distinct_paths)]
    return Unit(variant, case, PathCycler(middleware, paths), request, PathCycler(view, paths))


@dataclass
class Variant:
    key: str
    label: str
    kind: str  # "floor" | "corsheaders" | "cors_admin"
    setup: Callable[[], None]
    units: list[Unit]
    scale: str = ""
    position: str = ""
    calls: int = 0  # calls per unit and round (fewer for very slow variants)
    bare: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)


#: A unit's block takes about ``calls`` x this many ns; slower variants get fewer calls.
BLOCK_BUDGET_PER_CALL_NS = 20_000


def _timed(call: Callable[[HttpRequest], Any], request: HttpRequest, n: int) -> tuple[int, int]:
    """Wall-clock and CPU time (ns) of ``n`` calls."""
    # ``request.headers`` is a cached property: drop it before every call so a
    # middleware that reads it pays for building it, as it would per real request.
    d = request.__dict__
    pop = d.pop
    clock = time.perf_counter_ns
    cpu = time.process_time_ns
    c0 = cpu()
    t0 = clock()
    for _ in range(n):
        pop("headers", None)
        call(request)
    t1 = clock()
    return t1 - t0, cpu() - c0


def _calibrate(v: Variant, calls: int) -> None:
    """Warm every unit up and pick the calls per round (fewer when a call is very slow)."""
    slowest = 0.0
    for u in v.units:
        for call in (u.call, u.ref):
            if call is not None:
                wall, _ = _timed(call, u.request, 5)
                slowest = max(slowest, wall / 5)
    budget = calls * BLOCK_BUDGET_PER_CALL_NS
    v.calls = calls if slowest * calls <= budget else max(10, int(budget / slowest))
    for u in v.units:
        for call in (u.call, u.ref):
            if call is not None:
                _timed(call, u.request, max(v.calls // 10, 10))


def run_rounds(variants: list[Variant], rounds: int, calls: int, seed: int = 1) -> None:
    """Interleaved rounds: per round, per variant (shuffled), bare view, its units, bare again.

    A unit's sample is its per-call time minus the smaller of the two bare timings
    of the same block (or minus its own reference, timed right after it). GC is
    collected before and disabled during each block. Both wall-clock
    (``perf_counter_ns``) and CPU time (``process_time_ns``, which does not count
    time the process was descheduled on a busy machine) are kept.
    """
    rng = random.Random(seed)
    for v in variants:  # warm-up, not recorded
        v.setup()
        _calibrate(v, calls)
    for _ in range(rounds):
        order = variants[:]
        rng.shuffle(order)
        for v in order:
            v.setup()
            n = v.calls
            units = v.units[:]
            rng.shuffle(units)
            gc.collect()
            gc.disable()
            try:
                request = units[0].request
                before = _timed(view, request, n)
                timings = [
                    (
                        u,
                        _timed(u.call, u.request, n),
                        _timed(u.ref, u.request, n) if u.ref is not None else None,
                    )
                    for u in units
                ]
                after = _timed(view, request, n)
            finally:
                gc.enable()
            # the smaller of the two: one preemption must not shrink every overhead of the block
            bare = min(before[0], after[0]) / n
            bare_cpu = min(before[1], after[1]) / n
            v.bare.append(bare)
            v.bare_cpu.append(bare_cpu)
            for u, total, ref in timings:
                u.totals.append(total[0] / n)
                u.samples.append(total[0] / n - (bare if ref is None else ref[0] / n))
                u.samples_cpu.append(total[1] / n - (bare_cpu if ref is None else ref[1] / n))


def check_unit(v: Variant, u: Unit) -> str | None:
    """What a correct answer looks like; returns a problem description or None."""
    response = u.call(u.request)
    acao = response.headers.get("Access-Control-Allow-Origin")
    vary = response.headers.get("Vary") or ""
    case = u.case
    if v.kind == "floor":
        return None if acao == case.origin or case.origin is None else f"ACAO {acao!r}"
    if case.expect_allowed:
        if acao != case.origin:
            return f"expected ACAO {case.origin!r}, got {acao!r} (status {response.status_code})"
        if case.preflight and "Access-Control-Allow-Methods" not in response.headers:
            return "allowed preflight without Access-Control-Allow-Methods"
    elif acao is not None:
        return f"expected no ACAO, got {acao!r}"
    if case.covered and "origin" not in vary.lower():
        return f"covered path without Vary: Origin (Vary {vary!r})"
    if not case.covered and vary:
        return f"uncovered path got Vary {vary!r}"
    if v.kind == "cors_admin" and case.preflight:
        expected = 204 if case.expect_allowed else 403
        if response.status_code != expected:
            return f"preflight status {response.status_code}, expected {expected}"
    return None


def summarize(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {"median": statistics.median(values), "p25": q[0], "p75": q[2], "min": min(values)}


# -- building the variants ----------------------------------------------------


def cors_admin_variant(
    key: str,
    label: str,
    snapshot: PolicySet,
    cases: dict[str, Case],
    scale: str,
    position: str = "",
) -> Variant:
    middleware = CorsAdminMiddleware(view)
    units = [make_unit(key, c, middleware) for c in cases.values()]
    return Variant(
        key, label, "cors_admin", lambda: install_snapshot(snapshot), units, scale, position
    )


def corsheaders_variant(key: str, label: str, origins: list[str]) -> Variant:
    from corsheaders.middleware import CorsMiddleware

    middleware = CorsMiddleware(view)

    def setup() -> None:
        django_settings.CORS_ALLOWED_ORIGINS = origins

    units = [make_unit(key, c, middleware) for c in workload.base_cases().values()]
    return Variant(key, label, "corsheaders", setup, units, scale=f"{len(origins)} origins")


def floor_variant() -> Variant:
    middleware = FloorMiddleware(view)
    cases = workload.base_cases()
    del cases["uncovered"]  # the floor covers every path
    units = [make_unit("floor", c, middleware) for c in cases.values()]
    return Variant("floor", "floor (ACAO + Vary only)", "floor", lambda: None, units)


# -- queries ------------------------------------------------------------------


def count_queries(variants: list[Variant], calls: int) -> dict[str, int]:
    """Queries made by ``calls`` requests of every case of every cors_admin variant."""
    requests = 0
    with CaptureQueriesContext(connection) as ctx:
        for v in variants:
            if v.kind != "cors_admin":
                continue
            v.setup()
            for u in v.units:
                for _ in range(calls):
                    u.call(u.request)
                requests += calls
    return {"requests": requests, "queries": len(ctx.captured_queries)}


def db_path_queries(
    variant: Variant, calls: int, interval: float, seconds: float
) -> dict[str, Any]:
    """The real path: no snapshot, the first request loads it, then the steady state.

    Then the same requests for ``seconds`` with ``CORS_ADMIN_REFRESH_INTERVAL =
    interval``, counting the revision checks.
    """
    cache.reset()
    unit = variant.units[0]
    with CaptureQueriesContext(connection) as first:
        unit.call(unit.request)
    requests = 0
    with CaptureQueriesContext(connection) as steady:
        for u in variant.units:
            for _ in range(calls):
                u.call(u.request)
            requests += calls
    timed_requests = 0
    # override_settings: cors_admin.conf remembers settings until setting_changed says otherwise
    with override_settings(CORS_ADMIN_REFRESH_INTERVAL=interval):
        make_check_due()
        unit.call(unit.request)  # the next check is scheduled with the shorter interval
        try:
            with CaptureQueriesContext(connection) as periodic:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    for _ in range(100):
                        unit.call(unit.request)
                    timed_requests += 100
        finally:
            make_check_due()
    return {
        "first_request_queries": len(first.captured_queries),
        "first_request_sql": [q["sql"][:120] for q in first.captured_queries],
        "steady_requests": requests,
        "steady_queries": len(steady.captured_queries),
        "interval": interval,
        "interval_seconds": seconds,
        "interval_requests": timed_requests,
        "interval_queries": len(periodic.captured_queries),
    }


def request_headers_cost(case: Case, calls: int, rounds: int) -> dict[str, float]:
    """What building ``request.headers`` (``HttpHeaders(META)``) costs once per request.

    django-cors-headers reads ``request.headers``; the timing loop drops the
    cached value before every call, so that cost is part of its overhead, as in
    a real request where nothing read ``request.headers`` before it.
    """
    from django.http.request import HttpHeaders

    meta = make_request(case).META
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            HttpHeaders(meta)
        samples.append((time.perf_counter_ns() - t0) / calls)
    return summarize(samples)


def make_check_due() -> None:
    """Let the next ``cache.current()`` check the revision (without forcing a rebuild)."""
    cache._state.next_check = 0.0


def revision_check_cost(repeats: int) -> dict[str, float]:
    """One revision check that finds nothing new (what a process does once per interval)."""
    cache.reset()
    cache.current()
    before = cache.rebuild_count()
    times = []
    for _ in range(repeats):
        make_check_due()
        t0 = time.perf_counter_ns()
        cache.current()
        times.append(time.perf_counter_ns() - t0)
    assert cache.rebuild_count() == before, "a revision check rebuilt the snapshot"
    return summarize([float(t) for t in times])


# -- the database and the rebuild ---------------------------------------------


class GCTimer:
    """Time spent in the cyclic garbage collector while active (via ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GCTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def full_collection_seconds(repeats: int = 3) -> float:
    """How long one full ``gc.collect()`` takes now (every request may trigger one)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_specs(specs: list[PolicySpec]) -> dict[str, float]:
    """Replace every policy in the database by ``specs`` (bulk_create), one transaction."""
    from cors_admin.models import CorsOrigin, CorsPolicy

    t0 = time.perf_counter()
    with transaction.atomic():
        CorsOrigin.objects.all().delete()
        CorsPolicy.objects.all().delete()
        CorsPolicy.objects.bulk_create(
            [
                CorsPolicy(
                    name=s.name,
                    path=s.path,
                    path_type=s.path_type,
                    priority=s.priority,
                    enabled=s.enabled,
                    allow_all_origins=s.allow_all_origins,
                    allow_credentials=s.allow_credentials,
                    allow_methods=list(s.allow_methods),
                    allow_headers=list(s.allow_headers),
                    expose_headers=list(s.expose_headers),
                    max_age=s.max_age,
                    allow_private_network=s.allow_private_network,
                )
                for s in specs
            ],
            batch_size=500,
        )
        ids = dict(CorsPolicy.objects.values_list("name", "id"))
        utc = dt.UTC
        CorsOrigin.objects.bulk_create(
            [
                CorsOrigin(
                    policy_id=ids[s.name],
                    origin=o.value,
                    expires_at=(
                        dt.datetime.fromtimestamp(o.expires_at, utc)
                        if o.expires_at is not None
                        else None
                    ),
                )
                for s in specs
                for o in s.origins
            ],
            batch_size=2000,
        )
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "policies": CorsPolicy.objects.count(),
        "origins": CorsOrigin.objects.count(),
    }


def measure_rebuild(repeats: int) -> dict[str, Any]:
    """Rebuild from the database, GC enabled (its collections are part of the real cost).

    * ``load_specs``: the two queries and the rows turned into ``PolicySpec``.
    * ``compile``: ``compile_policies(specs)`` from scratch.
    * ``cold``: ``cache.reset()`` then ``cache.current()``: revision check, load and
      compile with nothing to reuse (a process's first request) -- the target figure.
    * ``after_edit``: one origin of one policy changed (``QuerySet.update``, which
      bumps the revision), then ``cache.current()``: what every change costs a
      process; unchanged policies may be reused from the previous snapshot.
    """
    from cors_admin.models import CorsOrigin

    load: list[float] = []
    compile_: list[float] = []
    cold: list[float] = []
    cold_cpu: list[float] = []
    cold_gc: list[float] = []
    cold_gc_collections: list[list[int]] = []
    edit: list[float] = []
    cache.reset()
    cache.current()
    edited = CorsOrigin.objects.filter(origin__startswith="https://t").order_by("pk").first()
    assert edited is not None
    for r in range(repeats):
        t0 = time.perf_counter()
        specs = cache.load_specs()
        t1 = time.perf_counter()
        snapshot = compile_policies(specs, now=time.time())
        t2 = time.perf_counter()
        load.append(t1 - t0)
        compile_.append(t2 - t1)
        del specs, snapshot
        cache.reset()
        with GCTimer() as gc_timer:
            c3 = time.process_time()
            t3 = time.perf_counter()
            cache.current()
            cold.append(time.perf_counter() - t3)
            cold_cpu.append(time.process_time() - c3)
        cold_gc.append(gc_timer.seconds)
        cold_gc_collections.append(gc_timer.collections)
        before = cache.rebuild_count()
        CorsOrigin.objects.filter(pk=edited.pk).update(origin=f"https://edit{r}.t0.example.com")
        t4 = time.perf_counter()
        cache.current()
        edit.append(time.perf_counter() - t4)
        assert cache.rebuild_count() == before + 1, "the edit did not cause a rebuild"
    CorsOrigin.objects.filter(pk=edited.pk).update(origin=edited.origin)
    cache.reset()
    snapshot = cache.current()
    assert snapshot is not None
    return {
        "load_specs": summarize(load),
        "compile": summarize(compile_),
        "cold": summarize(cold),
        "cold_cpu": summarize(cold_cpu),
        "cold_gc": summarize(cold_gc),
        "cold_gc_collections": cold_gc_collections[-1],
        "after_edit": summarize(edit),
        "policies": len(snapshot),
        "origins": sum(len(p.spec.origins) for p in snapshot.policies),
        "errors": len(snapshot.errors),
    }


def measure_memory() -> dict[str, float]:
    """tracemalloc: peak while loading + compiling, and what the PolicySet keeps (incl. specs)."""
    cache.current()
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        specs = cache.load_specs()
        after_load = tracemalloc.get_traced_memory()[0]
        snapshot = compile_policies(specs, now=time.time())
        peak = tracemalloc.get_traced_memory()[1]
        del specs
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
        assert len(snapshot) > 0
        del snapshot
        gc.collect()
    finally:
        tracemalloc.stop()
    return {
        "peak_bytes": peak - base,
        "specs_bytes": after_load - base,
        "retained_bytes": retained - base,
    }


def decisions_agree(a: PolicySet, b: PolicySet, cases: list[Case]) -> bool:
    """The DB-loaded snapshot and the directly compiled one decide every case alike."""
    for c in cases:
        args = (
            c.path,
            c.origin,
            c.method,
            workload.PREFLIGHT_METHOD if c.preflight else None,
            workload.PREFLIGHT_HEADERS if c.preflight else None,
        )
        da, db = a.evaluate(*args), b.evaluate(*args)
        if (da.allowed, da.status, tuple(da.headers), da.vary) != (
            db.allowed,
            db.status,
            tuple(db.headers),
            db.vary,
        ):
            return False
        if (da.policy and da.policy.name) != (db.policy and db.policy.name):
            return False
    return True
