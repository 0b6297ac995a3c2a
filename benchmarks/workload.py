"""The policies and requests the benchmarks use (pure data; Django only for requests).

* ``base_spec()``: one policy ``api`` on ``/api/`` with 3 exact origins,
  credentials, ``X-Request-Id`` exposed, max age 600 -- what django-cors-headers
  is configured with in ``benchmarks/settings.py``.
* ``scaled_specs(n)``: ``n`` policies with 10 origins each (7 exact, among them
  2 with a port; 2 subdomain wildcards, one with a port; 1 port wildcard).
  Every 10th policy (i % 10 == 3) has an exact path, every 100th (i % 100 == 7)
  a regex path, the others a prefix; every 50th has priority 50; half allow
  credentials; origins of every 10th policy expire in ten years.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cors_admin.engine import OriginSpec, PolicySpec

BASE_ORIGINS: tuple[str, ...] = (
    "https://app.example.com",
    "https://admin.example.com",
    "http://localhost:3000",
)
BASE_PATH = "/api/demo/hello/"
BASE_ALLOWED = "http://localhost:3000"  # the last one listed (django-cors-headers scans a list)
DENIED = "https://evil.example.net"
UNCOVERED_PATH = "/static/app/main.js"
PREFLIGHT_METHOD = "PUT"
PREFLIGHT_HEADERS = "content-type, authorization"
EXPOSE = ("X-Request-Id",)
ORIGINS_PER_POLICY = 10
_TEN_YEARS = 10 * 365 * 86400


def base_spec() -> PolicySpec:
    return PolicySpec(
        name="api",
        path="/api/",
        origins=tuple(OriginSpec(o) for o in BASE_ORIGINS),
        allow_credentials=True,
        expose_headers=EXPOSE,
        max_age=600,
    )


def policy_origins(i: int) -> tuple[str, ...]:
    return (
        f"https://app.t{i}.example.com",
        f"https://www.t{i}.example.com",
        f"https://admin.t{i}.example.com",
        f"https://t{i}.partner.example",
        f"https://t{i}.example.net",
        f"https://t{i}.example.net:8443",
        f"http://t{i}.internal:8080",
        f"https://*.t{i}.example.org",
        f"https://*.t{i}.example.dev:8443",
        f"http://t{i}.localhost:*",
    )


def policy_path(i: int) -> tuple[str, str]:
    """(path, path_type) of generated policy ``i``."""
    if i % 100 == 7:
        return f"/r{i}/v[0-9]+/.*", "regex"
    if i % 10 == 3:
        return f"/t{i}/demo/hello/", "exact"
    return f"/t{i}/", "prefix"


def scaled_specs(n_policies: int, now: float | None = None) -> list[PolicySpec]:
    expiry = (now if now is not None else time.time()) + _TEN_YEARS
    specs = []
    for i in range(n_policies):
        path, path_type = policy_path(i)
        expires = expiry if i % 10 == 1 else None
        specs.append(
            PolicySpec(
                name=f"tenant-{i:05d}",
                path=path,
                path_type=path_type,
                priority=50 if i % 50 == 49 else 100,
                origins=tuple(OriginSpec(o, expires) for o in policy_origins(i)),
                allow_credentials=i % 2 == 0,
                expose_headers=EXPOSE,
                max_age=600,
            )
        )
    return specs


def target_indexes(n_policies: int) -> dict[str, int]:
    """The first, middle and last generated policy (all prefix policies)."""
    targets = {"first": 0, "middle": n_policies // 2, "last": n_policies - 1}
    for index in targets.values():
        assert policy_path(index)[1] == "prefix", index
    return targets


def last_regex_index(n_policies: int) -> int | None:
    regexes = [i for i in range(n_policies) if policy_path(i)[1] == "regex"]
    return regexes[-1] if regexes else None


@dataclass(frozen=True)
class Case:
    """One kind of request: what is sent and what a correct middleware answers."""

    key: str
    title: str
    method: str
    path: str
    origin: str | None
    preflight: bool
    expect_allowed: bool
    covered: bool = True
    #: > 0: every call uses the next of this many distinct paths under ``path``
    #: (``<path>items/<k>/``), more than the engine's match memo holds.
    distinct_paths: int = 0


CASE_TITLES: dict[str, str] = {
    "get_allowed": "GET ok",
    "get_wildcard": "GET wildc.",
    "get_denied": "GET denied",
    "get_no_origin": "no Origin",
    "preflight_allowed": "prefl. ok",
    "preflight_denied": "prefl. no",
    "uncovered": "uncovered",
    "get_regex": "GET regex",
    "get_distinct": "GET paths",
    "uncovered_distinct": "uncov. paths",
    "get_regex_distinct": "regex paths",
}


def _cases(path: str, allowed: str, uncovered: str) -> dict[str, Case]:
    t = CASE_TITLES
    return {
        "get_allowed": Case("get_allowed", t["get_allowed"], "GET", path, allowed, False, True),
        "get_denied": Case("get_denied", t["get_denied"], "GET", path, DENIED, False, False),
        "get_no_origin": Case("get_no_origin", t["get_no_origin"], "GET", path, None, False, False),
        "preflight_allowed": Case(
            "preflight_allowed", t["preflight_allowed"], "OPTIONS", path, allowed, True, True
        ),
        "preflight_denied": Case(
            "preflight_denied", t["preflight_denied"], "OPTIONS", path, DENIED, True, False
        ),
        "uncovered": Case(
            "uncovered", t["uncovered"], "GET", uncovered, allowed, False, False, covered=False
        ),
    }


def _distinct(key: str, prefix: str, allowed: str, n: int, covered: bool = True) -> Case:
    return Case(
        key, CASE_TITLES[key], "GET", prefix, allowed, False, covered, covered=covered,
        distinct_paths=n,
    )  # fmt: skip


def base_cases(distinct_paths: int = 0) -> dict[str, Case]:
    cases = _cases(BASE_PATH, BASE_ALLOWED, UNCOVERED_PATH)
    if distinct_paths:
        cases["get_distinct"] = _distinct("get_distinct", "/api/", BASE_ALLOWED, distinct_paths)
        cases["uncovered_distinct"] = _distinct(
            "uncovered_distinct", "/static/app/", BASE_ALLOWED, distinct_paths, covered=False
        )
    return cases


def scaled_cases(
    index: int, regex_index: int | None = None, distinct_paths: int = 0
) -> dict[str, Case]:
    """Requests hitting generated policy ``index`` (and optionally the regex policy).

    With ``distinct_paths``, also the many-paths cases: an allowed GET under the
    policy, a path no policy covers, and (with ``regex_index``) a path only the
    regex policy covers, each among that many distinct paths.
    """
    allowed = f"https://admin.t{index}.example.com"
    cases = _cases(f"/t{index}/demo/hello/", allowed, UNCOVERED_PATH)
    cases["get_wildcard"] = Case(
        "get_wildcard",
        CASE_TITLES["get_wildcard"],
        "GET",
        f"/t{index}/demo/hello/",
        f"https://a.b.t{index}.example.org",
        False,
        True,
    )
    if distinct_paths:
        cases["get_distinct"] = _distinct("get_distinct", f"/t{index}/", allowed, distinct_paths)
        cases["uncovered_distinct"] = _distinct(
            "uncovered_distinct", "/static/app/", allowed, distinct_paths, covered=False
        )
    if regex_index is not None:
        regex_allowed = f"https://app.t{regex_index}.example.com"
        cases["get_regex"] = Case(
            "get_regex",
            CASE_TITLES["get_regex"],
            "GET",
            f"/r{regex_index}/v2/items/",
            regex_allowed,
            False,
            True,
        )
        if distinct_paths:
            cases["get_regex_distinct"] = _distinct(
                "get_regex_distinct", f"/r{regex_index}/v2/", regex_allowed, distinct_paths
            )
    return cases


def corsheaders_origins(n: int) -> list[str]:
    """``n`` exact origins for django-cors-headers, the allowed one last."""
    extra = [f"https://app{k}.example.com" for k in range(max(n - len(BASE_ORIGINS), 0))]
    return [*extra, *BASE_ORIGINS]
