"""``manage.py cors_import_settings``: turn a django-cors-headers configuration into a policy.

Reads the ``CORS_*`` settings the way django-cors-headers does (with its old
names and its defaults) and writes one equivalent policy through the same
importer as ``cors_import``. Whatever cannot be carried over exactly is said
plainly: regexes it cannot translate, unanchored regexes, combinations
cors_admin refuses. Translations that change behaviour a little (a one-label
regex becoming a wildcard of any depth) are listed as differences.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...engine import DEFAULT_HEADERS
from ...transfer import ImportFailed, import_policies
from ...validation import normalize_origin, policy_warnings

__all__ = [
    "Translation",
    "Untranslatable",
    "translate_origin_regex",
    "translate_settings",
    "translate_urls_regex",
]

# django-cors-headers' defaults (see its documentation).
CORS_HEADERS_DEFAULT_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
CORS_HEADERS_DEFAULT_HEADERS = DEFAULT_HEADERS
CORS_HEADERS_DEFAULT_MAX_AGE = 86400
CORS_HEADERS_DEFAULT_URLS_REGEX = r"^.*$"


class Untranslatable(ValueError):
    """A regex this command cannot express as allowlist entries or a path."""


@dataclass
class Translation:
    """The policy to write, and what the operator must know about it."""

    policy: dict[str, Any]
    #: Carried over with a difference in behaviour worth knowing.
    differences: list[str] = field(default_factory=list)
    #: Not carried over at all.
    not_carried: list[str] = field(default_factory=list)
    #: Plain information (what was read, what was normalized).
    notes: list[str] = field(default_factory=list)


# -- origin regexes -----------------------------------------------------------------

_START_RE = re.compile(r"\^|\\A")
_SCHEMES: dict[str, list[str]] = {
    "https?": ["http", "https"],
    "(https?)": ["http", "https"],
    "(?:https?)": ["http", "https"],
    "(http|https)": ["http", "https"],
    "(https|http)": ["http", "https"],
    "(?:http|https)": ["http", "https"],
    "(?:https|http)": ["http", "https"],
}
_LITERAL_SCHEME_RE = re.compile(r"[a-z][a-z0-9+\-]*")
_SEPARATOR_RE = re.compile(r":(?:\\?/){2}")
# A character class (or \w) for one DNS label: no dot in it.
_ONE_LABEL = r"(?:\\w|\[(?:\\w|\\-|[A-Za-z0-9_\-])+\]|\[\^\\?\.(?:/|\\/)?\])[+*]"
# Patterns that cover any number of labels.
_ANY_LABELS = r"(?:\.[+*]|\[\^/\][+*]|\[\^\\/\][+*]|\[(?:\\w|\\-|\\\.|[A-Za-z0-9_.\-])+\][+*])"
_SUB_RES: list[tuple[re.Pattern[str], str]] = [
    # (LABEL\.)?  -> the bare domain and one label (widened to any depth)
    (re.compile(rf"\((?:\?:)?{_ONE_LABEL}\\\.\)\?"), "optional-one"),
    # (LABEL\.)+  -> any depth, at least one label
    (re.compile(rf"\((?:\?:)?{_ONE_LABEL}\\\.\)\+"), "any"),
    # (LABEL\.)*  -> the bare domain and any depth
    (re.compile(rf"\((?:\?:)?{_ONE_LABEL}\\\.\)\*"), "optional-any"),
    # (.+\.)?     -> the bare domain and any depth
    (re.compile(rf"\((?:\?:)?{_ANY_LABELS}\\\.\)\?"), "optional-any"),
    (re.compile(rf"{_ONE_LABEL}\\\."), "one"),
    (re.compile(rf"{_ANY_LABELS}\\\."), "any"),
]
_DOMAIN_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9]|\\?-)*\\\.)*[A-Za-z0-9](?:[A-Za-z0-9]|\\?-)*"
)
_DIGITS = r"(?:\\d|\[0-9\])(?:\+|\{1,5\})"
_PORT_RES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\((?:\?:)?:{_DIGITS}\)\?"), "any"),
    (re.compile(rf":{_DIGITS}"), "explicit"),
    (re.compile(r":([0-9]{1,5})"), "literal"),
]
_END_RE = re.compile(r"(?:\$|\\Z|\\z)\Z")


def _strip_anchors(text: str) -> tuple[str, bool]:
    body = text
    m = _START_RE.match(body)
    if m:
        body = body[m.end() :]
    end = _END_RE.search(body)
    if end and not _escaped(body, end.start()):
        return body[: end.start()], True
    return body, False


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def translate_origin_regex(pattern: Any) -> tuple[list[str], list[str]]:
    """Entries equivalent to one CORS_ALLOWED_ORIGIN_REGEXES item, and the differences.

    Only recognizable shapes are translated: ``^scheme://[subdomains\\.]domain[:port]$``
    with the usual spellings. Raises :class:`Untranslatable` with the reason.
    """
    text, flags = _pattern_text(pattern)
    if flags & ~(re.IGNORECASE | re.UNICODE):
        raise Untranslatable("it uses regex flags other than IGNORECASE")
    body, anchored = _strip_anchors(text)
    entries, differences = _translate_origin_body(body)
    if not anchored:
        raise Untranslatable(
            "it is not anchored with '$': django-cors-headers uses re.match, so it also "
            f"accepts longer origins such as '{_longer_example(entries)}'. An anchored version "
            f"would be {', '.join(entries)}; add that yourself if it is what you meant"
        )
    return entries, differences


def _longer_example(entries: list[str]) -> str:
    first = entries[0].replace("*.", "www.").replace(":*", ":8080")
    return first + ".evil.example"


def _pattern_text(pattern: Any) -> tuple[str, int]:
    if isinstance(pattern, re.Pattern):
        return str(pattern.pattern), pattern.flags
    if isinstance(pattern, str):
        return pattern, 0
    raise Untranslatable(f"it is a {type(pattern).__name__}, not a string or compiled regex")


def _translate_origin_body(body: str) -> tuple[list[str], list[str]]:
    pos = 0
    schemes: list[str] | None = None
    for spelling, names in _SCHEMES.items():
        if body.startswith(spelling, pos):
            schemes, pos = names, pos + len(spelling)
            break
    if schemes is None:
        m = _LITERAL_SCHEME_RE.match(body, pos)
        if not m:
            raise Untranslatable("its scheme part is not a plain scheme such as https")
        schemes, pos = [m.group(0)], m.end()
    m = _SEPARATOR_RE.match(body, pos)
    if not m:
        raise Untranslatable("it has no '://' after the scheme")
    pos = m.end()

    sub_kind: str | None = None
    for sub_re, kind in _SUB_RES:
        m = sub_re.match(body, pos)
        if m:
            sub_kind, pos = kind, m.end()
            break

    m = _DOMAIN_RE.match(body, pos)
    if not m:
        raise Untranslatable("its host part is not a literal domain name")
    domain = m.group(0).replace("\\.", ".").replace("\\-", "-").lower()
    pos = m.end()

    port = ""
    differences: list[str] = []
    for port_re, kind in _PORT_RES:
        m = port_re.match(body, pos)
        if m:
            pos = m.end()
            if kind == "literal":
                port = f":{m.group(1)}"
            else:
                port = ":*"
                if kind == "explicit":
                    differences.append(
                        "':*' also allows the origin without a port (the scheme's default port)"
                    )
            break

    if pos != len(body):
        rest = body[pos:]
        if re.search(r"(?<!\\)\.", rest):
            raise Untranslatable(
                "its host has an unescaped '.', which matches any character (write '\\.' for a dot)"
            )
        raise Untranslatable(f"'{rest}' is not a part this command can translate")

    hosts: list[str] = []
    if sub_kind is None:
        hosts = [domain]
    elif sub_kind == "one":
        hosts = [f"*.{domain}"]
        differences.append(
            "the regex allowed one subdomain label; the wildcard also allows deeper "
            "subdomains (a.b." + domain + ") and labels with characters the class left out"
        )
    elif sub_kind == "optional-one":
        hosts = [domain, f"*.{domain}"]
        differences.append(
            "the regex allowed one optional subdomain label; the wildcard also allows deeper "
            "subdomains (a.b." + domain + ")"
        )
    elif sub_kind == "any":
        hosts = [f"*.{domain}"]
    else:  # optional-any
        hosts = [domain, f"*.{domain}"]
    entries = [f"{scheme}://{host}{port}" for scheme in schemes for host in hosts]
    return entries, differences


# -- CORS_URLS_REGEX ----------------------------------------------------------------

_MATCH_ALL = {"", "^", ".*", "^.*", "^.*$", ".*$", "^(.*)$", "(.*)", "^/", "/", "^/.*", "^/.*$"}
_PATH_LITERAL = r"(?:[A-Za-z0-9_~!&',;=:@%/\-]|\\[./\-~_])"
_SIMPLE_PATH_RE = re.compile(
    rf"\^?(?P<lit>/{_PATH_LITERAL}*?)(?P<any>\.\*|\(\.\*\))?(?P<end>\$)?\Z"
)
_GLOBAL_FLAGS_RE = re.compile(r"\(\?[aiLmsux]+\)")


def translate_urls_regex(pattern: Any) -> tuple[str, str, str | None]:
    """``(path, path_type, note)`` covering the paths ``re.match(pattern, path_info)`` covers.

    Simple prefixes become prefix/exact paths; anything else an equivalent
    full-match regex path. Raises :class:`Untranslatable`.
    """
    text, flags = _pattern_text(pattern)
    flags &= ~re.UNICODE
    if flags:
        letters = "".join(
            letter
            for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
            if flags & flag
        )
        if flags & ~(re.IGNORECASE | re.MULTILINE | re.DOTALL):
            raise Untranslatable("it uses regex flags other than IGNORECASE, MULTILINE, DOTALL")
        text = f"(?{letters}:{text})"
    if text in _MATCH_ALL:
        return "/", "prefix", None
    m = _SIMPLE_PATH_RE.fullmatch(text)
    if m and "|" not in text:
        literal = re.sub(r"\\(.)", r"\1", m.group("lit"))
        if m.group("end") and not m.group("any"):
            return literal, "exact", None
        if literal.endswith("/"):
            return literal, "prefix", None
        return (
            re.escape(literal) + ".*",
            "regex",
            f"it also covers paths such as '{literal}x' (no '/' after '{literal}'), so it "
            f"became a regex path; a prefix path '{literal}' would cover '{literal}' and "
            f"'{literal}/...' only",
        )
    try:
        re.compile(text)
    except re.error as exc:
        raise Untranslatable(f"it does not compile: {exc}") from None
    flags_prefix = ""
    g = _GLOBAL_FLAGS_RE.match(text)
    if g:
        flags_prefix, text = g.group(0), text[g.end() :]
    if "|" in text:
        regex = f"{flags_prefix}(?:{text}).*"
    else:
        body = text[1:] if text.startswith("^") else text
        if body.endswith("$") and not _escaped(body, len(body) - 1):
            regex = flags_prefix + body[:-1]
        else:
            regex = flags_prefix + body + ".*"
    try:
        re.compile(regex)
    except re.error as exc:  # pragma: no cover - defensive
        raise Untranslatable(f"its translation does not compile: {exc}") from None
    return regex, "regex", None


# -- the whole configuration --------------------------------------------------------


def _setting(source: Any, name: str, old_name: str | None, default: Any) -> tuple[Any, str | None]:
    if hasattr(source, name):
        return getattr(source, name), name
    if old_name and hasattr(source, old_name):
        return getattr(source, old_name), old_name
    return default, None


def translate_settings(source: Any = None, *, name: str = "imported-from-settings") -> Translation:
    """The policy equivalent to django-cors-headers' settings in ``source`` (Django settings)."""
    source = source if source is not None else django_settings
    policy: dict[str, Any] = {
        "name": name,
        "description": "Imported from the django-cors-headers settings by cors_import_settings.",
    }
    result = Translation(policy=policy)
    notes, differences, lost = result.notes, result.differences, result.not_carried

    allow_all, allow_all_name = _setting(
        source, "CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL", False
    )
    credentials, _ = _setting(source, "CORS_ALLOW_CREDENTIALS", None, False)
    policy["allow_credentials"] = bool(credentials)
    policy["allow_all_origins"] = bool(allow_all)
    if allow_all and credentials:
        policy["allow_credentials"] = False
        lost.append(
            f"{allow_all_name} with CORS_ALLOW_CREDENTIALS: django-cors-headers then reflects "
            "every origin with credentials, so any web site can act as the signed-in user. "
            "cors_admin refuses that: the policy allows all origins WITHOUT credentials. To keep "
            "credentials, turn off 'allow all origins' and list the origins instead."
        )

    origins: list[str] = []

    def add(entry: str) -> None:
        if entry not in origins:
            origins.append(entry)

    listed, listed_name = _setting(source, "CORS_ALLOWED_ORIGINS", "CORS_ORIGIN_WHITELIST", ())
    for value in listed or ():
        if isinstance(value, str) and "*" in value:
            lost.append(
                f"{listed_name} entry '{value}': django-cors-headers compares origins literally, "
                "so this never matched anything; not imported (cors_admin would read it as a "
                "wildcard — add it yourself if that is what you want)."
            )
            continue
        try:
            entry = normalize_origin(value)
        except DjangoValidationError as exc:
            lost.append(f"{listed_name} entry {value!r}: {exc.messages[0]}")
            continue
        if entry == "null" and policy["allow_credentials"]:
            lost.append(
                f"{listed_name} entry 'null' with CORS_ALLOW_CREDENTIALS: cors_admin refuses "
                "'null' with credentials (sandboxed iframes and local files all send it)."
            )
            continue
        if entry != value:
            notes.append(f"{listed_name} entry '{value}' is stored as '{entry}'.")
        add(entry)

    regexes, regexes_name = _setting(
        source, "CORS_ALLOWED_ORIGIN_REGEXES", "CORS_ORIGIN_REGEX_WHITELIST", ()
    )
    for pattern in regexes or ():
        shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        try:
            entries, diffs = translate_origin_regex(pattern)
        except Untranslatable as exc:
            lost.append(f"{regexes_name} '{shown}': not imported, {exc}.")
            continue
        accepted: list[str] = []
        for candidate in entries:
            try:
                accepted.append(normalize_origin(candidate))
            except DjangoValidationError as exc:
                lost.append(f"{regexes_name} '{shown}' → '{candidate}': {exc.messages[0]}")
        for entry in accepted:
            add(entry)
        if accepted:
            notes.append(f"{regexes_name} '{shown}' → {', '.join(accepted)}")
            differences.extend(f"{regexes_name} '{shown}': {d}." for d in diffs)
    policy["origins"] = origins

    urls, _ = _setting(source, "CORS_URLS_REGEX", None, CORS_HEADERS_DEFAULT_URLS_REGEX)
    shown_urls = urls.pattern if isinstance(urls, re.Pattern) else urls
    try:
        path, path_type, note = translate_urls_regex(urls)
    except Untranslatable as exc:
        raise CommandError(
            f"CORS_URLS_REGEX '{shown_urls}' cannot be translated ({exc}); nothing imported."
        ) from None
    policy["path"], policy["path_type"] = path, path_type
    if path_type == "regex":
        notes.append(f"CORS_URLS_REGEX '{shown_urls}' → regex path '{path}' (full match).")
    if note:
        differences.append(f"CORS_URLS_REGEX '{shown_urls}': {note}.")

    methods, _ = _setting(source, "CORS_ALLOW_METHODS", None, CORS_HEADERS_DEFAULT_METHODS)
    policy["allow_methods"] = list(methods)
    headers, _ = _setting(source, "CORS_ALLOW_HEADERS", None, CORS_HEADERS_DEFAULT_HEADERS)
    policy["allow_headers"] = list(headers)
    expose, _ = _setting(source, "CORS_EXPOSE_HEADERS", None, ())
    policy["expose_headers"] = list(expose)
    max_age, _ = _setting(source, "CORS_PREFLIGHT_MAX_AGE", None, CORS_HEADERS_DEFAULT_MAX_AGE)
    policy["max_age"] = max_age or None  # 0 / None: django-cors-headers sends no Max-Age
    private, _ = _setting(source, "CORS_ALLOW_PRIVATE_NETWORK", None, False)
    policy["allow_private_network"] = bool(private)

    receivers = _signal_receivers()
    if receivers:
        lost.append(
            f"{receivers} receiver(s) of corsheaders.signals.check_request_enabled: code that "
            "enables CORS per request has no equivalent in a stored policy."
        )
    if not origins and not policy["allow_all_origins"]:
        notes.append("No origins are allowed by these settings; the policy allows none either.")
    return result


