"""The pure CORS engine: compile policies once, answer requests with lookups.

``compile_policies(specs)`` turns plain policy descriptions into an immutable
:class:`PolicySet`. Everything a request needs is computed here: the path
index, the origin sets and the final header strings. ``PolicySet.evaluate``
then does a handful of dict/set lookups and returns a :class:`Decision`.

No Django import: the engine is tested and benchmarked without a database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .origins import (
    NULL,
    OriginEntry,
    OriginError,
    canonical_origin_parts,
    parse_entry,
    parse_request_origin,
)

__all__ = [
    "DEFAULT_HEADERS",
    "DEFAULT_METHODS",
    "MAX_REQUEST_HEADERS_LENGTH",
    "CompiledPolicy",
    "Decision",
    "OriginSpec",
    "PolicySet",
    "PolicySpec",
    "compile_policies",
    "is_token",
    "parse_header_names",
]

DEFAULT_METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_HEADERS: tuple[str, ...] = (
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
)
#: Longest Access-Control-Request-Headers value that is parsed at all; longer is a denial.
MAX_REQUEST_HEADERS_LENGTH = 4096

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
ACEH = "Access-Control-Expose-Headers"
ACMA = "Access-Control-Max-Age"
ACAPN = "Access-Control-Allow-Private-Network"
#: Every header the middleware owns on a covered path; a view's own values are dropped.
CORS_RESPONSE_HEADERS: tuple[str, ...] = (ACAO, ACAC, ACAM, ACAH, ACEH, ACMA, ACAPN)

VARY_ORIGIN: tuple[str, ...] = ("Origin",)
VARY_PREFLIGHT: tuple[str, ...] = (
    "Origin",
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
)
VARY_PREFLIGHT_CONSTANT: tuple[str, ...] = VARY_PREFLIGHT[1:]

PATH_PREFIX = "prefix"
PATH_EXACT = "exact"
PATH_REGEX = "regex"
_PATH_RANK = {PATH_EXACT: 0, PATH_PREFIX: 1, PATH_REGEX: 2}

# match() remembers this many paths (of at most this length) per snapshot.
_MEMO_SIZE = 8192
_MEMO_MAX_PATH = 512

_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+\Z")


@dataclass(frozen=True, slots=True)
class OriginSpec:
    """One allowlist entry as stored: its text and an optional expiry (epoch seconds)."""

    value: str
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy as plain data, the input of :func:`compile_policies`."""

    name: str
    path: str
    path_type: str = PATH_PREFIX
    priority: int = 100
    enabled: bool = True
    allow_all_origins: bool = False
    origins: tuple[OriginSpec, ...] = ()
    allow_credentials: bool = False
    allow_methods: tuple[str, ...] = DEFAULT_METHODS
    allow_headers: tuple[str, ...] = DEFAULT_HEADERS
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_private_network: bool = False
    id: int | None = None


def is_token(value: str) -> bool:
    """Is ``value`` an HTTP token (RFC 9110), as header names and methods must be?"""
    return _TOKEN_RE.match(value) is not None


def parse_header_names(value: str) -> list[str] | None:
    """Parse an Access-Control-Request-Headers value into lowercase names.

    Comma-separated, case-insensitive, tolerant of spaces and of values joined
    from several header lines. Returns ``None`` (a denial) when the value is
    longer than :data:`MAX_REQUEST_HEADERS_LENGTH` or holds a non-token name.
    Runs in time linear in the (capped) length.
    """
    parsed = _header_names(value)
    return None if parsed is None else list(parsed[0])


