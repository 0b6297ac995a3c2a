"""The benchmark harness still runs and measures what it says (correctness only, no timings).

``benchmarks/run.py --tiny`` uses tiny policy sets and a handful of calls: its
figures are meaningless, but every code path of the harness runs, every
middleware answer it times is checked, and the steady state must make no query.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", "--json", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads(out.read_text())


def test_in_process_harness(tmp_path: Path) -> None:
    stdout, data = run_benchmark(tmp_path, "--no-fullstack")

    assert data["mode"] == "tiny"
    assert data["problems"] == []
    for heading in (
        "Per-request overhead, µs",
        "Targets (ratios of medians",
        "Snapshot rebuild from SQLite: 100 policies / 1,000 origins",
        "Queries per request, steady state: 0\n",
    ):
        assert heading in stdout

    # every variant is a row of the table, with a figure for each of its cases
    expected = {
        "floor",
        "corsheaders_3",
        "corsheaders_50",
        "cors_admin_1",
        *(f"cors_admin_{n}_{pos}" for n in (20, 100) for pos in ("first", "middle", "last")),
    }
    assert set(data["overhead"]) == expected
    for variant in data["overhead"].values():
        assert variant["label"] in stdout
        for case in variant["cases"].values():
            assert isinstance(case["overhead_ns"]["median"], float)
    assert set(data["overhead"]["cors_admin_100_last"]["cases"]) == {
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
    }

    # zero queries in the steady state, through the real cache path and installed snapshots
    assert data["queries_per_request"] == 0
    db_path = data["queries"]["db_path"]
    assert db_path["steady_queries"] == 0 and db_path["steady_requests"] > 0
    assert db_path["first_request_queries"] >= 3  # the first request did load from the DB
    assert data["queries"]["installed"]["queries"] == 0
    assert db_path["interval_queries"] >= 1  # a 0.1 s interval does check the revision

    rebuild = data["rebuild"]
    assert (rebuild["policies"], rebuild["origins"], rebuild["errors"]) == (100, 1000, 0)
    assert data["db_matches_direct_compile"] is True
    assert data["memory"]["retained_bytes"] > 0

    names = [t["target"] for t in data["targets"]]
    assert len(names) == 8
    assert names[-1] == "queries per request, steady state"
    assert next(t for t in data["targets"] if t["target"] == names[-1])["met"] is True
    for target in data["targets"]:
        assert target["target"] in stdout
        assert target["met"] in (True, False, None)


@pytest.mark.server
def test_full_stack_harness(tmp_path: Path) -> None:
    stdout, data = run_benchmark(tmp_path, "--fullstack-only")

    assert "Full stack: example project under gunicorn" in stdout
    modes = data["fullstack"]["modes"]
    assert set(modes) == {"cors_admin", "none", "floor"}
    for with_cors in ("cors_admin", "floor"):
        check = modes[with_cors]["check"]
        assert check["access-control-allow-origin"] == "http://localhost:3000"
        assert "Origin" in (check["vary"] or "")
    assert modes["none"]["check"]["access-control-allow-origin"] is None
    for mode in modes.values():
        assert mode["check"]["status"] == "200"
        assert mode["requests"] > 0 and mode["non_2xx"] == 0
        assert mode["label"] in stdout
