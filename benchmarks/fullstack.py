"""Full-stack throughput: the example project under gunicorn, loopback only, bounded in time.

The same example project runs with ``CorsAdminMiddleware`` (as shipped),
without it, with the floor middleware and with django-cors-headers in its place
(``benchmarks.fullstack_settings``). A load generator on 127.0.0.1 (``wrk`` when
installed, else Python threads with ``http.client``) sends ``GET
/api/demo/hello/`` with an allowed ``Origin`` for a fixed number of seconds.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/demo/hello/"
ORIGIN = "http://localhost:3000"
MODES = ("cors_admin", "none", "floor", "corsheaders")
MODE_LABELS = {
    "cors_admin": "with CorsAdminMiddleware",
    "none": "without CORS middleware",
    "floor": "with the floor middleware instead",
    "corsheaders": "with django-cors-headers instead",
}

SETUP_CODE = """
from cors_admin.models import CorsPolicy, CorsOrigin
p = CorsPolicy.objects.create(name="demo", path="/api/demo/", allow_credentials=True,
                              expose_headers=["X-Request-Id"], max_age=600)
for o in ("https://app.example.com", "https://admin.example.com", "http://localhost:3000"):
    CorsOrigin.objects.create(policy=p, origin=o)
"""


def _env(database_url: str, mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.fullstack_settings",
        CORS_ADMIN_BENCH_MIDDLEWARE=mode,
        DATABASE_URL=database_url,
        SECRET_KEY="benchmarks-only-not-secret",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return env


def _manage(database_url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=_env(database_url, "cors_admin"),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", PATH, headers={"Origin": ORIGIN})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(database_url: str, mode: str, workers: int) -> Iterator[tuple[int, int]]:
    """Start gunicorn; yields (port, master pid)."""
    port = _free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "example_project.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=_env(database_url, mode),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn exited:\n{log.read().decode(errors='replace')}")
            try:
                if _get(port)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s")
            time.sleep(0.1)
        yield port, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # field 4 of /proc/<pid>/stat: the parent
                kids.append(int(entry))
    return kids


def server_cpu_seconds(master: int) -> float:
    """User + system CPU time of gunicorn's workers (the master only supervises)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _children(master):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


# -- load generators ----------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_load(port: int, seconds: int, connections: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Origin: {ORIGIN}",
        f"http://127.0.0.1:{port}{PATH}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    percentiles = {
        f"p{p}": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE)
    }
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": total,
        "req_per_s": rps,
        "latency_ms": percentiles,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def python_load(port: int, seconds: float, connections: int) -> dict[str, Any]:
    """Threads with http.client; reconnects when the server closes (gunicorn sync does)."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    bad = [0] * connections
    stop = time.monotonic() + seconds

    def worker(slot: int) -> None:
        conn: http.client.HTTPConnection | None = None
        record = latencies[slot].append
        while time.monotonic() < stop:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            t0 = time.perf_counter()
            try:
                conn.request("GET", PATH, headers={"Origin": ORIGIN})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                bad[slot] += 1
                continue
            record(time.perf_counter() - t0)
            if response.status != 200:
                bad[slot] += 1
            if response.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    values = sorted(v * 1000 for lst in latencies for v in lst)
    cuts = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
    return {
        "requests": len(values),
        "req_per_s": len(values) / elapsed,
        "latency_ms": {"p50": cuts[49], "p75": cuts[74], "p90": cuts[89], "p99": cuts[98]},
        "non_2xx": sum(bad),
        "socket_errors": "",
    }


def run(
    seconds: float,
    passes: int,
    workers: int,
    connections: int,
    modes: tuple[str, ...] = MODES,
    loadgen: str = "auto",
    log: Any = print,
) -> dict[str, Any]:
    """Every mode ``passes`` times (order rotated per pass), ``seconds`` of load each."""
    use_wrk = loadgen == "wrk" or (loadgen == "auto" and shutil.which("wrk") is not None)
    seconds_wrk = max(1, round(seconds))
    directory = tempfile.mkdtemp(prefix="cors_admin_bench_")
    url = f"sqlite:///{directory}/db.sqlite3"
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    checks: dict[str, dict[str, str | None]] = {}
    try:
        _manage(url, "migrate", "--noinput", "-v", "0")
        _manage(url, "shell", "-c", SETUP_CODE)
        for p in range(passes):
            k = p % len(modes)  # rotate the order: every mode runs first, second, ...
            for mode in modes[k:] + modes[:k]:
                with gunicorn(url, mode, workers) as (port, master):
                    status, headers = _get(port)
                    checks[mode] = {
                        "status": str(status),
                        "access-control-allow-origin": headers.get("access-control-allow-origin"),
                        "vary": headers.get("vary"),
                    }
                    # warm every worker before timing
                    python_load(port, 0.5, connections)
                    cpu_before = server_cpu_seconds(master)
                    if use_wrk:
                        result = wrk_load(port, seconds_wrk, connections)
                    else:
                        result = python_load(port, seconds, connections)
                    cpu = server_cpu_seconds(master) - cpu_before
                    result["server_cpu_us_per_request"] = (
                        cpu / result["requests"] * 1e6 if result["requests"] else None
                    )
                    log(
                        f"  full stack {mode:12} pass {p + 1}: {result['req_per_s']:8.0f} req/s, "
                        f"p50 {result['latency_ms'].get('p50', float('nan')):.2f} ms, "
                        f"server CPU {result['server_cpu_us_per_request'] or 0:.0f} µs/request"
                    )
                    results[mode].append(result)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    summary: dict[str, Any] = {}
    for mode, runs in results.items():
        rps = [r["req_per_s"] for r in runs]
        cpu_runs = [r["server_cpu_us_per_request"] for r in runs if r["server_cpu_us_per_request"]]
        summary[mode] = {
            "label": MODE_LABELS[mode],
            "req_per_s": statistics.median(rps),
            "req_per_s_runs": rps,
            "server_cpu_us_per_request": statistics.median(cpu_runs) if cpu_runs else None,
            "server_cpu_us_runs": cpu_runs,
            "latency_ms": {
                k: statistics.median(r["latency_ms"][k] for r in runs)
                for k in ("p50", "p75", "p90", "p99")
                if all(k in r["latency_ms"] for r in runs)
            },
            "requests": sum(r["requests"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "check": checks.get(mode, {}),
        }
    return {
        "loadgen": "wrk" if use_wrk else "python threads + http.client",
        "seconds": seconds_wrk if use_wrk else seconds,
        "passes": passes,
        "workers": workers,
        "connections": connections,
        "path": PATH,
        "origin": ORIGIN,
        "modes": summary,
    }
