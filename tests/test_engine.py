"""The pure engine: path matching, origin matching, preflight rules, compiled headers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cors_admin.engine import (
    DEFAULT_HEADERS,
    DEFAULT_METHODS,
    MAX_REQUEST_HEADERS_LENGTH,
    Decision,
    OriginSpec,
    PolicySet,
    PolicySpec,
    compile_policies,
    parse_header_names,
)
from cors_admin.origins import OriginError, parse_entry, parse_request_origin

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
ACEH = "Access-Control-Expose-Headers"
ACMA = "Access-Control-Max-Age"
ACAPN = "Access-Control-Allow-Private-Network"
PREFLIGHT_VARY = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
DEFAULT_ACAM = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
DEFAULT_ACAH = "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with"

APP = "https://app.example.com"


def spec(name: str = "p", path: str = "/api/", **fields: Any) -> PolicySpec:
    origins = tuple(
        o if isinstance(o, OriginSpec) else OriginSpec(o) for o in fields.pop("origins", ())
    )
    for key in ("allow_methods", "allow_headers", "expose_headers"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return PolicySpec(name=name, path=path, origins=origins, **fields)


def one(**fields: Any) -> PolicySet:
    return compile_policies([spec(**fields)])


def headers_of(decision: Decision) -> dict[str, str]:
    names = [name.lower() for name, _ in decision.headers]
    assert len(names) == len(set(names)), f"a header is set twice: {decision.headers}"
    return dict(decision.headers)


def preflight(
    ps: PolicySet,
    origin: str | None = APP,
    request_method: str = "GET",
    request_headers: str | None = None,
    path: str = "/api/x",
    private_network: str | None = None,
) -> Decision:
    return ps.evaluate(path, origin, "OPTIONS", request_method, request_headers, private_network)


# -- path matching ------------------------------------------------------------------------------

PATHS = [
    # (policy path, type, request path, covered?)
    ("/api/", "prefix", "/api/x", True),
    ("/api/", "prefix", "/api/", True),
    ("/api/", "prefix", "/api/x/y/z", True),
    ("/api/", "prefix", "/api", False),
    ("/api/", "prefix", "/apiary", False),
    ("/api/", "prefix", "/other/api/", False),
    ("/api", "prefix", "/api", True),
    ("/api", "prefix", "/api/", True),
    ("/api", "prefix", "/api/x", True),
    ("/api", "prefix", "/apiary", False),
    ("/api", "prefix", "/api.json", False),
    ("/api", "prefix", "/ap", False),
    ("/api", "prefix", "/", False),
    ("/api/v1", "prefix", "/api/v1/users", True),
    ("/api/v1", "prefix", "/api/v10", False),
    ("/", "prefix", "/", True),
    ("/", "prefix", "/anything/at/all", True),
    ("/api/items", "exact", "/api/items", True),
    ("/api/items", "exact", "/api/items/", False),
    ("/api/items", "exact", "/api/items/1", False),
    ("/api/items", "exact", "/api/item", False),
    ("/api/items/", "exact", "/api/items", False),
    (r"/api/items/\d+", "regex", "/api/items/12", True),
    (r"/api/items/\d+", "regex", "/api/items/12/", False),  # full match, not a prefix
    (r"/api/items/\d+", "regex", "/x/api/items/12", False),  # full match, not a search
    (r"/api/items/\d+", "regex", "/api/items/", False),
    (r"/api/.*\.json", "regex", "/api/a/b.json", True),
    (r"/api/(v1|v2)/.*", "regex", "/api/v2/users", True),
    (r"/api/(v1|v2)/.*", "regex", "/api/v3/users", False),
    (r"/caf\u00e9/", "regex", "/caf\u00e9/", True),
]


@pytest.mark.parametrize(("path", "path_type", "request_path", "covered"), PATHS)
def test_path_matching(path: str, path_type: str, request_path: str, covered: bool) -> None:
    ps = one(path=path, path_type=path_type)
    assert (ps.match(request_path) is not None) is covered
    decision = ps.evaluate(request_path, APP, "GET")
    assert decision.covered is covered
    if not covered:
        assert decision.headers == ()
        assert decision.vary == ()


def names_matching(ps: PolicySet, path: str) -> str | None:
    policy = ps.match(path)
    return None if policy is None else policy.name


def test_lower_priority_number_wins() -> None:
    ps = compile_policies(
        [
            spec("broad", "/api/", priority=10),
            spec("narrow", "/api/items", path_type="exact", priority=20),
        ]
    )
    assert names_matching(ps, "/api/items") == "broad"
    ps = compile_policies(
        [
            spec("broad", "/api/", priority=30),
            spec("narrow", "/api/items", path_type="exact", priority=20),
        ]
    )
    assert names_matching(ps, "/api/items") == "narrow"


def test_negative_priorities_sort_first() -> None:
    ps = compile_policies([spec("a", "/api/", priority=0), spec("b", "/", priority=-5)])
    assert names_matching(ps, "/api/x") == "b"


def test_equal_priority_exact_beats_prefix_and_regex() -> None:
    ps = compile_policies(
        [
            spec("a-regex", r"/api/.*", path_type="regex"),
            spec("b-prefix", "/api/items"),
            spec("c-exact", "/api/items", path_type="exact"),
        ]
    )
    assert names_matching(ps, "/api/items") == "c-exact"
    assert names_matching(ps, "/api/items/1") == "b-prefix"
    assert names_matching(ps, "/api/other") == "a-regex"


def test_equal_priority_longest_prefix_wins() -> None:
    ps = compile_policies(
        [
            spec("short", "/api/"),
            spec("longer", "/api/v1/"),
            spec("longest", "/api/v1/admin"),
            spec("root", "/"),
        ]
    )
    assert names_matching(ps, "/api/v1/admin/users") == "longest"
    assert names_matching(ps, "/api/v1/x") == "longer"
    assert names_matching(ps, "/api/v2/x") == "short"
    assert names_matching(ps, "/static/x.css") == "root"
    # The longest prefix that matches at a segment boundary, not the longest string.
    assert names_matching(ps, "/api/v1/administrators") == "longer"


def test_equal_priority_regexes_by_name() -> None:
    ps = compile_policies(
        [
            spec("zeta", r"/api/.*", path_type="regex"),
            spec("alpha", r"/api/v\d/.*", path_type="regex"),
            spec("mid", r"/api/v1/.*", path_type="regex"),
        ]
    )
    assert names_matching(ps, "/api/v1/x") == "alpha"
    assert names_matching(ps, "/api/x") == "zeta"


def test_regex_with_lower_priority_beats_exact() -> None:
    ps = compile_policies(
        [
            spec("exact", "/api/items", path_type="exact", priority=100),
            spec("regex", r"/api/.*", path_type="regex", priority=99),
        ]
    )
    assert names_matching(ps, "/api/items") == "regex"


def test_disabled_policies_are_ignored() -> None:
    ps = compile_policies(
        [
            spec("off", "/api/", priority=1, enabled=False, origins=["https://evil.example.com"]),
            spec("on", "/api/", priority=50, origins=[APP]),
        ]
    )
    assert names_matching(ps, "/api/x") == "on"
    assert len(ps) == 1
    assert ps.evaluate("/api/x", "https://evil.example.com", "GET").allowed is False
    only_disabled = compile_policies([spec("off", "/api/", enabled=False, origins=[APP])])
    decision = only_disabled.evaluate("/api/x", APP, "GET")
    assert not decision.covered
    assert decision.headers == ()


def test_first_matching_policy_decides_without_fallthrough() -> None:
    ps = compile_policies(
        [
            spec("first", "/api/", priority=10, origins=[APP]),
            spec("second", "/api/", priority=20, origins=["https://other.example.com"]),
            spec("third", "/api/x", path_type="exact", priority=30, allow_all_origins=True),
        ]
    )
    decision = ps.evaluate("/api/x", "https://other.example.com", "GET")
    assert decision.policy is not None and decision.policy.name == "first"
    assert decision.allowed is False
    assert decision.headers == ()
    pre = preflight(ps, origin="https://other.example.com")
    assert pre.policy is not None and pre.policy.name == "first"
    assert pre.status == 403


# -- origin matching ----------------------------------------------------------------------------

ORIGINS = [
    # (entry, request origin, allowed?)
    (APP, APP, True),
    (APP, "https://app.example.com:443", False),
    (APP, "https://App.example.com", False),
    (APP, "http://app.example.com", False),
    (APP, "https://app.example.com.", False),
    (APP, "https://app.example.com/", False),
    (APP, "https://x.app.example.com", False),
    ("HTTPS://App.Example.com:443", APP, True),  # normalized when compiled
    ("http://localhost:3000", "http://localhost:3000", True),
    ("http://localhost:3000", "http://localhost:3001", False),
    ("http://localhost:3000", "http://localhost", False),
    ("https://*.example.com", "https://a.example.com", True),
    ("https://*.example.com", "https://a.b.c.example.com", True),
    ("https://*.example.com", "https://example.com", False),  # never the bare domain
    ("https://*.example.com", "http://a.example.com", False),  # same scheme
    ("https://*.example.com", "https://a.example.com:8443", False),  # default port only
    ("https://*.example.com", "https://aexample.com", False),
    ("https://*.example.com", "https://a.example.com.evil.com", False),
    ("https://*.example.com", "https://example.com.evil.com", False),
    ("https://*.example.com", "https://a.example.comx", False),
    ("https://*.example.com", "https://A.example.com", False),
    ("https://*.example.com", "https://a.example.com.", False),
    ("https://*.example.com", "https://.example.com", False),
    ("https://*.example.com:8443", "https://a.example.com:8443", True),
    ("https://*.example.com:8443", "https://a.example.com", False),
    ("https://*.example.com:8443", "https://a.example.com:8444", False),
    ("https://*.example.com:*", "https://a.example.com", True),
    ("https://*.example.com:*", "https://a.b.example.com:9000", True),
    ("https://*.example.com:*", "https://example.com:9000", False),
    ("https://*.example.com:*", "http://a.example.com:9000", False),
    ("http://localhost:*", "http://localhost", True),  # including the default port
    ("http://localhost:*", "http://localhost:3000", True),
    ("http://localhost:*", "http://localhost:65535", True),
    ("http://localhost:*", "https://localhost:3000", False),
    ("http://localhost:*", "http://a.localhost:3000", False),
    ("http://localhost:*", "http://localhost:080", False),
    ("http://localhost:*", "http://localhost:80", False),  # not canonical
    ("http://127.0.0.1:*", "http://127.0.0.1:5173", True),
    ("http://[::1]:*", "http://[::1]:5173", True),
    ("http://[::1]:*", "http://[0::1]:5173", False),
    ("http://*.localhost", "http://app.localhost", True),
    ("null", "null", True),
    ("null", "NULL", False),
    ("null", "Null", False),
    (APP, "null", False),
    ("https://*.example.com", "null", False),
    ("chrome-extension://abcdefghij", "chrome-extension://abcdefghij", True),
    ("chrome-extension://abcdefghij", "chrome-extension://abcdefghik", False),
]


@pytest.mark.parametrize(("entry", "origin", "allowed"), ORIGINS)
def test_origin_matching(entry: str, origin: str, allowed: bool) -> None:
    ps = one(origins=[entry])
    decision = ps.evaluate("/api/x", origin, "GET")
    assert decision.allowed is allowed
    if allowed:
        assert headers_of(decision) == {ACAO: origin}
    else:
        assert decision.headers == ()
    assert decision.vary == ("Origin",)
    assert preflight(ps, origin=origin).allowed is allowed


def test_null_is_only_allowed_without_credentials() -> None:
    without = one(origins=["null", APP])
    assert without.evaluate("/api/x", "null", "GET").allowed
    # Stored anyway (raw SQL, say): credentials switch 'null' off entirely.
    with_credentials = one(origins=["null", APP], allow_credentials=True)
    decision = with_credentials.evaluate("/api/x", "null", "GET")
    assert decision.allowed is False
    assert decision.headers == ()
    assert preflight(with_credentials, origin="null").status == 403
    assert with_credentials.evaluate("/api/x", APP, "GET").allowed


def test_expired_entries_do_not_match_and_bound_validity() -> None:
    ps = compile_policies(
        [
            spec(
                "p",
                origins=[
                    OriginSpec("https://old.example.com", expires_at=1_000.0),
                    OriginSpec("https://soon.example.com", expires_at=3_000.0),
                    OriginSpec("https://later.example.com", expires_at=5_000.0),
                    OriginSpec("https://*.old.example.org", expires_at=1_500.0),
                    OriginSpec(APP),
                ],
            ),
            spec("other", "/other/", origins=[OriginSpec(APP, expires_at=4_000.0)]),
            spec("off", "/off/", enabled=False, origins=[OriginSpec(APP, expires_at=2_500.0)]),
        ],
        now=2_000.0,
    )
    assert not ps.evaluate("/api/x", "https://old.example.com", "GET").allowed
    assert not ps.evaluate("/api/x", "https://a.old.example.org", "GET").allowed
    assert ps.evaluate("/api/x", "https://soon.example.com", "GET").allowed
    assert ps.evaluate("/api/x", "https://later.example.com", "GET").allowed
    assert ps.evaluate("/api/x", APP, "GET").allowed
    assert ps.valid_until == 3_000.0  # the earliest expiry still in the snapshot
    later = compile_policies(ps.specs, now=3_500.0)
    assert not later.evaluate("/api/x", "https://soon.example.com", "GET").allowed
    assert later.evaluate("/api/x", "https://later.example.com", "GET").allowed
    assert later.valid_until == 4_000.0
    assert compile_policies([spec("p", origins=[APP])], now=0.0).valid_until is None


# -- preflights ---------------------------------------------------------------------------------


def test_allowed_preflight_headers_exactly() -> None:
    decision = preflight(one(origins=[APP]))
    assert decision.preflight and decision.allowed
    assert decision.status == 204
    assert headers_of(decision) == {ACAO: APP, ACAM: DEFAULT_ACAM, ACAH: DEFAULT_ACAH}
    assert decision.vary == PREFLIGHT_VARY


def test_allowed_preflight_with_everything() -> None:
    ps = one(
        origins=[APP],
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "X-Api-Key"],
        expose_headers=["X-Total"],
        max_age=600,
        allow_private_network=True,
    )
    decision = preflight(
        ps, request_method="POST", request_headers="x-api-key", private_network="true"
    )
    assert headers_of(decision) == {
        ACAO: APP,
        ACAM: "GET, POST",
        ACAH: "content-type, x-api-key",
        ACAC: "true",
        ACMA: "600",
        ACAPN: "true",
    }


def test_denied_preflight_has_no_allow_headers() -> None:
    decision = preflight(one(origins=[APP]), origin="https://evil.example.com")
    assert decision.preflight
    assert decision.allowed is False
    assert decision.status == 403
    assert decision.headers == ()
    assert decision.vary == PREFLIGHT_VARY


@pytest.mark.parametrize(
    ("request_method", "allowed"),
    [
        ("GET", True),
        ("PATCH", True),
        ("DELETE", True),
        ("get", False),
        ("patch", False),
        ("Patch", False),
        ("PROPFIND", False),
        ("", False),
        ("GET, POST", False),
    ],
)
def test_preflight_method_is_case_sensitive(request_method: str, allowed: bool) -> None:
    decision = preflight(one(origins=[APP]), request_method=request_method)
    assert decision.allowed is allowed
    assert decision.status == (204 if allowed else 403)
    if not allowed:
        assert decision.headers == ()


def test_preflight_custom_method_list() -> None:
    ps = one(origins=[APP], allow_methods=["GET", "PROPFIND", "patch"])
    assert preflight(ps, request_method="PROPFIND").allowed
    assert preflight(ps, request_method="patch").allowed
    assert not preflight(ps, request_method="PATCH").allowed
    assert not preflight(ps, request_method="POST").allowed


@pytest.mark.parametrize(
    ("request_headers", "allowed"),
    [
        ("content-type", True),
        ("Content-Type", True),
        ("CONTENT-TYPE", True),
        ("  content-type  ", True),
        ("content-type,x-requested-with", True),
        ("Content-Type , X-Requested-With ,Authorization", True),
        ("content-type,\tx-csrftoken", True),
        ("accept, content-type,accept", True),  # several header lines joined by commas
        ("content-type,, ,x-csrftoken,", True),
        ("", True),
        (" , ", True),
        ("x-custom", False),
        ("content-type, x-custom", False),
        ("content-type x-requested-with", False),  # malformed: a space inside a name
        ("content-type; x", False),
        ("content-type\x00", False),
        ("n\u00e4me", False),
        ('"content-type"', False),
        ("content-type:", False),
    ],
)
def test_preflight_request_headers(request_headers: str, allowed: bool) -> None:
    decision = preflight(one(origins=[APP]), request_headers=request_headers)
    assert decision.allowed is allowed
    assert decision.status == (204 if allowed else 403)
    if not allowed:
        assert decision.headers == ()


def test_star_headers_echo_the_requested_names_including_authorization() -> None:
    ps = one(origins=[APP], allow_headers=["*"], allow_credentials=True)
    decision = preflight(ps, request_headers="Authorization, X-Custom-Thing,authorization")
    assert decision.allowed
    assert headers_of(decision)[ACAH] == "authorization, x-custom-thing"
    # Nothing requested: no Access-Control-Allow-Headers at all (never a literal '*').
    assert ACAH not in headers_of(preflight(ps))


def test_request_header_list_is_bounded() -> None:
    ps = one(origins=[APP], allow_headers=["*"])
    at_cap = ("accept," * 600)[:MAX_REQUEST_HEADERS_LENGTH]
    assert len(at_cap) == MAX_REQUEST_HEADERS_LENGTH
    assert preflight(ps, request_headers=at_cap).allowed
    over = at_cap + "x"
    decision = preflight(ps, request_headers=over)
    assert decision.status == 403
    assert decision.headers == ()
    assert decision.code == "headers_malformed"
    huge = "a," * 500_000
    assert preflight(ps, request_headers=huge).status == 403
    assert parse_header_names(huge) is None


def test_parse_header_names() -> None:
    assert parse_header_names("A, b ,\tC,a") == ["a", "b", "c"]
    assert parse_header_names("") == []
    assert parse_header_names("x y") is None
    assert parse_header_names("x" * (MAX_REQUEST_HEADERS_LENGTH + 1)) is None


@pytest.mark.parametrize(
    ("enabled", "asked", "answered"),
    [
        (True, "true", True),
        (True, None, False),
        (True, "false", False),
        (True, "TRUE", False),
        (False, "true", False),
        (False, None, False),
    ],
)
def test_private_network_only_when_asked_and_enabled(
    enabled: bool, asked: str | None, answered: bool
) -> None:
    ps = one(origins=[APP], allow_private_network=enabled)
    decision = preflight(ps, private_network=asked)
    assert decision.allowed
    assert (ACAPN in headers_of(decision)) is answered
    if answered:
        assert headers_of(decision)[ACAPN] == "true"


@pytest.mark.parametrize(("max_age", "header"), [(None, None), (0, "0"), (600, "600")])
def test_max_age(max_age: int | None, header: str | None) -> None:
    headers = headers_of(preflight(one(origins=[APP], max_age=max_age)))
    assert headers.get(ACMA) == header


def test_preflight_needs_options_origin_and_request_method() -> None:
    ps = one(origins=[APP])
    # OPTIONS without Access-Control-Request-Method is an actual request.
    actual = ps.evaluate("/api/x", APP, "OPTIONS")
    assert not actual.preflight
    assert actual.status is None
    assert headers_of(actual) == {ACAO: APP}
    # Without Origin it is not a CORS request at all.
    no_origin = ps.evaluate("/api/x", None, "OPTIONS", "GET")
    assert not no_origin.preflight
    assert no_origin.headers == ()
    assert no_origin.vary == ("Origin",)
    # A GET with Access-Control-Request-Method is not a preflight either.
    get = ps.evaluate("/api/x", APP, "GET", "GET")
    assert not get.preflight and get.status is None


# -- actual requests ----------------------------------------------------------------------------


def test_actual_request_headers() -> None:
    ps = one(origins=[APP], allow_credentials=True, expose_headers=["X-Total", "X-Request-Id"])
    decision = ps.evaluate("/api/x", APP, "POST")
    assert decision.allowed and not decision.preflight
    assert decision.status is None
    assert headers_of(decision) == {ACAO: APP, ACAC: "true", ACEH: "X-Total, X-Request-Id"}
    assert decision.vary == ("Origin",)
    denied = ps.evaluate("/api/x", "https://evil.example.com", "POST")
    assert denied.headers == ()
    assert denied.vary == ("Origin",)
    no_origin = ps.evaluate("/api/x", None, "GET")
    assert no_origin.headers == ()
    assert no_origin.vary == ("Origin",)


def test_actual_request_without_credentials_or_expose() -> None:
    decision = one(origins=[APP]).evaluate("/api/x", APP, "GET")
    assert headers_of(decision) == {ACAO: APP}


# -- allow all origins --------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, "https://anything.test", "null", None])
def test_allow_all_answers_a_constant_star_without_vary_origin(origin: str | None) -> None:
    ps = one(allow_all_origins=True, expose_headers=["X-Total"])
    decision = ps.evaluate("/api/x", origin, "GET")
    assert decision.allowed
    assert headers_of(decision) == {ACAO: "*", ACEH: "X-Total"}
    assert decision.vary == ()


def test_allow_all_never_sends_credentials() -> None:
    ps = one(allow_all_origins=True, allow_credentials=True, origins=[APP])
    actual = ps.evaluate("/api/x", APP, "GET")
    assert headers_of(actual) == {ACAO: "*"}
    pre = preflight(ps)
    assert headers_of(pre) == {ACAO: "*", ACAM: DEFAULT_ACAM, ACAH: DEFAULT_ACAH}


def test_allow_all_preflight_varies_on_request_method_and_headers_only() -> None:
    ps = one(allow_all_origins=True)
    decision = preflight(ps, origin="https://anything.test")
    assert decision.allowed and decision.status == 204
    assert headers_of(decision)[ACAO] == "*"
    assert decision.vary == ("Access-Control-Request-Method", "Access-Control-Request-Headers")
    denied = preflight(ps, request_method="PROPFIND")
    assert denied.status == 403 and denied.headers == ()


# -- malformed stored data never grants ---------------------------------------------------------


def test_uncompilable_regex_is_skipped_and_reported() -> None:
    ps = compile_policies(
        [
            spec("bad-regex", "/api/(", path_type="regex", priority=1, allow_all_origins=True),
            spec("good", "/api/", origins=[APP]),
        ]
    )
    assert [p.name for p in ps.policies] == ["good"]
    assert any("bad-regex" in e and "does not compile" in e for e in ps.errors)
    assert not ps.evaluate("/api/x", "https://evil.example.com", "GET").allowed


def test_unknown_path_type_is_skipped_and_reported() -> None:
    ps = compile_policies([spec("weird", "/api/", path_type="glob", allow_all_origins=True)])
    assert len(ps) == 0
    assert not ps.evaluate("/api/x", APP, "GET").covered
    assert any("weird" in e and "unknown path type" in e for e in ps.errors)


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example.com/",
        "https://evil.example.com/path",
        "evil.example.com",
        "*",
        "https://*.com",
        "https://evil.example.com, https://app.example.com",
        "https://user@evil.example.com",
        "https://evil.example.com.",
        "",
    ],
)
def test_malformed_entries_are_skipped_and_reported(bad: str) -> None:
    ps = one(origins=[bad, "https://good.example.com"])
    assert ps.evaluate("/api/x", "https://good.example.com", "GET").allowed
    for origin in ("https://evil.example.com", "https://a.com", APP, bad):
        assert not ps.evaluate("/api/x", origin, "GET").allowed
    assert any(repr(bad) in e for e in ps.errors)


def test_invalid_tokens_in_stored_lists_are_never_sent() -> None:
    ps = one(
        origins=[APP],
        allow_methods=["GET", "BAD METHOD\r\nSet-Cookie: a=b"],
        allow_headers=["content-type", "x-evil\r\nx: y"],
        expose_headers=["X-Total", "bad header"],
    )
    pre = headers_of(preflight(ps))
    assert pre[ACAM] == "GET"
    assert pre[ACAH] == "content-type"
    assert headers_of(ps.evaluate("/api/x", APP, "GET"))[ACEH] == "X-Total"


# -- properties: the indexed matcher equals a brute-force reference ---------------------------

_RANK = {"exact": 0, "prefix": 1, "regex": 2}


def reference_match(specs: list[PolicySpec], path: str) -> str | None:
    """Scan every policy, keep those whose path matches, sort by the SPEC rule."""
    candidates = []
    for s in specs:
        if not s.enabled or s.path_type not in _RANK:
            continue
        if s.path_type == "exact":
            hit = path == s.path
        elif s.path_type == "prefix":
            p = s.path
            hit = path == p or (path.startswith(p) and (p.endswith("/") or path[len(p)] == "/"))
        else:
            try:
                hit = re.fullmatch(s.path, path) is not None
            except re.error:
                hit = False
        if hit:
            length = -len(s.path) if s.path_type == "prefix" else 0
            candidates.append(((s.priority, _RANK[s.path_type], length, s.name), s.name))
    return min(candidates)[1] if candidates else None


segments = st.sampled_from(["a", "b", "ab", "api", "v1", ""])
request_paths = st.lists(segments, min_size=0, max_size=4).map(lambda s: "/" + "/".join(s))
prefix_paths = st.builds(
    lambda segs, slash: "/" + "/".join(segs) + ("/" if slash and segs else ""),
    st.lists(st.sampled_from(["a", "b", "ab", "api", "v1"]), min_size=0, max_size=3),
    st.booleans(),
)
regex_paths = st.sampled_from(
    [
        *(r"/a/.*", r"/a/[^/]+", r"/(a|b)/?", r"/api/v\d/.*", r"/.*b", r"/ab?", r"/a(", r".*"),
        # Named groups and back-references make the matcher scan instead of combining.
        *(r"/(?P<x>a|b)/.*", r"/(a)/\1", r"(?i)/API/.*"),
    ]
)


@st.composite
def policy_specs(draw: st.DrawFn) -> list[PolicySpec]:
    count = draw(st.integers(min_value=0, max_value=8))
    result = []
    for i in range(count):
        path_type = draw(st.sampled_from(["prefix", "prefix", "exact", "regex"]))
        path = draw(regex_paths if path_type == "regex" else prefix_paths)
        name = f"{draw(st.sampled_from('abc'))}{i}"
        result.append(
            spec(
                name,
                path,
                path_type=path_type,
                priority=draw(st.integers(min_value=-1, max_value=2)),
                enabled=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    return result


@settings(max_examples=200, deadline=None)
@given(policy_specs(), st.lists(request_paths, min_size=1, max_size=6))
def test_match_equals_brute_force_reference(specs: list[PolicySpec], paths: list[str]) -> None:
    ps = compile_policies(specs)
    for path in paths:
        found = ps.match(path)
        assert (found.name if found else None) == reference_match(specs, path), path
        # Asking twice gives the same answer (whatever the index remembers).
        again = ps.match(path)
        assert (again.name if again else None) == (found.name if found else None)


def reference_allowed(entries: list[str], origin: str, credentials: bool) -> bool:
    """Scan every entry with the SPEC's rules."""
    request = parse_request_origin(origin)
    for text in entries:
        try:
            e = parse_entry(text)
        except OriginError:
            continue
        if e.kind == "null":
            if origin == "null" and not credentials:
                return True
        elif e.kind == "exact":
            if origin == e.value:
                return True
        elif request is None or request.scheme != e.scheme:
            continue
        elif e.kind == "port":
            if request.host == e.host:
                return True
        elif (
            not request.host.startswith("[")
            and request.host.endswith("." + e.host)
            and (e.port == -1 or request.port == e.port)
        ):
            return True
    return False