def _header_names(value: str) -> tuple[tuple[str, ...], str] | None:
    """Parsed names and their ``", "``-joined text; remembered per distinct value.

    Browsers send the same few lists over and over, so a bounded memo turns the
    parse into one dict lookup; values over the cap are never parsed or kept.
    """
    try:
        return _HEADER_NAMES_MEMO[value]
    except KeyError:
        pass
    if len(value) > MAX_REQUEST_HEADERS_LENGTH:
        return None
    names: dict[str, None] = {}  # ordered, and de-duplicated in constant time per name
    for part in value.split(","):
        name = part.strip(" \t").lower()
        if not name:
            continue
        if not _TOKEN_RE.match(name):
            result = None
            break
        names[name] = None
    else:
        result = (tuple(names), ", ".join(names))
    if len(value) <= _MEMO_MAX_PATH:
        if len(_HEADER_NAMES_MEMO) >= _MEMO_SIZE:
            _HEADER_NAMES_MEMO.clear()
        _HEADER_NAMES_MEMO[value] = result
    return result


_HEADER_NAMES_MEMO: dict[str, tuple[tuple[str, ...], str] | None] = {}


@lru_cache(maxsize=1024)
def _tokens(values: tuple[str, ...]) -> tuple[str, ...]:
    """The values that are HTTP tokens, in order, without duplicates (policies share lists)."""
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and _TOKEN_RE.match(v)))


@lru_cache(maxsize=1024)
def _lower_tokens(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.lower() for v in _tokens(values)))


class CompiledPolicy:
    """One enabled policy, ready to answer requests. Treat as immutable."""

    __slots__ = (
        "actual_headers",
        "allow_all",
        "any_port",
        "credentials",
        "entries",
        "exact",
        "headers",
        "headers_any",
        "id",
        "methods",
        "name",
        "null",
        "path",
        "path_type",
        "preflight_headers",
        "priority",
        "private_network",
        "sort_key",
        "spec",
        "vary_preflight",
        "wildcards",
    )

    def __init__(
        self, spec: PolicySpec, entries: Sequence[OriginEntry], exact: Iterable[str] = ()
    ) -> None:
        """``entries`` are parsed entries; ``exact`` adds canonical exact origins as text."""
        self.spec = spec
        self.id = spec.id
        self.name = spec.name
        self.path = spec.path
        self.path_type = spec.path_type
        self.priority = spec.priority
        rank = _PATH_RANK[spec.path_type]
        # Lower sorts first: priority, then exact > longest prefix > regex by name.
        self.sort_key: tuple[int, int, int, str] = (
            spec.priority,
            rank,
            -len(spec.path) if rank == 1 else 0,
            spec.name,
        )
        self.allow_all = spec.allow_all_origins
        # '*' never goes with credentials: allow-all answers '*' and drops credentials.
        self.credentials = spec.allow_credentials and not self.allow_all
        self.entries: tuple[OriginEntry, ...] = tuple(entries)
        exact = list(exact)
        wildcards: list[tuple[str, str, int | None]] = []
        any_port: list[tuple[str, str]] = []
        null = False
        for e in entries:  # one pass: bucket entries by kind
            kind = e.kind
            if kind == "exact":
                exact.append(e.value)
            elif kind == "subdomain":
                wildcards.append((e.scheme, e.host, e.port))
            elif kind == "port":
                any_port.append((e.scheme, e.host))
            else:
                null = True
        self.exact = frozenset(exact)
        self.null = null and not self.credentials
        self.wildcards = frozenset(wildcards)
        self.any_port = frozenset(any_port)
        # Stored lists were validated on save; tokens are checked again here because
        # the middleware writes these strings into responses without further checks.
        methods = _tokens(spec.allow_methods)
        allow_headers = _lower_tokens(spec.allow_headers)
        expose_headers = _tokens(spec.expose_headers)
        self.methods = frozenset(methods)
        self.headers_any = "*" in allow_headers
        self.headers = frozenset(h for h in allow_headers if h != "*")
        self.private_network = spec.allow_private_network

        tail: list[tuple[str, str]] = []
        if self.credentials:
            tail.append((ACAC, "true"))
        expose = [h for h in expose_headers if h != "*" or not self.credentials]
        if expose:
            tail.append((ACEH, ", ".join(expose)))
        # Actual-request headers after ACAO; the preflight ones after ACAO too.
        self.actual_headers: tuple[tuple[str, str], ...] = tuple(tail)
        pre: list[tuple[str, str]] = [(ACAM, ", ".join(methods))]
        if not self.headers_any and allow_headers:
            pre.append((ACAH, ", ".join(allow_headers)))
        if self.credentials:
            pre.append((ACAC, "true"))
        if spec.max_age is not None:
            pre.append((ACMA, str(int(spec.max_age))))
        self.preflight_headers: tuple[tuple[str, str], ...] = tuple(pre)
        self.vary_preflight: tuple[str, ...] = (
            VARY_PREFLIGHT_CONSTANT if self.allow_all else VARY_PREFLIGHT
        )

    def __repr__(self) -> str:
        return f"<CompiledPolicy {self.name!r} {self.path_type}:{self.path}>"

    def origin_allowed(self, origin: str) -> bool:
        """Is this Origin header value allowed by the allowlist (ignoring allow-all)?"""
        if origin in self.exact:
            return True
        if origin == NULL:
            return self.null
        if not self.wildcards and not self.any_port:
            return False
        parts = canonical_origin_parts(origin)
        if parts is None:
            return False
        scheme, host, port = parts
        if (scheme, host) in self.any_port:
            return True
        if self.wildcards and host[0] != "[":
            wildcards = self.wildcards
            i = host.find(".")
            while i != -1:
                suffix = host[i + 1 :]
                if (scheme, suffix, port) in wildcards or (scheme, suffix, -1) in wildcards:
                    return True
                i = host.find(".", i + 1)
        return False

    def matching_entry(self, origin: str) -> str | None:
        """The allowlist entry that lets ``origin`` in (for explanations), if any."""
        if origin in self.exact:
            return origin
        if origin == NULL:
            return NULL if self.null else None
        for entry in self.entries:  # exact entries were answered by the set above
            if entry.kind in ("subdomain", "port"):
                single = _single_entry_policy(self.spec, entry)
                if single.origin_allowed(origin):
                    return entry.value
        return None


