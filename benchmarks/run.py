#!/usr/bin/env python
"""cors_admin benchmarks: per-request overhead, scaling, rebuild, queries, full stack.

A benchmark, not a test: it prints figures and never fails on timing (it exits
non-zero only when a middleware gives a wrong answer, which would make the
figures meaningless). See docs/performance.md.

    .venv/bin/python benchmarks/run.py            # full run (a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # fewer rounds, shorter full stack
    .venv/bin/python benchmarks/run.py --json results.json   # also write JSON ('-': stdout)
    .venv/bin/python benchmarks/run.py --profile  # cProfile of the request path and the rebuild
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Mode:
    name: str
    rounds: int
    calls: int
    scales: tuple[int, ...]  # policies (10 origins each); the last one goes through the DB
    corsheaders_big: int
    rebuild_repeats: int
    query_calls: int
    interval_seconds: float
    revision_checks: int
    fullstack_seconds: float
    fullstack_passes: int
    fullstack_workers: int
    fullstack_modes: tuple[str, ...]
    distinct_paths: int = 10000  # the many-paths case: more than the engine's match memo
    interval: float = 1.0  # CORS_ADMIN_REFRESH_INTERVAL for the revision-check count


_FULLSTACK_ALL = ("cors_admin", "none", "floor", "corsheaders")
MODES = {
    "full": Mode(
        name="full", rounds=20, calls=2000, scales=(1000, 10000), corsheaders_big=1000,
        rebuild_repeats=5, query_calls=1000, interval_seconds=2.5, revision_checks=200,
        fullstack_seconds=5, fullstack_passes=3, fullstack_workers=2,
        fullstack_modes=_FULLSTACK_ALL,
    ),
    "quick": Mode(
        name="quick", rounds=5, calls=500, scales=(1000, 10000), corsheaders_big=1000,
        rebuild_repeats=2, query_calls=200, interval_seconds=1.2, revision_checks=50,
        fullstack_seconds=3, fullstack_passes=1, fullstack_workers=2,
        fullstack_modes=_FULLSTACK_ALL,
    ),
    # correctness smoke run (tests/test_benchmarks_smoke.py): tiny sizes, figures meaningless
    "tiny": Mode(
        name="tiny", rounds=2, calls=20, scales=(20, 100), corsheaders_big=50,
        rebuild_repeats=1, query_calls=5, interval_seconds=0.3, revision_checks=5,
        fullstack_seconds=1, fullstack_passes=1, fullstack_workers=1,
        fullstack_modes=("cors_admin", "none", "floor"), distinct_paths=50, interval=0.1,
    ),
}  # fmt: skip


CASE_ORDER = (
    "get_allowed",
    "get_wildcard",
    "get_denied",
    "get_no_origin",
    "preflight_allowed",
    "preflight_denied",
    "uncovered",
    "get_regex",
    "get_distinct",
    "uncovered_distinct",
    "get_regex_distinct",
)

MODE_NAMES = {"none": "no CORS middleware", "floor": "floor", "corsheaders": "django-cors-headers"}

TARGETS = {
    "vs_corsheaders": 0.25,
    "vs_floor": 3.0,
    "scale": 1.2,
    "rebuild_s": 1.0,
}


def configure(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["CORS_ADMIN_BENCH_DB"] = db_path
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def machine() -> dict[str, Any]:
    import django

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    versions: dict[str, str] = {}
    for dist in ("django-cors-headers", "gunicorn"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[dist] = version(dist)
    with contextlib.suppress(Exception):
        import sqlite3

        versions["sqlite"] = sqlite3.sqlite_version
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        **versions,
        "loadavg_start": os.getloadavg(),
    }


def us(ns: float | None) -> str:
    return "—" if ns is None else f"{ns / 1000:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer rounds, shorter full stack")
    group.add_argument("--tiny", action="store_true", help="correctness smoke run (tiny sizes)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--no-fullstack", action="store_true", help="skip the gunicorn runs")
    parser.add_argument("--fullstack-only", action="store_true", help="only the gunicorn runs")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--calls", type=int, help="override the calls per round")
    parser.add_argument("--profile", action="store_true", help="also print cProfile hotspots")
    parser.add_argument(
        "--markdown", metavar="PATH", help="write the tables as Markdown ('-': stdout)"
    )
    parser.add_argument(
        "--from-json", metavar="PATH", help="measure nothing: report a saved --json file"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        report(saved, print)
        if args.markdown:
            write_text(args.markdown, markdown(saved))
        return 0

    mode = MODES["quick" if args.quick else "tiny" if args.tiny else "full"]
    if args.rounds or args.calls:
        mode = Mode(
            **{
                **mode.__dict__,
                "rounds": args.rounds or mode.rounds,
                "calls": args.calls or mode.calls,
            }
        )
    out: TextIO = sys.stderr if args.json == "-" else sys.stdout

    def log(msg: str = "") -> None:
        print(msg, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="cors_admin_bench_") as tmp:
        configure(str(Path(tmp) / "bench.sqlite3"))
        results: dict[str, Any] = {"mode": mode.name, "machine": machine()}
        started = time.monotonic()
        problems: list[str] = []
        if not args.fullstack_only:
            problems = in_process(mode, results, log, args.profile)
        if not args.no_fullstack:
            from benchmarks import fullstack

            log("Full stack (gunicorn, loopback) ...")
            results["fullstack"] = fullstack.run(
                mode.fullstack_seconds,
                mode.fullstack_passes,
                mode.fullstack_workers,
                connections=4,
                modes=mode.fullstack_modes,
                loadgen=args.loadgen,
                log=log,
            )
        results["machine"]["loadavg_end"] = os.getloadavg()
        results["seconds"] = time.monotonic() - started
        results["problems"] = problems
        report(results, log)
    if args.json:
        write_text(args.json, json.dumps(results, indent=2, default=str))
    if args.markdown:
        write_text(args.markdown, markdown(results))
    if problems:
        log("WRONG ANSWERS (figures above are not meaningful):")
        for p in problems:
            log(f"  {p}")
        return 1
    return 0


def in_process(mode: Mode, results: dict[str, Any], log: Any, profile: bool) -> list[str]:
    from django.conf import settings as django_settings

    from benchmarks import inprocess as ip
    from benchmarks import workload
    from cors_admin import cache
    from cors_admin.engine import compile_policies

    problems: list[str] = []
    results["config"] = {
        "rounds": mode.rounds,
        "calls_per_round": mode.calls,
        "gc": "collected before and disabled during each timed block",
        "overhead": "median over rounds of (middleware(view) - view) per call, same block",
    }

    # -- policy sets ----------------------------------------------------------
    log(f"cors_admin benchmarks ({mode.name} mode): building policy sets ...")
    full_gc_before = ip.full_collection_seconds()
    base = compile_policies([workload.base_spec()])
    sets: dict[int, Any] = {}
    for n in mode.scales[:-1]:
        sets[n] = compile_policies(workload.scaled_specs(n), now=time.time())
        if sets[n].errors:
            problems.append(f"{n} policies: compile errors {sets[n].errors[:3]}")

    # the largest set goes through the real database: bulk_create, then the cache loads it
    big = mode.scales[-1]
    big_specs = workload.scaled_specs(big)
    log(f"  writing {big:,} policies / {big * workload.ORIGINS_PER_POLICY:,} origins to SQLite ...")
    results["db_write"] = ip.write_specs(big_specs)
    log("  measuring the rebuild ...")
    results["rebuild"] = ip.measure_rebuild(mode.rebuild_repeats)
    if results["rebuild"]["errors"]:
        problems.append(f"rebuild: {results['rebuild']['errors']} compile errors")
    results["memory"] = ip.measure_memory()
    cache.reset()
    db_snapshot = cache.current()  # the real path: revision + two queries + compile
    assert db_snapshot is not None
    direct = compile_policies(big_specs, now=time.time())
    regex_index = workload.last_regex_index(big)
    agree_cases = [
        c
        for i in workload.target_indexes(big).values()
        for c in workload.scaled_cases(i, regex_index).values()
    ]
    results["db_matches_direct_compile"] = ip.decisions_agree(db_snapshot, direct, agree_cases)
    if not results["db_matches_direct_compile"]:
        problems.append("the snapshot loaded from the DB decides differently from compile_policies")
    del direct, big_specs
    sets[big] = db_snapshot
    results["full_gc_seconds"] = {
        "before": full_gc_before,
        "with_snapshots": ip.full_collection_seconds(),
    }

    # -- variants -------------------------------------------------------------
    variants = [
        ip.floor_variant(),
        ip.corsheaders_variant(
            "corsheaders_3", "django-cors-headers, 3 origins", list(workload.BASE_ORIGINS)
        ),
        ip.corsheaders_variant(
            f"corsheaders_{mode.corsheaders_big}",
            f"django-cors-headers, {mode.corsheaders_big:,} origins",
            workload.corsheaders_origins(mode.corsheaders_big),
        ),
        ip.cors_admin_variant(
            "cors_admin_1",
            "cors_admin, 1 policy / 3 origins",
            base,
            workload.base_cases(mode.distinct_paths),
            "1/3",
        ),
    ]
    for n in mode.scales:
        regex = workload.last_regex_index(n)
        for position, index in workload.target_indexes(n).items():
            last = position == "last"
            cases = workload.scaled_cases(
                index, regex if last else None, mode.distinct_paths if last else 0
            )
            origins = n * workload.ORIGINS_PER_POLICY
            variants.append(
                ip.cors_admin_variant(
                    f"cors_admin_{n}_{position}",
                    f"cors_admin, {n:,} pol / {origins:,} orig, {position}",
                    sets[n],
                    cases,
                    f"{n}/{origins}",
                    position,
                )
            )
    for v in variants:
        v.setup()
        for u in v.units:
            problem = ip.check_unit(v, u)
            if problem:
                problems.append(f"{v.label} / {u.case.title}: {problem}")

    # -- queries --------------------------------------------------------------
    log("  counting queries ...")
    big_last = next(v for v in variants if v.key == f"cors_admin_{big}_last")
    big_last.setup = lambda: None  # served by the real cache path below, not installed
    results["queries"] = {
        "db_path": ip.db_path_queries(
            big_last, mode.query_calls, mode.interval, mode.interval_seconds
        ),
        "installed": ip.count_queries(variants, mode.query_calls),
    }
    results["revision_check_ns"] = ip.revision_check_cost(mode.revision_checks)
    steady = (
        results["queries"]["db_path"]["steady_queries"] + results["queries"]["installed"]["queries"]
    )
    steady_requests = (
        results["queries"]["db_path"]["steady_requests"]
        + results["queries"]["installed"]["requests"]
    )
    results["queries_per_request"] = steady / steady_requests
    if steady:
        problems.append(f"{steady} queries in {steady_requests} steady-state requests")
    big_last.setup = lambda: ip.install_snapshot(db_snapshot)

    # -- timing ---------------------------------------------------------------
    n_units = sum(len(v.units) for v in variants)
    log(
        f"  timing {len(variants)} variants, {n_units} cases: {mode.rounds} rounds x "
        f"{mode.calls} calls ..."
    )
    ip.run_rounds(variants, mode.rounds, mode.calls)
    django_settings.CORS_ALLOWED_ORIGINS = list(workload.BASE_ORIGINS)
    overhead: dict[str, Any] = {}
    for v in variants:
        overhead[v.key] = {
            "label": v.label,
            "kind": v.kind,
            "scale": v.scale,
            "position": v.position,
            "calls_per_round": v.calls,
            "bare_view_ns": ip.summarize(v.bare),
            "bare_view_cpu_ns": ip.summarize(v.bare_cpu),
            "cases": {
                u.case.key: {
                    "overhead_ns": ip.summarize(u.samples),
                    "overhead_cpu_ns": ip.summarize(u.samples_cpu),
                    "call_ns": ip.summarize(u.totals),
                }
                for u in v.units
            },
        }
    results["overhead"] = overhead
    results["bare_view_ns"] = statistics.median(b for v in variants for b in v.bare)
    results["request_headers_ns"] = ip.request_headers_cost(
        workload.base_cases()["get_allowed"], mode.calls, mode.rounds
    )
    results["targets"] = targets(results, mode)

    if profile:
        results["profile"] = profile_hotspots(variants, mode, log)
    ip.install_snapshot(None)
    cache.reset()
    return problems


def _ov(results: dict[str, Any], key: str, case: str, metric: str = "overhead_ns") -> float | None:
    v = results["overhead"].get(key)
    if not v or case not in v["cases"]:
        return None
    return v["cases"][case][metric].get("median")


def targets(results: dict[str, Any], mode: Mode) -> list[dict[str, Any]]:
    """Each target from wall-clock medians (``value``, decides met/missed) and CPU time."""
    rows = _targets(results, mode, "overhead_ns")
    for row, cpu in zip(rows, _targets(results, mode, "overhead_cpu_ns"), strict=True):
        row["value_cpu"] = cpu["value"]
        row["met_cpu"] = cpu["met"]
    return rows


def _targets(results: dict[str, Any], mode: Mode, metric: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, unit: str = "x") -> None:
        met = None if value is None else value <= limit
        rows.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": met})

    def ov(key: str, case: str) -> float | None:
        return _ov(results, key, case, metric)

    for case, title in (("get_allowed", "allowed GET"), ("preflight_allowed", "allowed preflight")):
        ours = ov("cors_admin_1", case)
        add(
            f"{title}: cors_admin ÷ django-cors-headers",
            ratio(ours, ov("corsheaders_3", case)),
            TARGETS["vs_corsheaders"],
        )
        add(
            f"{title}: cors_admin ÷ floor",
            ratio(ours, ov("floor", case)),
            TARGETS["vs_floor"],
        )
    big = mode.scales[-1]
    origins = big * 10
    for case, title in (("get_allowed", "allowed GET"), ("preflight_allowed", "allowed preflight")):
        base = ov("cors_admin_1", case)
        worst = [ov(f"cors_admin_{big}_{pos}", case) for pos in ("first", "middle", "last")]
        value = None if None in worst else ratio(max(w for w in worst if w is not None), base)
        add(f"{title}: {origins:,} origins ÷ 3 origins (worst position)", value, TARGETS["scale"])
    cpu = metric == "overhead_cpu_ns"
    add(
        f"rebuild of {origins:,} origins from scratch (median)",
        results["rebuild"]["cold_cpu" if cpu else "cold"]["median"],
        TARGETS["rebuild_s"],
        "s",
    )
    add("queries per request, steady state", results["queries_per_request"], 0.0, "")
    return rows


def profile_hotspots(variants: list[Any], mode: Mode, log: Any) -> dict[str, str]:
    from benchmarks import inprocess as ip
    from cors_admin import cache
    from cors_admin.engine import compile_policies

    texts: dict[str, str] = {}
    calls = max(mode.calls * 25, 1000)
    big = mode.scales[-1]
    picks = [
        ("cors_admin_1", "get_allowed"),
        ("cors_admin_1", "preflight_allowed"),
        (f"cors_admin_{big}_last", "get_allowed"),
        (f"cors_admin_{big}_last", "get_wildcard"),
    ]
    by_key = {v.key: v for v in variants}
    for key, case in picks:
        v = by_key[key]
        u = next(u for u in v.units if u.case.key == case)
        v.setup()
        prof = cProfile.Profile()
        prof.enable()
        ip._timed(u.call, u.request, calls)
        prof.disable()
        texts[f"{key}/{case}"] = _stats(prof, f"{v.label} — {u.case.title} ({calls:,} calls)")
    cache.reset()
    cache.current()
    # GC off: a collection is charged to whatever function allocated when it ran,
    # which scatters it over the table; its total share is in the rebuild section.
    prof = cProfile.Profile()
    gc.disable()
    try:
        prof.enable()
        specs = cache.load_specs()
        compile_policies(specs, now=time.time())
        prof.disable()
    finally:
        gc.enable()
    texts["rebuild"] = _stats(
        prof, f"rebuild: load_specs + compile_policies ({big:,} policies), GC disabled"
    )
    for text in texts.values():
        log(text)
    return texts


def _stats(prof: cProfile.Profile, title: str) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs().sort_stats("tottime").print_stats(18)
    return f"\n=== cProfile: {title}, by tottime ===\n" + buf.getvalue()


# -- the report ----------------------------------------------------------------


def write_text(path: str, text: str) -> None:
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n")


def markdown(results: dict[str, Any]) -> str:
    """The results tables as Markdown (for docs/performance.md)."""
    from benchmarks.workload import CASE_TITLES

    lines: list[str] = []
    if "overhead" in results:
        cfg = results["config"]
        present = [
            c for c in CASE_ORDER if any(c in v["cases"] for v in results["overhead"].values())
        ]
        lines.append(
            f"Per-request overhead in µs: median of {cfg['rounds']} interleaved rounds x "
            f"{cfg['calls_per_round']:,} calls of (middleware(view) - view), wall clock "
            f"(CPU time in parentheses). Bare view call: {us(results['bare_view_ns'])} µs."
        )
        lines.append("")
        lines.append("| variant | " + " | ".join(CASE_TITLES[c] for c in present) + " |")
        lines.append("|---|" + "---:|" * len(present))
        for v in results["overhead"].values():
            cells = []
            for c in present:
                case = v["cases"].get(c)
                if case is None:
                    cells.append("—")
                else:
                    wall = us(case["overhead_ns"]["median"])
                    cpu = us(case["overhead_cpu_ns"]["median"])
                    cells.append(f"{wall} ({cpu})")
            lines.append(f"| {v['label']} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("| target | wall clock | CPU time | limit | wall | CPU |")
        lines.append("|---|---:|---:|---:|---|---|")
        for t in results["targets"]:

            def fmt(value: float | None, unit: str = t["unit"]) -> str:
                if value is None:
                    return "n/a"
                return f"{value:.3f} s" if unit == "s" else f"{value:.2f}{unit}"

            def status(met: bool | None) -> str:
                return "n/a" if met is None else ("met" if met else "**missed**")

            unit = " s" if t["unit"] == "s" else t["unit"]
            lines.append(
                f"| {t['target']} | {fmt(t['value'])} | {fmt(t.get('value_cpu'))} | "
                f"≤ {t['limit']:g}{unit} | {status(t['met'])} | {status(t.get('met_cpu'))} |"
            )
    if "fullstack" in results:
        fs = results["fullstack"]
        lines.append("")
        lines.append(
            "| configuration | req/s (median) | req/s per pass | p50 ms | p90 ms | p99 ms "
            "| server CPU µs/request |"
        )
        lines.append("|---|---:|---|---:|---:|---:|---:|")
        for r in fs["modes"].values():
            lat = r["latency_ms"]
            runs = ", ".join(f"{x:.0f}" for x in r["req_per_s_runs"])
            cpu = r.get("server_cpu_us_per_request")
            lines.append(
                f"| {r['label']} | {r['req_per_s']:.0f} | {runs} | {lat.get('p50', 0):.2f} | "
                f"{lat.get('p90', 0):.2f} | {lat.get('p99', 0):.2f} | "
                f"{f'{cpu:.0f}' if cpu else '—'} |"
            )
    return "\n".join(lines)


def report(results: dict[str, Any], log: Any) -> None:
    m = results["machine"]
    log()
    log(f"cors_admin benchmark results ({results['mode']} mode, {results['seconds']:.0f} s)")
    log(
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory']}, Python {m['python']}, "
        f"Django {m['django']}, django-cors-headers {m.get('django-cors-headers', '?')}, "
        f"load avg {m['loadavg_start'][0]:.2f} → {m['loadavg_end'][0]:.2f}"
    )
    if "overhead" in results:
        report_in_process(results, log)
    if "fullstack" in results:
        report_fullstack(results["fullstack"], log)


def report_in_process(results: dict[str, Any], log: Any) -> None:
    cfg = results["config"]
    log()
    log(
        f"Per-request overhead, µs (median of {cfg['rounds']} interleaved rounds x "
        f"{cfg['calls_per_round']:,} calls; middleware(view) - view; GC off in rounds)"
    )
    log(
        f"bare view call (fresh HttpResponse): {us(results['bare_view_ns'])} µs; building "
        f"request.headers once (django-cors-headers pays it): "
        f"{us(results['request_headers_ns']['median'])} µs"
    )
    from benchmarks.workload import CASE_TITLES

    present = [c for c in CASE_ORDER if any(c in v["cases"] for v in results["overhead"].values())]
    width = max(len(v["label"]) for v in results["overhead"].values()) + 1
    col = max(len(CASE_TITLES[c]) for c in present) + 2
    header = "variant".ljust(width) + "".join(CASE_TITLES[c].rjust(col) for c in present)
    log(header)
    log("-" * len(header))
    for v in results["overhead"].values():
        cells = []
        for c in present:
            case = v["cases"].get(c)
            cells.append((us(case["overhead_ns"]["median"]) if case else "—").rjust(col))
        log(v["label"].ljust(width) + "".join(cells))

    log()
    log("Targets (ratios of medians from this run; met/missed on wall-clock time; the CPU-time")
    log("column is the same measurement in process CPU time, insensitive to descheduling)")

    def shown(value: float | None, unit: str) -> str:
        if value is None:
            return "n/a"
        return f"{value:.3f} s" if unit == "s" else f"{value:.2f}{unit}"

    def status(met: bool | None) -> str:
        return "n/a" if met is None else ("met" if met else "MISSED")

    log(f"  {'target':<62} {'wall':>10} {'CPU':>10}  {'limit':<8} status (CPU)")
    for t in results["targets"]:
        limit = f"≤ {t['limit']:g}{' s' if t['unit'] == 's' else t['unit']}"
        log(
            f"  {t['target']:<62} {shown(t['value'], t['unit']):>10} "
            f"{shown(t.get('value_cpu'), t['unit']):>10}  {limit:<8} {status(t['met'])} "
            f"({status(t.get('met_cpu'))})"
        )

    rb = results["rebuild"]
    mem = results["memory"]
    dbw = results["db_write"]
    log()
    log(
        f"Snapshot rebuild from SQLite: {rb['policies']:,} policies / {rb['origins']:,} origins "
        f"(median, GC on; written with bulk_create in {dbw['seconds']:.1f} s)"
    )
    log(f"  load_specs() (2 queries + rows → PolicySpec): {rb['load_specs']['median']:.3f} s")
    log(f"  compile_policies():                          {rb['compile']['median']:.3f} s")
    log(
        f"  from scratch (reset + current(): revision, load, compile): {rb['cold']['median']:.3f} s"
        f" (CPU {rb['cold_cpu']['median']:.3f} s), of which in the garbage collector "
        f"{rb['cold_gc']['median']:.3f} s (gen0/1/2 collections: "
        f"{'/'.join(str(c) for c in rb['cold_gc_collections'])})"
    )
    log(
        f"  after one edit (update + current(), unchanged policies reused): "
        f"{rb['after_edit']['median']:.3f} s"
    )
    log(
        f"  memory (tracemalloc): peak {mem['peak_bytes'] / 2**20:.1f} MiB during load + compile; "
        f"retained PolicySet {mem['retained_bytes'] / 2**20:.1f} MiB "
        f"(of which specs {mem['specs_bytes'] / 2**20:.1f} MiB)"
    )
    fg = results["full_gc_seconds"]
    log(
        f"  one full gc.collect(): {fg['before'] * 1000:.1f} ms before any snapshot was built, "
        f"{fg['with_snapshots'] * 1000:.1f} ms with the benchmark's snapshots in memory"
    )
    log(
        "  DB-loaded snapshot decides like compile_policies(): "
        f"{results['db_matches_direct_compile']}"
    )

    q = results["queries"]
    dbq = q["db_path"]
    rc = results["revision_check_ns"]
    log()
    log(f"Queries per request, steady state: {results['queries_per_request']:g}")
    log(
        f"  real cache path ({dbq['steady_requests']:,} requests after the first): "
        f"{dbq['steady_queries']} queries; the first request after a reset made "
        f"{dbq['first_request_queries']} (revision, then policies + origins in one read "
        "transaction; SQL in the JSON)"
    )
    log(
        f"  installed snapshots ({q['installed']['requests']:,} requests, every case/variant): "
        f"{q['installed']['queries']} queries"
    )
    log(
        f"  at CORS_ADMIN_REFRESH_INTERVAL = {dbq['interval']:g} s, for "
        f"{dbq['interval_seconds']:g} s: {dbq['interval_queries']} revision-check queries in "
        f"{dbq['interval_requests']:,} requests; "
        f"one check costs {us(rc['median'])} µs"
    )


def report_fullstack(fs: dict[str, Any], log: Any) -> None:
    log()
    log(
        f"Full stack: example project under gunicorn ({fs['workers']} sync workers), "
        f"GET {fs['path']} with Origin {fs['origin']}; {fs['loadgen']}, "
        f"{fs['connections']} connections, {fs['seconds']} s x {fs['passes']} pass(es); loopback"
    )
    log(
        f"  {'configuration':<36}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'CPU µs/req':>12}  ACAO"
    )
    for r in fs["modes"].values():
        lat = r["latency_ms"]
        cpu = r.get("server_cpu_us_per_request")
        log(
            f"  {r['label']:<36}{r['req_per_s']:>9.0f}{lat.get('p50', 0):>9.2f}"
            f"{lat.get('p90', 0):>9.2f}{lat.get('p99', 0):>9.2f}"
            f"{(f'{cpu:.0f}' if cpu else '—'):>12}  "
            f"{r['check'].get('access-control-allow-origin')}"
            + (f"  ({r['non_2xx']} non-2xx!)" if r["non_2xx"] else "")
        )
    modes = fs["modes"]
    ours, none = modes.get("cors_admin"), modes.get("none")
    if ours and none and none["req_per_s"]:
        change = ours["req_per_s"] / none["req_per_s"] - 1
        log(
            f"  req/s with cors_admin vs without: {change:+.1%} (on a shared machine the noise "
            "is larger than the middleware's cost)"
        )
        for other in ("none", "floor", "corsheaders"):
            a = ours.get("server_cpu_us_per_request")
            b = modes.get(other, {}).get("server_cpu_us_per_request")
            if a and b:
                log(
                    f"  server CPU per request, cors_admin minus {MODE_NAMES[other]}: "
                    f"{a - b:+.0f} µs"
                )


if __name__ == "__main__":
    gc.collect()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
