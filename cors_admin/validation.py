"""Policy-level validation, shared by models, admin, API and import commands.

Origins are parsed by :mod:`cors_admin.origins`; this module adds the rules
that need the whole policy (credentials with ``*`` or ``null``, paths,
methods, header lists) and the warnings for risky but legal choices.
Errors are Django ``ValidationError`` with one message list per field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from .engine import PATH_EXACT, PATH_PREFIX, PATH_REGEX, is_token
from .origins import NULL, OriginError, parse_entry

__all__ = [
    "CHROMIUM_MAX_AGE_CAP",
    "FIREFOX_MAX_AGE_CAP",
    "normalize_header_names",
    "normalize_methods",
    "normalize_origin",
    "normalize_origins",
    "policy_warnings",
    "validate_path",
    "validate_policy",
]

#: Error code of "the allowlist holds 'null' and credentials are on".
NULL_WITH_CREDENTIALS = "null_with_credentials"
CHROMIUM_MAX_AGE_CAP = 7200
FIREFOX_MAX_AGE_CAP = 86400
MAX_PATH_LENGTH = 500


def normalize_origin(value: Any) -> str:
    """Canonical text of one allowlist entry; ``ValidationError`` with a fix-it message."""
    try:
        return parse_entry(value).value
    except OriginError as exc:
        raise ValidationError(str(exc), code="invalid_origin") from None


def normalize_origins(values: Iterable[Any]) -> list[str]:
    """Normalize a list of entries; errors are reported per item, duplicates refused."""
    result: list[str] = []
    errors: list[ValidationError] = []
    seen: dict[str, int] = {}
    failed = False
    for index, value in enumerate(values):
        try:
            normalized = normalize_origin(value)
        except ValidationError as exc:
            errors.append(
                ValidationError(f"Item {index + 1}: {exc.messages[0]}", code="invalid_origin")
            )
            failed = True
            continue
        if normalized in seen:
            errors.append(
                ValidationError(
                    f"Item {index + 1}: '{normalized}' is listed twice "
                    f"(same as item {seen[normalized] + 1}).",
                    code="duplicate_origin",
                )
            )
            failed = True
            continue
        seen[normalized] = index
        result.append(normalized)
    if failed:
        raise ValidationError(errors)
    return result


def _tokens(values: Any, what: str) -> list[str]:
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    if not isinstance(values, (list, tuple)):
        raise ValidationError(f"Enter a list of {what}.", code="invalid")
    result: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValidationError(f"Each of the {what} must be a string.", code="invalid")
        value = value.strip()
        if not value:
            continue
        if not is_token(value):
            raise ValidationError(
                f"'{value}' is not a valid HTTP token; {what} contain no spaces, commas, "
                "colons or quotes.",
                code="invalid",
            )
        if value not in result:
            result.append(value)
    return result


def normalize_methods(values: Any) -> list[str]:
    """Methods are case-sensitive (browsers send ``PATCH`` as written), so kept as given."""
    methods = _tokens(values, "methods")
    if "*" in methods:
        raise ValidationError(
            "'*' is not accepted for methods; list them, for example GET, POST.", code="invalid"
        )
    return methods


def normalize_header_names(values: Any, *, allow_star: bool = True) -> list[str]:
    """Header names, lowercased and deduplicated; ``['*']`` alone means any header."""
    names = [n.lower() for n in _tokens(values, "header names")]
    names = list(dict.fromkeys(names))
    if "*" in names:
        if not allow_star:
            raise ValidationError("'*' is not accepted here.", code="invalid")
        if len(names) > 1:
            raise ValidationError(
                "Use '*' alone (any header) or a list of header names, not both.", code="invalid"
            )
    return names


def validate_path(path: Any, path_type: str) -> str:
    if not isinstance(path, str) or not path:
        raise ValidationError("Enter a path, for example /api/.", code="required")
    if len(path) > MAX_PATH_LENGTH:
        raise ValidationError(f"A path is at most {MAX_PATH_LENGTH} characters.", code="max_length")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        raise ValidationError("A path cannot contain control characters.", code="invalid")
    if path_type in (PATH_PREFIX, PATH_EXACT):
        if not path.startswith("/"):
            raise ValidationError(
                f"A {path_type} path starts with '/', for example /{path.lstrip('/')}.",
                code="invalid",
            )
        if any(ch.isspace() for ch in path) or "?" in path or "#" in path:
            raise ValidationError(
                "A path has no spaces, query string or fragment; CORS policies match "
                "request.path_info only.",
                code="invalid",
            )
    elif path_type == PATH_REGEX:
        try:
            re.compile(path)
        except (re.error, OverflowError) as exc:  # OverflowError: a{99999999999}
            raise ValidationError(
                f"This regular expression does not compile: {exc}.", code="invalid_regex"
            ) from None
    else:
        raise ValidationError(f"Unknown path type '{path_type}'.", code="invalid")
    return path


def validate_policy(data: Mapping[str, Any], origins: Sequence[str] | None = None) -> None:
    """Cross-field rules. ``data`` holds policy fields; ``origins`` normalized entries.

    Raises ``ValidationError({field: [messages]})``.
    """
    errors: dict[str, list[Any]] = {}
    credentials = bool(data.get("allow_credentials"))
    if credentials and data.get("allow_all_origins"):
        errors.setdefault("allow_credentials", []).append(
            "Browsers refuse credentials with 'Access-Control-Allow-Origin: *'. Turn off "
            "'allow all origins' and list the origins, or turn off credentials."
        )
    if credentials and origins and NULL in origins:
        errors.setdefault("origins", []).append(
            ValidationError(
                "The 'null' origin cannot be combined with credentials: sandboxed iframes and "
                "local files all send 'null', so any of them could act as the user.",
                code=NULL_WITH_CREDENTIALS,
            )
        )
    if credentials and "*" in (data.get("expose_headers") or []):
        errors.setdefault("expose_headers", []).append(
            "With credentials, browsers read '*' in Access-Control-Expose-Headers literally; "
            "list the header names instead."
        )
    max_age = data.get("max_age")
    if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
        errors.setdefault("max_age", []).append("Enter a number of seconds, 0 or more.")
    if errors:
        raise ValidationError(errors)


def policy_warnings(
    data: Mapping[str, Any],
    origins: Sequence[str] = (),
    expiries: Sequence[datetime | None] = (),
) -> list[str]:
    """Risky but legal choices, as sentences for the operator."""
    warnings: list[str] = []
    credentials = bool(data.get("allow_credentials"))
    name = data.get("name") or "this policy"
    if data.get("allow_all_origins"):
        warnings.append(
            f"Policy '{name}' allows all origins: any web site can read its responses "
            "(without cookies)."
        )
    if credentials:
        insecure = [o for o in origins if o.startswith("http://") and not _is_loopback(o)]
        if insecure:
            warnings.append(
                "Credentials are allowed for plain-HTTP origins ("
                + ", ".join(insecure[:5])
                + "): anyone on the network path can impersonate them."
            )
        wildcards = [o for o in origins if "*" in o]
        if wildcards:
            warnings.append(
                "Credentials are allowed for wildcard entries ("
                + ", ".join(wildcards[:5])
                + "): every matching subdomain or port can act as the signed-in user."
            )
    if NULL in origins:
        warnings.append(
            "The 'null' origin is allowed: sandboxed iframes, local files and some redirects "
            "all send it."
        )
    max_age = data.get("max_age")
    if isinstance(max_age, int):
        if max_age > FIREFOX_MAX_AGE_CAP:
            warnings.append(
                f"max_age {max_age} s is above every browser's cap "
                f"(Chromium {CHROMIUM_MAX_AGE_CAP} s, Firefox {FIREFOX_MAX_AGE_CAP} s); "
                "browsers will use their cap."
            )
        elif max_age > CHROMIUM_MAX_AGE_CAP:
            warnings.append(
                f"max_age {max_age} s is above Chromium's cap of {CHROMIUM_MAX_AGE_CAP} s; "
                "Chromium will cache preflights for 2 hours only."
            )
    if data.get("allow_private_network"):
        warnings.append(
            "Private Network Access is a legacy Chromium opt-in; allow it only for services "
            "on a private network that public sites must reach."
        )
    now = timezone.now()
    expired = [o for o, e in zip(origins, expiries, strict=False) if e is not None and e <= now]
    if expired:
        warnings.append(
            "These entries have already expired and match nothing: " + ", ".join(expired[:5])
        )
    return warnings


def _is_loopback(origin: str) -> bool:
    try:
        host = parse_entry(origin).host
    except OriginError:
        return False
    return host in ("localhost", "127.0.0.1", "[::1]") or host.endswith(".localhost")