def _single_entry_policy(spec: PolicySpec, entry: OriginEntry) -> CompiledPolicy:
    return CompiledPolicy(spec, [entry])


@dataclass(slots=True)
class Decision:
    """What the engine decided for one request, with everything the middleware applies.

    ``policy`` is ``None`` when no policy covers the path: the middleware then
    does nothing at all. ``status`` is set for preflights (answered by the
    middleware itself); ``headers`` are the CORS headers to set and ``vary``
    the names to merge into ``Vary``.
    """

    policy: CompiledPolicy | None
    preflight: bool = False
    allowed: bool = False
    status: int | None = None
    headers: Sequence[tuple[str, str]] = ()
    vary: tuple[str, ...] = ()
    code: str = "uncovered"
    detail: tuple[str, ...] = field(default_factory=tuple)
    origin: str | None = None
    path: str = ""

    @property
    def covered(self) -> bool:
        return self.policy is not None

    @property
    def reason(self) -> str:
        """A sentence for operators: why this request was (not) allowed."""
        name = self.policy.name if self.policy else ""
        origin = self.origin
        code = self.code
        if code == "uncovered":
            return f"no enabled policy covers path '{self.path}'; no CORS headers are added"
        if code == "allow_all":
            return f"policy '{name}' allows all origins and answers '*'"
        if code == "allowed":
            entry = self.policy.matching_entry(origin) if self.policy and origin else None
            how = f" (matches allowlist entry '{entry}')" if entry and entry != origin else ""
            kind = "preflight" if self.preflight else "request"
            return f"{kind} from origin '{origin}' allowed by policy '{name}'{how}"
        if code == "no_origin":
            return "the request has no Origin header, so it is not a CORS request"
        if code == "origin_denied" and origin not in (None, NULL) and not _well_formed(origin):
            return (
                f"origin {origin!r} is not a well-formed serialized origin "
                "(browsers send lowercase scheme://host[:port], no path, no default port)"
            )
        if code == "origin_denied":
            return f"origin '{origin}' is not in the allowlist of policy '{name}'"
        if code == "method_denied":
            allowed = ", ".join(self.policy.spec.allow_methods) if self.policy else ""
            return f"method {self.detail[0]} is not allowed by policy '{name}' (allowed: {allowed})"
        if code == "headers_malformed":
            return (
                "the Access-Control-Request-Headers value is malformed or longer than "
                f"{MAX_REQUEST_HEADERS_LENGTH} characters"
            )
        if code == "header_denied":
            return f"request header '{self.detail[0]}' is not allowed by policy '{name}'"
        return code


