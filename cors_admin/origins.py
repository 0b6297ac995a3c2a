"""Parse, normalize and validate origins.

Two jobs, kept apart on purpose:

* :func:`normalize_entry` turns what an operator typed into an allowlist entry
  (``HTTPS://App.Example.COM:443``) into its canonical form
  (``https://app.example.com``), or raises :class:`OriginError` with a message
  that says how to fix it. Models, admin, API and import commands all call it.
* :func:`parse_request_origin` checks an ``Origin`` request header. Browsers
  always send a canonical serialized origin; anything else (uppercase, a
  trailing slash, a default port, user info, several origins joined by commas,
  control characters, ...) is refused by returning ``None``. It never raises.

This module imports nothing from Django, so the engine can use it freely.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import idna

__all__ = [
    "DEFAULT_PORTS",
    "MAX_ORIGIN_LENGTH",
    "NULL",
    "EntryKind",
    "OriginEntry",
    "OriginError",
    "RequestOrigin",
    "canonical_origin_parts",
    "entries_allowing",
    "is_public_suffix",
    "normalize_entry",
    "parse_entry",
    "parse_request_origin",
]

NULL = "null"
MAX_ORIGIN_LENGTH = 1024
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}

EntryKind = Literal["exact", "subdomain", "port", "null"]

_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.\-]*\Z")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?\Z")
_IPV4ISH_RE = re.compile(r"[0-9.]+\Z")
# Whitespace (any Unicode space) and C0/C1 control characters.
_BAD_CHAR_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# A canonical request origin: lowercase scheme, lowercase ASCII host (or a
# bracketed IPv6 literal), optional non-default port without leading zeros.
_REQUEST_ORIGIN_RE = re.compile(
    r"([a-z][a-z0-9+.\-]*)://"
    r"((?:[a-z0-9_\-]+\.)*[a-z0-9_\-]+|\[[0-9a-f:.]+\])"
    r"(?::([1-9][0-9]{0,4}))?\Z"
)


class OriginError(ValueError):
    """An allowlist entry that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class OriginEntry:
    """A normalized allowlist entry.

    ``host`` is the full host for ``exact`` and ``port`` entries and the parent
    domain (without ``*.``) for ``subdomain`` entries. ``port`` is ``None`` for
    the scheme's default port and ``-1`` for "any port".
    """

    kind: EntryKind
    value: str
    scheme: str = ""
    host: str = ""
    port: int | None = None


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    scheme: str
    host: str
    port: int | None  # None: the scheme's default port (never sent explicitly)


def _check_characters(value: str) -> None:
    if not value:
        raise OriginError("Enter an origin, for example https://app.example.com.")
    if len(value) > MAX_ORIGIN_LENGTH:
        raise OriginError(f"An origin is at most {MAX_ORIGIN_LENGTH} characters long.")
    if "," in value:
        raise OriginError("Enter one origin per entry; add each origin separately.")
    if value != value.strip():
        raise OriginError("Remove the spaces before or after the origin.")
    if not value.isascii():
        for ch in value:
            if unicodedata.category(ch) == "Cf":
                raise OriginError(
                    f"The origin contains an invisible character (U+{ord(ch):04X}); "
                    "retype it without copying from formatted text."
                )
    bad = _BAD_CHAR_RE.search(value)
    if bad is not None:
        if bad.group().isspace():
            raise OriginError("An origin cannot contain spaces.")
        raise OriginError("An origin cannot contain control characters.")


def _ends_in_number(host: str) -> bool:
    """WHATWG URL: a host whose last label is a number is an IPv4 address (or invalid)."""
    return host[host.rfind(".") + 1 :].isdigit()


