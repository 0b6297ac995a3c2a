"""Origin entries and request origins: normalization, refusals, canonical checks."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cors_admin.engine import CompiledPolicy, PolicySpec
from cors_admin.origins import (
    MAX_ORIGIN_LENGTH,
    OriginError,
    RequestOrigin,
    entries_allowing,
    is_public_suffix,
    normalize_entry,
    parse_entry,
    parse_request_origin,
)

# -- normalization ------------------------------------------------------------------------------

NORMALIZED = [
    ("HTTPS://App.Example.COM:443", "https://app.example.com"),
    ("https://app.example.com", "https://app.example.com"),
    ("http://Example.com:80", "http://example.com"),
    ("https://example.com:0443", "https://example.com"),
    ("https://example.com:8443", "https://example.com:8443"),
    ("http://example.com:443", "http://example.com:443"),
    ("https://example.com:80", "https://example.com:80"),
    ("wss://socket.example.com:443", "wss://socket.example.com"),
    ("ws://socket.example.com:80", "ws://socket.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://LOCALHOST:3000", "http://localhost:3000"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("https://BÜCHER.Example", "https://xn--bcher-kva.example"),
    ("https://münchen.de:443", "https://xn--mnchen-3ya.de"),
    ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("http://[::1]:80", "http://[::1]"),
    ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
    ("https://[2001:DB8::1]:443", "https://[2001:db8::1]"),
    ("https://[2001:db8:0:0:0:0:0:1]", "https://[2001:db8::1]"),
    ("chrome-extension://abcdefghijklmnop", "chrome-extension://abcdefghijklmnop"),
    ("Chrome-Extension://ABCDEFGHIJKLMNOP", "chrome-extension://abcdefghijklmnop"),
    ("null", "null"),
    ("NULL", "null"),
    ("Null", "null"),
    ("https://*.Example.COM", "https://*.example.com"),
    ("https://*.example.com:443", "https://*.example.com"),
    ("https://*.example.com:8443", "https://*.example.com:8443"),
    ("https://*.example.com:*", "https://*.example.com:*"),
    ("https://*.bücher.example", "https://*.xn--bcher-kva.example"),
    ("https://*.app.example.co.uk", "https://*.app.example.co.uk"),
    ("https://*.example.co.uk", "https://*.example.co.uk"),
    ("https://*.myproject.github.io", "https://*.myproject.github.io"),
    ("http://*.localhost", "http://*.localhost"),
    ("http://localhost:*", "http://localhost:*"),
    ("HTTP://LocalHost:*", "http://localhost:*"),
    ("http://127.0.0.1:*", "http://127.0.0.1:*"),
    ("http://[::1]:*", "http://[::1]:*"),
]


@pytest.mark.parametrize(("value", "expected"), NORMALIZED)
def test_normalize_entry(value: str, expected: str) -> None:
    assert normalize_entry(value) == expected
    # Normalizing the normalized form changes nothing.
    assert normalize_entry(expected) == expected


@pytest.mark.parametrize(
    ("value", "kind", "scheme", "host", "port"),
    [
        ("https://App.Example.com", "exact", "https", "app.example.com", None),
        ("http://localhost:3000", "exact", "http", "localhost", 3000),
        ("https://*.example.com", "subdomain", "https", "example.com", None),
        ("https://*.example.com:8443", "subdomain", "https", "example.com", 8443),
        ("https://*.example.com:*", "subdomain", "https", "example.com", -1),
        ("http://localhost:*", "port", "http", "localhost", -1),
        ("null", "null", "", "", None),
    ],
)
def test_parse_entry_parts(value: str, kind: str, scheme: str, host: str, port: int | None) -> None:
    entry = parse_entry(value)
    assert (entry.kind, entry.scheme, entry.host, entry.port) == (kind, scheme, host, port)


# -- refusals -----------------------------------------------------------------------------------

REFUSED = [
    # (value, a part of the message that tells how to fix it)
    ("", "Enter an origin"),
    ("app.example.com", "Write it as scheme://host[:port]"),
    ("//app.example.com", "Write it as scheme://host[:port]"),
    ("https:app.example.com", "Write it as scheme://host[:port]"),
    ("1https://app.example.com", "invalid scheme"),
    ("*://app.example.com", "invalid scheme"),
    ("https://app.example.com/", "Remove the trailing slash"),
    ("https://app.example.com/", "write 'https://app.example.com'"),
    ("https://app.example.com/path", "contains a path"),
    ("https://app.example.com/path", "write 'https://app.example.com'"),
    ("https://app.example.com:8443/a/b", "write 'https://app.example.com:8443'"),
    ("https://app.example.com?x=1", "contains a query"),
    ("https://app.example.com#frag", "contains a fragment"),
    ("https://user@app.example.com", "user information"),
    ("https://user:secret@app.example.com", "user information"),
    (" https://app.example.com", "Remove the spaces"),
    ("https://app.example.com ", "Remove the spaces"),
    ("https://app.example.com\n", "Remove the spaces"),
    ("https://app .example.com", "cannot contain spaces"),
    ("https://app\t.example.com", "cannot contain spaces"),
    ("https://app\u00a0.example.com", "cannot contain spaces"),
    ("https://app.example.com\x00", "control characters"),
    ("https://app\x00.example.com", "control characters"),
    ("https://app\x1b.example.com", "control characters"),
    ("https://app\x7f.example.com", "control characters"),
    ("https://app\x9b.example.com", "control characters"),
    ("https://app.example.com.", "Remove the trailing dot"),
    ("https://app.example.com.:8443", "Remove the trailing dot"),
    ("https://*.example.com.", "Remove the trailing dot"),
    ("*", "turn on 'allow all origins'"),
    ("https://*", "wildcard is only allowed as the first label"),
    ("https://app.*.example.com", "wildcard is only allowed as the first label"),
    ("https://*example.com", "wildcard is only allowed as the first label"),
    ("https://*.*.example.com", "wildcard is only allowed as the first label"),
    ("https://app.example.*", "wildcard is only allowed as the first label"),
    ("https://ap*.example.com", "wildcard is only allowed as the first label"),
    ("https://*.com", "public suffix 'com'"),
    ("https://*.co.uk", "public suffix 'co.uk'"),
    ("https://*.github.io", "public suffix 'github.io'"),
    ("https://*.CO.UK", "public suffix 'co.uk'"),
    ("https://*.com:8443", "public suffix 'com'"),
    ("https://*.127.0.0.1", "cannot stand over an IP address"),
    ("https://*.[::1]", "cannot stand over an IP address"),
    ("https://*.[::1]:8443", "cannot stand over an IP address"),
    ("https://app.example.com,https://b.example.com", "one origin per entry"),
    ("https://", "has no host"),
    ("https://:8443", "has no host"),
    ("https://app.example.com:", "no port number"),
    ("https://app.example.com:0", "between 1 and 65535"),
    ("https://app.example.com:65536", "between 1 and 65535"),
    ("https://app.example.com:8o", "must be a number or '*'"),
    ("https://app.example.com:\u0661\u0662", "must be a number or '*'"),
    ("https://a:b:c", "more than one port"),
    ("https://app..example.com", "empty label"),
    ("https://.example.com", "empty label"),
    ("https://300.1.1.1", "invalid IPv4 address"),
    ("https://1.2.3", "invalid IPv4 address"),
    ("https://\uff11\uff12\uff13", "invalid IPv4 address"),  # full-width digits: '123'
    ("https://0x7f.0.0.1", "invalid IPv4 address"),  # browsers read it as 127.0.0.1
    ("https://app.example.123", "invalid IPv4 address"),  # a numeric last label means IPv4
    ("https://[::1", "malformed IPv6"),
    ("https://[::g]", "invalid IPv6"),
    ("https://[::1]x", "unexpected text after the IPv6 address"),
    ("https://app.example.com\\evil.com", "not allowed in a host"),
    ("https://app.example.com%2eevil.com", "not allowed in a host"),
    ("https://exa$mple.com", "invalid host label"),
    ("https://-app.example.com", "invalid host label"),
    ("https://" + "a" * 64 + ".example.com", "invalid host label"),
    ("https://" + ("a" * 60 + ".") * 5 + "com", "longer than 253"),
    ("https://" + "a" * MAX_ORIGIN_LENGTH, f"at most {MAX_ORIGIN_LENGTH} characters"),
    ("https://app\u200b.example.com", "invisible character (U+200B)"),  # zero-width space
    ("https://app\u00ad.example.com", "invisible character (U+00AD)"),  # soft hyphen
]


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_refused_entries(value: str, message: str) -> None:
    with pytest.raises(OriginError) as excinfo:
        normalize_entry(value)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("value", [None, 42, b"https://app.example.com", ["https://a.com"]])
def test_non_text_entries_are_refused(value: object) -> None:
    with pytest.raises(OriginError, match="must be a string"):
        parse_entry(value)  # type: ignore[arg-type]


def test_wildcard_over_own_domain_below_public_suffix_is_fine() -> None:
    assert is_public_suffix("com")
    assert is_public_suffix("co.uk")
    assert is_public_suffix("github.io")
    assert not is_public_suffix("example.com")
    assert not is_public_suffix("example.co.uk")
    assert not is_public_suffix("localhost")  # unknown names are not public suffixes


# -- request origins ----------------------------------------------------------------------------

ACCEPTED_REQUEST_ORIGINS = [
    ("https://app.example.com", RequestOrigin("https", "app.example.com", None)),
    ("http://localhost:3000", RequestOrigin("http", "localhost", 3000)),
    ("http://example.com:443", RequestOrigin("http", "example.com", 443)),
    ("http://127.0.0.1", RequestOrigin("http", "127.0.0.1", None)),
    ("http://127.0.0.1:8000", RequestOrigin("http", "127.0.0.1", 8000)),
    ("http://[::1]:8000", RequestOrigin("http", "[::1]", 8000)),
    ("https://[2001:db8::1]", RequestOrigin("https", "[2001:db8::1]", None)),
    ("https://xn--bcher-kva.example", RequestOrigin("https", "xn--bcher-kva.example", None)),
    (
        "chrome-extension://abcdefghijklmnop",
        RequestOrigin("chrome-extension", "abcdefghijklmnop", None),
    ),
    ("https://my_host.example.com", RequestOrigin("https", "my_host.example.com", None)),
    ("https://a.example.com:65535", RequestOrigin("https", "a.example.com", 65535)),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTED_REQUEST_ORIGINS)
def test_parse_request_origin_accepts_canonical(value: str, expected: RequestOrigin) -> None:
    assert parse_request_origin(value) == expected


NON_CANONICAL_REQUEST_ORIGINS = [
    "",
    "null",
    "*",
    "HTTPS://app.example.com",
    "Https://app.example.com",
    "https://App.example.com",
    "https://APP.EXAMPLE.COM",
    "https://app.example.com/",
    "https://app.example.com/path",
    "https://app.example.com?x",
    "https://app.example.com#x",
    "https://app.example.com.",
    "https://app.example.com.:8443",
    "https://app.example.com:443",
    "http://app.example.com:80",
    "wss://app.example.com:443",
    "https://app.example.com:0443",
    "https://app.example.com:08443",
    "https://app.example.com:0",
    "https://app.example.com:65536",
    "https://app.example.com:99999",
    "https://app.example.com:",
    "https://app.example.com:*",
    "https://*.example.com",
    "https://user@app.example.com",
    "https://app.example.com@evil.com",
    "https://app.example.com, https://evil.com",
    "https://app.example.com,https://evil.com",
    "https://app.example.com https://evil.com",
    " https://app.example.com",
    "https://app.example.com ",
    "https://app.example.com\x00",
    "https://app.example.com\n",
    "https://app.example.com\r\n",
    "https://app.example.com\t",
    "https://app..example.com",
    "https://.app.example.com",
    "https://bücher.example",
    "https://\u0430pp.example.com",  # Cyrillic a
    "https://app.exam\u00adple.com",  # soft hyphen
    "https://app.example.com%2eevil.com",
    "https://app.example.com\\@evil.com",
    "http://01.2.3.4",
    "http://1.2.3",
    "http://1.2.3.256",
    "http://0x7f.0.0.1",
    "http://a.1",
    "http://app.example.123",
    "http://[::0001]",
    "http://[0:0:0:0:0:0:0:1]",
    "http://[::FFFF:1.2.3.4]",
    "http://[::ffff:1.2.3.4]",
    "http://[::1",
    "http://::1",
    "https://",
    "https:///",
    "//app.example.com",
    "app.example.com",
    "https://" + "a" * 60 + "." + ("b" * 60 + ".") * 16 + "com",  # canonical form, > 1 KiB
]


@pytest.mark.parametrize("value", NON_CANONICAL_REQUEST_ORIGINS)
def test_parse_request_origin_refuses_non_canonical(value: str) -> None:
    assert parse_request_origin(value) is None


def test_request_origin_length_cap_is_exactly_one_kib() -> None:
    host = ("a" * 49 + ".") * 20 + "a" * 12  # 1012 characters, labels under 63
    at_cap = f"https://{host}.com"
    assert len(at_cap) == MAX_ORIGIN_LENGTH
    assert parse_request_origin(at_cap) is not None
    assert parse_request_origin(at_cap + "x") is None  # one character more


# -- properties ---------------------------------------------------------------------------------

_LABEL_CHARS = "abcXYZ019-_é\u0430\uff11\u00df"
labels = st.text(alphabet=_LABEL_CHARS, min_size=1, max_size=8)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[2001:DB8::0:1]", "01.2.3.4", "1.2.3"]),
)
schemes = st.sampled_from(["http", "https", "HTTPS", "wss", "chrome-extension", "Http"])
ports = st.one_of(
    st.just(""),
    st.integers(min_value=0, max_value=70000).map(lambda p: f":{p}"),
    st.sampled_from([":80", ":443", ":0443", ":*", ":", ":08080"]),
)
suffixes = st.sampled_from(["", "", "", "/", ".", "/x", "?q", "#f", " ", "\x00", ","])


@st.composite
def origin_like(draw: st.DrawFn) -> str:
    wildcard = draw(st.sampled_from(["", "", "*."]))
    return (
        draw(schemes)
        + "://"
        + draw(st.sampled_from(["", "", "", "user@"]))
        + wildcard
        + draw(hosts)
        + draw(ports)
        + draw(suffixes)
    )


any_entry_text = st.one_of(origin_like(), st.text(max_size=60))


@settings(max_examples=300, deadline=None)
@given(any_entry_text)
@example("https://\uff11\uff12\uff13")
@example("https://\uff10\uff11.2.3.4")
@example("https://[::FFFF:1.2.3.4]:443")
def test_normalize_is_idempotent_and_raises_only_origin_error(value: str) -> None:
    try:
        normalized = normalize_entry(value)
    except OriginError:
        return
    assert normalize_entry(normalized) == normalized
    assert parse_entry(normalized) == parse_entry(value)


@settings(max_examples=300, deadline=None)
@given(origin_like())
@example("https://\uff11\uff12\uff13")
@example("https://\uff10\uff11.2.3.4")
@example("http://[0:0::1]:0080")
def test_normalized_exact_entries_are_canonical_request_origins(value: str) -> None:
    try:
        entry = parse_entry(value)
    except OriginError:
        return
    if entry.kind != "exact":
        return
    parsed = parse_request_origin(entry.value)
    assert parsed is not None, entry.value
    assert (parsed.scheme, parsed.host, parsed.port) == (entry.scheme, entry.host, entry.port)
    suffix = "" if parsed.port is None else f":{parsed.port}"
    assert f"{parsed.scheme}://{parsed.host}{suffix}" == entry.value


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        origin_like(),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    )
)
def test_parse_request_origin_never_raises(value: str) -> None:
    parsed = parse_request_origin(value)
    if parsed is None:
        return
    # What it accepts is already canonical: serializing it gives the very same text, and
    # the entry normalizer (when it accepts the text at all) leaves it unchanged.
    suffix = "" if parsed.port is None else f":{parsed.port}"
    assert f"{parsed.scheme}://{parsed.host}{suffix}" == value
    try:
        assert normalize_entry(value) == value
    except OriginError:
        pass


canonical_hosts = st.one_of(
    st.lists(st.text(alphabet="abcxyz019", min_size=1, max_size=6), min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda h: not h.rsplit(".", 1)[-1].isdigit()),  # a numeric last label is IPv4
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[2001:db8::1]"]),
)


@st.composite
def canonical_origins(draw: st.DrawFn) -> tuple[str, str, str, int | None]:
    scheme = draw(st.sampled_from(["http", "https", "wss", "chrome-extension"]))
    host = draw(canonical_hosts)
    port = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=65535)))
    if port is not None and (scheme, port) in {("http", 80), ("https", 443), ("wss", 443)}:
        port = None
    return scheme, host, ("" if port is None else f":{port}"), port


@settings(max_examples=200, deadline=None)
@given(canonical_origins(), st.data())
def test_parse_request_origin_refuses_every_non_canonical_variant(
    origin: tuple[str, str, str, int | None], data: st.DataObject
) -> None:
    scheme, host, port_text, port = origin
    canonical = f"{scheme}://{host}{port_text}"
    assert parse_request_origin(canonical) == RequestOrigin(scheme, host, port)
    default = {"http": 80, "https": 443, "wss": 443}.get(scheme)
    variants = [
        f"{scheme.upper()}://{host}{port_text}",
        f"{scheme}://{host}{port_text}/",
        f"{scheme}://{host}.{port_text}",
        f"{scheme}://{host}{port_text}.",
        f" {canonical}",
        f"{canonical} ",
        f"{canonical},{canonical}",
        f"user@{canonical}",
        f"{scheme}://user@{host}{port_text}",
    ]
    if any(c.isalpha() for c in host):
        i = data.draw(st.sampled_from([i for i, c in enumerate(host) if c.isalpha()]))
        variants.append(f"{scheme}://{host[:i]}{host[i].upper()}{host[i + 1 :]}{port_text}")
    if port is None and default is not None:
        variants.append(f"{scheme}://{host}:{default}")
    if port is not None:
        variants.append(f"{scheme}://{host}:0{port}")
        variants.append(f"{scheme}://{host}:00{port}")
    for variant in variants:
        assert parse_request_origin(variant) is None, variant


# -- entries_allowing: the "which entries let this origin in?" index equals the engine ----------


_labels = st.sampled_from(["a", "b", "app", "example", "com", "co", "uk", "github", "io"])
_hosts = st.one_of(
    st.lists(_labels, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]"]),
)
_entry_texts = st.builds(
    lambda scheme, wild, host, port: f"{scheme}://{wild}{host}{port}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["", "*."]),
    _hosts,
    st.sampled_from(["", ":8080", ":*", ":443"]),
)
_request_origins = st.one_of(
    st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}",
        st.sampled_from(["http", "https"]),
        _hosts,
        st.sampled_from(["", ":8080", ":3000"]),
    ),
    st.just("null"),
)


@settings(max_examples=400, deadline=None)
@given(_entry_texts, _request_origins)
@example("https://*.example.com", "https://a.b.example.com")
@example("http://localhost:*", "http://localhost")
@example("https://*.co.uk", "https://example.co.uk")
def test_entries_allowing_agrees_with_the_engine(entry_text: str, origin: str) -> None:
    try:
        entry = parse_entry(entry_text)
    except OriginError:
        return  # refused entries are never stored, so never looked up
    policy = CompiledPolicy(PolicySpec(name="p", path="/"), [entry])
    assert (entry.value in entries_allowing(origin)) == policy.origin_allowed(origin)


def test_entries_allowing_lists_the_origin_its_port_wildcard_and_parent_wildcards() -> None:
    assert entries_allowing("https://a.b.example.co.uk:8443") == (
        "https://a.b.example.co.uk:8443",
        "https://a.b.example.co.uk:*",
        "https://*.b.example.co.uk:8443",
        "https://*.b.example.co.uk:*",
        "https://*.example.co.uk:8443",
        "https://*.example.co.uk:*",
    )  # never '*.co.uk' or '*.uk': wildcards over public suffixes are refused
    assert entries_allowing("null") == ("null",)
    assert entries_allowing("HTTPS://A.EXAMPLE.COM") == ()