class PolicySet:
    """An immutable, compiled set of enabled policies.

    ``revision`` identifies the database state it was built from;
    ``valid_until`` is the earliest expiry (epoch seconds) of an entry it
    still contains, after which it must be recompiled (``None``: never).
    """

    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        *,
        specs: tuple[PolicySpec, ...] = (),
        revision: object = None,
        valid_until: float | None = None,
        errors: tuple[str, ...] = (),
    ) -> None:
        self.policies: tuple[CompiledPolicy, ...] = tuple(
            sorted(policies, key=lambda p: p.sort_key)
        )
        self.specs = specs
        self.revision = revision
        self.valid_until = valid_until
        self.errors = errors
        exact: dict[str, CompiledPolicy] = {}
        prefix: dict[str, CompiledPolicy] = {}
        regexes: list[tuple[re.Pattern[str], CompiledPolicy]] = []
        for policy in self.policies:  # sorted: the first one stored for a path wins
            if policy.path_type == PATH_EXACT:
                exact.setdefault(policy.path, policy)
            elif policy.path_type == PATH_PREFIX:
                prefix.setdefault(policy.path, policy)
            else:
                regexes.append((re.compile(policy.path), policy))
        self._exact = exact
        self._prefix = prefix
        self._regexes = tuple(regexes)
        self._regex_all = _combine(regexes)
        self._by_name = {p.name: p for p in self.policies}
        # Memo of match() results: a pure function of the path over immutable data.
        self._memo: dict[str, CompiledPolicy | None] = {}
        # Compiled policies a later compile_policies(previous=self) may reuse.
        self._reusable: dict[PolicySpec, tuple[CompiledPolicy, tuple[str, ...]]] = {}

    def __len__(self) -> int:
        return len(self.policies)

    def get(self, name: str) -> CompiledPolicy | None:
        return self._by_name.get(name)

    def match(self, path: str) -> CompiledPolicy | None:
        """The policy that covers ``path``: lowest priority, then the most specific path."""
        try:
            return self._memo[path]
        except KeyError:
            pass
        policy = self._match(path)
        if len(path) <= _MEMO_MAX_PATH:
            memo = self._memo
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[path] = policy
        return policy

    def _match(self, path: str) -> CompiledPolicy | None:
        best = self._exact.get(path)
        prefix = self._prefix
        if prefix:
            # Candidate prefixes end at a segment boundary: '/a/b' offers
            # '/', '/a', '/a/', '/a/b' -- a lookup each, however many policies.
            cand = prefix.get(path)
            if cand is not None and (best is None or cand.sort_key < best.sort_key):
                best = cand
            i = path.find("/")
            while i != -1:
                if i:
                    cand = prefix.get(path[:i])
                    if cand is not None and (best is None or cand.sort_key < best.sort_key):
                        best = cand
                cand = prefix.get(path[: i + 1])
                if cand is not None and (best is None or cand.sort_key < best.sort_key):
                    best = cand
                i = path.find("/", i + 1)
        regexes = self._regexes
        if not regexes or (best is not None and best.sort_key < regexes[0][1].sort_key):
            return best  # no regex policy can outrank the exact/prefix match
        if self._regex_all is not None:
            # One alternation of every regex path, in policy order: its first
            # full match is the best regex policy, found in a single C-level pass.
            m = self._regex_all.fullmatch(path)
            if m is not None and m.lastgroup is not None:
                policy = regexes[int(m.lastgroup[len(_GROUP) :])][1]
                if best is None or policy.sort_key < best.sort_key:
                    return policy
            return best
        for pattern, policy in regexes:
            if best is not None and best.sort_key < policy.sort_key:
                break
            if pattern.fullmatch(path):
                return policy
        return best

    def evaluate(
        self,
        path: str,
        origin: str | None,
        method: str,
        request_method: str | None = None,
        request_headers: str | None = None,
        request_private_network: str | None = None,
    ) -> Decision:
        """Decide one request. ``request_*`` are the Access-Control-Request-* values."""
        policy = self.match(path)
        if policy is None:
            return Decision(None, path=path)
        return self.decide(
            policy, path, origin, method, request_method, request_headers, request_private_network
        )

    def decide(
        self,
        policy: CompiledPolicy,
        path: str,
        origin: str | None,
        method: str,
        request_method: str | None = None,
        request_headers: str | None = None,
        request_private_network: str | None = None,
    ) -> Decision:
        """Decide one request on a path that ``policy`` covers (see :meth:`match`)."""
        if method == "OPTIONS" and origin is not None and request_method is not None:
            return self._preflight(
                policy, path, origin, request_method, request_headers, request_private_network
            )
        if policy.allow_all:
            return Decision(
                policy,
                allowed=True,
                headers=((ACAO, "*"), *policy.actual_headers),
                code="allow_all",
                origin=origin,
                path=path,
            )
        if origin is None:
            return Decision(policy, vary=VARY_ORIGIN, code="no_origin", path=path)
        if policy.origin_allowed(origin):
            return Decision(
                policy,
                allowed=True,
                headers=((ACAO, origin), *policy.actual_headers),
                vary=VARY_ORIGIN,
                code="allowed",
                origin=origin,
                path=path,
            )
        return Decision(policy, vary=VARY_ORIGIN, code="origin_denied", origin=origin, path=path)

    def _preflight(
        self,
        policy: CompiledPolicy,
        path: str,
        origin: str,
        request_method: str,
        request_headers: str | None,
        request_private_network: str | None,
    ) -> Decision:
        vary = policy.vary_preflight
        if not policy.allow_all and not policy.origin_allowed(origin):
            return self._deny(policy, path, origin, "origin_denied", ())
        if request_method not in policy.methods:
            return self._deny(policy, path, origin, "method_denied", (request_method,))
        headers: list[tuple[str, str]] = [(ACAO, "*" if policy.allow_all else origin)]
        headers.extend(policy.preflight_headers)
        if request_headers:
            parsed = _header_names(request_headers)
            if parsed is None:
                return self._deny(policy, path, origin, "headers_malformed", ())
            names, joined = parsed
            if policy.headers_any:
                if names:
                    headers.append((ACAH, joined))
            else:
                allowed = policy.headers
                for name in names:
                    if name not in allowed:
                        return self._deny(policy, path, origin, "header_denied", (name,))
        if policy.private_network and request_private_network == "true":
            headers.append((ACAPN, "true"))
        return Decision(
            policy,
            preflight=True,
            allowed=True,
            status=204,
            headers=headers,
            vary=vary,
            code="allow_all" if policy.allow_all else "allowed",
            origin=origin,
            path=path,
        )

    @staticmethod
    def _deny(
        policy: CompiledPolicy, path: str, origin: str, code: str, detail: tuple[str, ...]
    ) -> Decision:
        return Decision(
            policy,
            preflight=True,
            status=403,
            vary=policy.vary_preflight,
            code=code,
            detail=detail,
            origin=origin,
            path=path,
        )