def _signal_receivers() -> int:
    try:
        from corsheaders.signals import check_request_enabled
    except ImportError:
        return 0
    return len(check_request_enabled.receivers)


class Command(BaseCommand):
    help = (
        "Create (or update) one CORS policy equivalent to the django-cors-headers settings "
        "(CORS_ALLOWED_ORIGINS, CORS_ALLOWED_ORIGIN_REGEXES, CORS_ALLOW_ALL_ORIGINS, "
        "CORS_URLS_REGEX, CORS_ALLOW_METHODS/HEADERS, CORS_EXPOSE_HEADERS, CORS_PREFLIGHT_MAX_AGE, "
        "CORS_ALLOW_CREDENTIALS, CORS_ALLOW_PRIVATE_NETWORK) and report what could not be "
        "carried over."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name", default="imported-from-settings", help="Policy name (default: %(default)s)."
        )
        parser.add_argument(
            "--priority", type=int, default=100, help="Policy priority (default: %(default)s)."
        )
        parser.add_argument(
            "--disabled", action="store_true", help="Create the policy disabled, for review."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the policy and the report; write nothing."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Write nothing and fail if anything cannot be carried over.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        translation = translate_settings(name=options["name"])
        policy = translation.policy
        policy["priority"] = options["priority"]
        policy["enabled"] = not options["disabled"]

        out = self.stdout
        out.write(json.dumps(policy, indent=2))
        warnings = policy_warnings(policy, policy.get("origins") or [])
        for title, lines, style in (
            ("Notes", translation.notes, None),
            ("Warnings (legal, but risky)", warnings, self.style.WARNING),
            ("Differences in behaviour", translation.differences, self.style.WARNING),
            ("Not carried over", translation.not_carried, self.style.ERROR),
        ):
            if lines:
                out.write(f"{title}:")
                for line in lines:
                    out.write(f"  - {style(line) if style else line}")
        if options["strict"] and translation.not_carried:
            raise CommandError(
                f"{len(translation.not_carried)} setting(s) could not be carried over; "
                "nothing was written (--strict)."
            )
        try:
            result = import_policies([policy], dry_run=options["dry_run"])
        except ImportFailed as exc:
            for label, errors in exc.errors.items():
                self.stderr.write(f"{label}: {json.dumps(errors, ensure_ascii=False)}")
            raise CommandError(str(exc)) from None
        if options["dry_run"]:
            out.write(self.style.SUCCESS(f"Dry run, nothing written: {result.summary()}."))
        else:
            out.write(self.style.SUCCESS(f"Policy '{policy['name']}': {result.summary()}."))
            if not translation.not_carried:
                out.write("Everything was carried over.")
        if _corsheaders_middleware_installed():
            out.write(
                "Remember: corsheaders.middleware.CorsMiddleware is still in MIDDLEWARE; remove "
                "it once this policy is live, so one middleware answers CORS."
            )


def _corsheaders_middleware_installed() -> bool:
    return "corsheaders.middleware.CorsMiddleware" in getattr(django_settings, "MIDDLEWARE", ())