def _normalize_host(raw: str, original: str) -> str:
    """Lowercase, IDN to punycode, canonical IP literals; refuse bad hosts."""
    if not raw:
        raise OriginError(f"'{original}' has no host. Use the form scheme://host[:port].")
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise OriginError(f"'{original}' has a malformed IPv6 address.")
        try:
            addr = ipaddress.IPv6Address(raw[1:-1])
        except ValueError:
            raise OriginError(f"'{original}' has an invalid IPv6 address.") from None
        return f"[{addr.compressed}]"
    if raw.endswith("."):
        raise OriginError(
            f"Remove the trailing dot from the host in '{original}'; "
            "browsers never send it in an Origin header."
        )
    if ".." in raw or raw.startswith("."):
        raise OriginError(f"'{original}' has an empty label in its host.")
    host = raw.lower()
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise OriginError(f"'{original}' has an invalid international host: {exc}.") from None
    if _ends_in_number(host):  # browsers read such a host as an IPv4 address
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise OriginError(f"'{original}' has an invalid IPv4 address.") from None
    for label in host.split("."):
        if len(label) > 63 or not _LABEL_RE.match(label):
            raise OriginError(
                f"'{original}' has an invalid host label '{label}'. Hosts use letters, digits "
                "and hyphens."
            )
    if len(host) > 253:
        raise OriginError(f"The host in '{original}' is longer than 253 characters.")
    return host


@lru_cache(maxsize=1)
def _psl():  # type: ignore[no-untyped-def]
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """True if ``domain`` is itself a public suffix (``com``, ``co.uk``, ``github.io``).

    Unknown top-level names (``localhost``, ``internal``) are not treated as
    public suffixes, so ``http://*.localhost`` stays usable for development.
    """
    return bool(_psl().publicsuffix(domain, accept_unknown=False) == domain)