_GROUP = "_cors_admin_path_"
# Wrapped in one alternation, numbered back-references (\1) would point at the wrong
# group and named groups could clash: such patterns are scanned one by one instead.
_UNCOMBINABLE_RE = re.compile(r"\\[1-9]|\(\?P[<=]|\(\?\(")


def _combine(
    regexes: Sequence[tuple[re.Pattern[str], CompiledPolicy]],
) -> re.Pattern[str] | None:
    """All regex paths as one alternation, or ``None`` to scan them one by one."""
    if len(regexes) < 2:
        return None
    parts = []
    for index, (pattern, _) in enumerate(regexes):
        text = pattern.pattern
        if pattern.flags & ~re.UNICODE or _UNCOMBINABLE_RE.search(text):
            return None
        parts.append(f"(?P<{_GROUP}{index}>{text})")
    try:
        return re.compile("|".join(parts))
    except (re.error, RecursionError, OverflowError):
        return None  # inline global flags, clashing group names, too many groups...


def _well_formed(origin: str | None) -> bool:
    return origin is not None and parse_request_origin(origin) is not None


def compile_policies(
    specs: Iterable[PolicySpec],
    *,
    now: float | None = None,
    revision: object = None,
    previous: PolicySet | None = None,
) -> PolicySet:
    """Compile policy specs into a :class:`PolicySet`.

    Disabled policies are left out. Entries that expired at ``now`` (epoch
    seconds) are left out; the earliest remaining expiry becomes
    ``valid_until``. Data that is malformed despite validation (written by raw
    SQL, say) never grants anything: a bad entry or an uncompilable regex path
    is skipped and reported in ``PolicySet.errors``.

    With ``previous`` (the snapshot being replaced), policies whose spec did not
    change and that have no expiring entries are reused as they are, so a rebuild
    after one edit costs little more than reading the rows.
    """
    spec_list = tuple(specs)
    reusable = previous._reusable if previous is not None else {}
    keep: dict[PolicySpec, tuple[CompiledPolicy, tuple[str, ...]]] = {}
    compiled: list[CompiledPolicy] = []
    errors: list[str] = []
    valid_until: float | None = None
    for spec in spec_list:
        if not spec.enabled:
            continue
        if spec.path_type not in _PATH_RANK:
            errors.append(f"policy {spec.name!r}: unknown path type {spec.path_type!r}")
            continue
        if spec.path_type == PATH_REGEX:
            try:
                re.compile(spec.path)
            except re.error as exc:
                errors.append(f"policy {spec.name!r}: path regex does not compile: {exc}")
                continue
        if spec in reusable:
            keep[spec] = reusable[spec]
            policy, spec_errors = reusable[spec]
            compiled.append(policy)
            errors.extend(spec_errors)
            continue
        first_error = len(errors)
        entries: list[OriginEntry] = []
        exact: list[str] = []
        expiring = False
        for origin in spec.origins:
            value = origin.value
            if origin.expires_at is not None:
                expiring = True
                if now is not None and origin.expires_at <= now:
                    continue
                if valid_until is None or origin.expires_at < valid_until:
                    valid_until = origin.expires_at
            # Stored entries are canonical already: one regex match recognizes exact ones.
            if canonical_origin_parts(value) is not None:
                exact.append(value)
                continue
            try:
                entries.append(parse_entry(value))
            except OriginError as exc:
                errors.append(f"policy {spec.name!r}: origin {value!r} skipped: {exc}")
        policy = CompiledPolicy(spec, entries, exact)
        if not expiring:
            keep[spec] = (policy, tuple(errors[first_error:]))
        compiled.append(policy)
    result = PolicySet(
        compiled,
        specs=spec_list,
        revision=revision,
        valid_until=valid_until,
        errors=tuple(errors),
    )
    result._reusable = keep
    return result