hosts = st.lists(st.sampled_from(["a", "b", "example", "org", "io"]), min_size=1, max_size=3).map(
    ".".join
)
ports = st.sampled_from(["", ":80", ":443", ":8080", ":0443"])
entry_texts = st.one_of(
    st.builds(lambda s, h, p: f"{s}://{h}{p}", st.sampled_from(["http", "https"]), hosts, ports),
    st.builds(
        lambda s, h, p: f"{s}://*.{h}{p}",
        st.sampled_from(["http", "https"]),
        hosts,
        st.sampled_from(["", ":8080", ":*"]),
    ),
    st.builds(lambda s, h: f"{s}://{h}:*", st.sampled_from(["http", "https"]), hosts),
    st.just("null"),
    st.sampled_from(["http://127.0.0.1:*", "http://[::1]:*", "https://*.io", "bad entry"]),
)
request_origins = st.one_of(
    st.builds(
        lambda s, h, p: f"{s}://{h}{p}",
        st.sampled_from(["http", "https", "HTTPS"]),
        hosts,
        st.sampled_from(["", ":80", ":443", ":8080", "/", "."]),
    ),
    st.sampled_from(["null", "http://127.0.0.1:9", "http://[::1]", "http://[::1]:9", ""]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(entry_texts, max_size=6),
    st.booleans(),
    st.lists(request_origins, min_size=1, max_size=8),
)
def test_origin_allowed_equals_brute_force_reference(
    entries: list[str], credentials: bool, origins: list[str]
) -> None:
    ps = one(origins=entries, allow_credentials=credentials)
    policy = ps.policies[0]
    for origin in origins:
        expected = reference_allowed(entries, origin, credentials)
        assert policy.origin_allowed(origin) is expected, (entries, origin)
        decision = ps.evaluate("/api/x", origin, "GET")
        assert decision.allowed is expected
        assert (dict(decision.headers).get(ACAO) == origin) is expected


def test_defaults_match_django_cors_headers() -> None:
    assert DEFAULT_METHODS == ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    assert DEFAULT_HEADERS == (
        "accept",
        "authorization",
        "content-type",
        "user-agent",
        "x-csrftoken",
        "x-requested-with",
    )


def test_reused_policies_keep_reporting_their_skipped_entries() -> None:
    bad = PolicySpec(name="bad", path="/bad/", origins=(OriginSpec("https://*.com"),))
    good = PolicySpec(name="good", path="/good/", origins=(OriginSpec("https://a.example.com"),))
    first = compile_policies([bad, good])
    assert len(first.errors) == 1 and "https://*.com" in first.errors[0]
    changed = PolicySpec(name="good", path="/good/", origins=(OriginSpec("https://b.example.com"),))
    second = compile_policies([bad, changed], previous=first)
    assert second.get("bad") is first.get("bad")  # reused, not recompiled
    assert second.get("good") is not first.get("good")
    assert second.errors == first.errors
    assert second.evaluate("/good/x", "https://b.example.com", "GET").allowed
    assert not second.evaluate("/good/x", "https://a.example.com", "GET").allowed


def test_many_regex_paths_are_matched_in_one_combined_pattern() -> None:
    specs = [spec(f"r{i:03d}", rf"/r{i}/(\d+)/", path_type="regex") for i in range(50)]
    specs.append(spec("low", r"/r5/.*", path_type="regex", priority=50))
    specs.append(spec("prefix", "/r6/"))
    ps = compile_policies(specs)
    assert ps._regex_all is not None  # one C-level pass instead of 52 fullmatch calls
    assert names_matching(ps, "/r7/12/") == "r007"
    assert names_matching(ps, "/r5/12/") == "low"  # lower priority number wins
    assert names_matching(ps, "/r6/1/") == "prefix"  # equal priority: prefix beats regex
    assert names_matching(ps, "/r7/x/") is None
    # A named group anywhere falls back to scanning, with the same answers.
    scanned = compile_policies([*specs, spec("named", r"/n/(?P<id>\d+)", path_type="regex")])
    assert scanned._regex_all is None
    assert names_matching(scanned, "/r7/12/") == "r007"
    assert names_matching(scanned, "/n/4") == "named"