def parse_entry(value: str) -> OriginEntry:
    """Parse and normalize one allowlist entry; raise :class:`OriginError` if unusable."""
    if not isinstance(value, str):
        raise OriginError("An origin must be a string.")
    _check_characters(value)
    if value.lower() == NULL:
        return OriginEntry(kind="null", value=NULL)
    if value == "*":
        raise OriginError(
            "'*' is not an origin. To answer every origin, turn on 'allow all origins' instead."
        )
    scheme_sep = value.find("://")
    if scheme_sep <= 0:
        raise OriginError(
            f"'{value}' is not an origin. Write it as scheme://host[:port], "
            "for example https://app.example.com."
        )
    scheme = value[:scheme_sep].lower()
    if not _SCHEME_RE.match(scheme):
        raise OriginError(f"'{value}' has an invalid scheme '{value[:scheme_sep]}'.")
    rest = value[scheme_sep + 3 :]
    if rest.endswith("/") and "/" not in rest[:-1]:
        raise OriginError(
            f"Remove the trailing slash: an origin has no path, so write '{value[:-1]}'."
        )
    for sep, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment")):
        if sep in rest:
            cut = rest.find(sep)
            raise OriginError(
                f"'{value}' contains {what}; an origin is only scheme://host[:port], "
                f"so write '{scheme}://{rest[:cut]}'."
            )
    if "@" in rest:
        raise OriginError(
            f"'{value}' contains user information ('...@'); an origin is only scheme://host[:port]."
        )
    if "\\" in rest or "%" in rest:
        raise OriginError(f"'{value}' contains characters that are not allowed in a host.")

    if rest.startswith("*.["):
        raise OriginError(f"'{value}': a subdomain wildcard cannot stand over an IP address.")
    # Split host and port (IPv6 literals keep their colons inside brackets).
    port_text: str | None = None
    if rest.startswith("["):
        end = rest.find("]")
        if end == -1:
            raise OriginError(f"'{value}' has a malformed IPv6 address.")
        host_text, after = rest[: end + 1], rest[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise OriginError(f"'{value}' has unexpected text after the IPv6 address.")
            port_text = after[1:]
    elif ":" in rest:
        host_text, port_text = rest.rsplit(":", 1)
        if ":" in host_text:
            raise OriginError(
                f"'{value}' has more than one port; write [..] around IPv6 addresses."
            )
    else:
        host_text = rest

    port: int | None
    if port_text is None:
        port = None
    elif port_text == "*":
        port = -1
    elif port_text.isdigit() and port_text.isascii():
        port = int(port_text)
        if not 0 < port <= 65535:
            raise OriginError(f"The port in '{value}' must be between 1 and 65535.")
        if port == DEFAULT_PORTS.get(scheme):
            port = None  # default ports are never sent by browsers
    elif port_text == "":
        raise OriginError(f"'{value}' ends with ':' but has no port number.")
    else:
        raise OriginError(f"The port in '{value}' must be a number or '*'.")

    wildcard = host_text.startswith("*.")
    if wildcard:
        host_text = host_text[2:]
    if "*" in host_text:
        raise OriginError(
            f"'{value}': a wildcard is only allowed as the first label, as in "
            "https://*.example.com, or as the port, as in http://localhost:*."
        )
    host = _normalize_host(host_text, value)

    port_suffix = "" if port is None else (":*" if port == -1 else f":{port}")
    if wildcard:
        if host.startswith("[") or _IPV4ISH_RE.match(host):
            raise OriginError(f"'{value}': a subdomain wildcard cannot stand over an IP address.")
        if is_public_suffix(host):
            raise OriginError(
                f"'{value}' would allow every site under the public suffix '{host}', "
                "which anyone can register. List the sites themselves, or put the wildcard "
                "over your own domain, as in https://*.example.com."
            )
        return OriginEntry(
            kind="subdomain",
            value=f"{scheme}://*.{host}{port_suffix}",
            scheme=scheme,
            host=host,
            port=port,
        )
    if port == -1:
        return OriginEntry(
            kind="port", value=f"{scheme}://{host}:*", scheme=scheme, host=host, port=-1
        )
    return OriginEntry(
        kind="exact", value=f"{scheme}://{host}{port_suffix}", scheme=scheme, host=host, port=port
    )


def normalize_entry(value: str) -> str:
    """Return the canonical text of an allowlist entry, or raise :class:`OriginError`."""
    return parse_entry(value).value


def canonical_origin_parts(value: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of a canonical serialized origin, else ``None``.

    The fast core of :func:`parse_request_origin`: one regex match, plus
    ``ipaddress`` only for IP literals. ``port`` is ``None`` for the default.
    """
    if len(value) > MAX_ORIGIN_LENGTH:
        return None
    m = _REQUEST_ORIGIN_RE.match(value)
    if m is None:
        return None
    scheme, host, port_text = m.groups()
    if host[0] == "[":
        try:
            if f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]" != host:
                return None
        except ValueError:
            return None
    elif host[-1].isdigit() and _ends_in_number(host):
        try:
            if str(ipaddress.IPv4Address(host)) != host:
                return None
        except ValueError:
            return None
    if port_text is None:
        return scheme, host, None
    port = int(port_text)
    if port > 65535 or port == DEFAULT_PORTS.get(scheme):
        return None
    return scheme, host, port


def entries_allowing(origin: str) -> tuple[str, ...]:
    """Every allowlist entry text that lets the Origin value ``origin`` in.

    The origin itself, its port wildcard (``scheme://host:*``) and, for each
    parent domain, the subdomain wildcards (``scheme://*.parent`` with the
    origin's port, and with ``:*``); ``('null',)`` for ``null``; nothing for a
    value that is not a canonical origin. This answers "which policies allow
    this origin?" with one indexed lookup of a handful of values; a test checks
    it against the engine's matcher.
    """
    parts = canonical_origin_parts(origin)
    if parts is None:
        return (NULL,) if origin == NULL else ()
    scheme, host, port = parts
    port_text = "" if port is None else f":{port}"
    result = [origin, f"{scheme}://{host}:*"]
    if host[0] != "[" and not _IPV4ISH_RE.match(host):
        i = host.find(".")
        while i != -1:
            parent = host[i + 1 :]
            if not is_public_suffix(parent):  # such entries are refused, never matched
                result.append(f"{scheme}://*.{parent}{port_text}")
                result.append(f"{scheme}://*.{parent}:*")
            i = host.find(".", i + 1)
    return tuple(result)


def parse_request_origin(value: str) -> RequestOrigin | None:
    """Parse an ``Origin`` header value if, and only if, it is canonical.

    Returns ``None`` for ``null``, for anything over :data:`MAX_ORIGIN_LENGTH`
    and for any value a browser would never send (it is not allowed, never an
    error).
    """
    parts = canonical_origin_parts(value)
    return None if parts is None else RequestOrigin(*parts)
