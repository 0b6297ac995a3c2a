"""Serializers of the REST API (also used by the import/export commands).

Validation is never re-implemented here: each field is checked by the
function of :mod:`cors_admin.validation` the model uses for it (so one 400
reports every field), then the whole policy by the model's own ``clean_fields``
(which normalizes what is stored) and the cross-field rules of
:func:`~cors_admin.validation.validate_policy`; origins go through
:func:`~cors_admin.validation.normalize_origins` /
:func:`~cors_admin.validation.normalize_origin`.

Error format (DRF's standard 400 body): one list of messages per field;
``origins`` errors are keyed by the 0-based index of the offending item, the
way DRF reports list items (``{"origins": {"1": ["..."]}}``), and so are
``origin_entries`` errors, with one object of field errors per entry
(``{"origin_entries": {"1": {"origin": ["..."]}}}``). Cross-field rules about the
allowlist as a whole (``null`` with credentials) come as a plain list under the
field the client sent.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import html
from rest_framework.validators import UniqueValidator

from ..engine import is_token
from ..models import POLICY_FIELDS, CorsOrigin, CorsPolicy, PathType
from ..validation import (
    normalize_header_names,
    normalize_methods,
    normalize_origin,
    normalize_origins,
    policy_warnings,
    validate_policy,
)
from ..validation import validate_path as check_path

__all__ = [
    "CheckRequestSerializer",
    "CheckResponseSerializer",
    "CorsPolicySerializer",
    "EntryChanges",
    "OriginEntrySerializer",
    "entry_changes",
    "origin_entry_data",
    "save_entry_changes",
]


#: Fields the model normalizes in ``clean_fields`` (the values written are the normalized ones).
_NORMALIZED_FIELDS = ("allow_methods", "allow_headers", "expose_headers", "path")

_ALLOWLIST_AT = POLICY_FIELDS.index("allow_all_origins") + 1

_ITEM_RE = re.compile(r"Item (\d+): (.*)\Z", re.DOTALL)


class StrictCharField(serializers.CharField):
    """A string, and only a string: JSON numbers are refused, as the schema says."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """An integer, and only an integer: strings and booleans are refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """true or false, not "yes" or 1."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _strings(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(trim_whitespace=False, allow_blank=True), **kwargs
    )


def _messages(exc: DjangoValidationError) -> dict[str, list[str]] | list[str]:
    if hasattr(exc, "error_dict"):
        return {field: list(msgs) for field, msgs in exc.message_dict.items()}
    return list(exc.messages)


def origin_entry_data(origin: CorsOrigin) -> dict[str, Any]:
    """One allowlist entry as plain data (model instance → dict)."""
    return {"origin": origin.origin, "note": origin.note, "expires_at": origin.expires_at}


def _entries_of(instance: CorsPolicy) -> list[CorsOrigin]:
    """The stored entries of a policy (prefetched on list views)."""
    if instance.pk is None:
        return []
    attached = getattr(instance, "_cors_entries", None)  # set by cors_admin.transfer
    if attached is not None:
        return list(attached)
    return list(instance.origins.all())


class _OriginsField(serializers.ListField):
    def get_attribute(self, instance: CorsPolicy) -> list[str]:
        return [e.origin for e in _entries_of(instance)]


class _OriginEntriesReadMixin:
    def get_attribute(self, instance: CorsPolicy) -> list[dict[str, Any]]:
        return [origin_entry_data(e) for e in _entries_of(instance)]


class OriginEntrySerializer(serializers.Serializer):
    """One allowlist entry with its note and optional expiry."""

    origin = StrictCharField(
        max_length=1024,
        trim_whitespace=False,
        allow_blank=True,
        help_text="https://app.example.com, https://*.example.com (any subdomain), "
        "http://localhost:* (any port) or null. Normalized when saved.",
    )
    note = StrictCharField(
        max_length=255,
        allow_blank=True,
        required=False,
        help_text="Free text for operators. Omitted: kept for an entry that stays, empty for a "
        "new one.",
    )
    expires_at = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="After this time the entry matches nothing. Omitted: kept for an entry that "
        "stays, none for a new one.",
    )

    def validate_origin(self, value: str) -> str:
        try:
            return normalize_origin(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class _OriginEntriesField(_OriginEntriesReadMixin, serializers.ListSerializer):
    """A list of entries. Errors are keyed by the 0-based position of the entry, like
    ``origins`` (whatever the project's ``LIST_SERIALIZER_ERRORS_AS_DICT``); an origin
    listed twice is reported at the entry that repeats it."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        if html.is_html_input(data):
            data = html.parse_html_list(data, default=[])
        if not isinstance(data, list):
            message = self.error_messages["not_a_list"].format(input_type=type(data).__name__)
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="not_a_list"
            )
        entries: list[dict[str, Any]] = []
        errors: Any = {}  # {position: detail}
        seen: dict[str, int] = {}
        for index, item in enumerate(data):
            try:
                entry = self.run_child_validation(item)
            except serializers.ValidationError as exc:
                errors[index] = exc.detail
                continue
            origin = entry.get("origin")
            if origin is None:  # partial updates skip required fields of nested objects
                errors[index] = {"origin": ["This field is required."]}
            elif origin in seen:
                errors[index] = {
                    "origin": [f"'{origin}' is listed twice (same as entry {seen[origin] + 1})."]
                }
            else:
                seen[origin] = index
                entries.append(entry)
        if errors:
            raise serializers.ValidationError(errors)
        return entries


class CorsPolicySerializer(serializers.ModelSerializer):
    """A CORS policy with its allowlist.

    ``origins`` (list of strings) and ``origin_entries`` (list of objects with
    note and expiry) are two views of the same allowlist; a write may send
    either (or both, when they list the same entries). Replacing ``origins``
    keeps the note and expiry of the entries that stay.
    """

    origins = _OriginsField(
        child=StrictCharField(trim_whitespace=False, allow_blank=True),
        required=False,
        help_text="The allowlist as origin strings, sorted; read and written whole. "
        "Written values are normalized (HTTPS://App.Example.COM:443 → https://app.example.com).",
    )
    origin_entries = _OriginEntriesField(
        child=OriginEntrySerializer(),
        required=False,
        help_text="The same allowlist with each entry's note and expiry; read and written whole.",
    )
    allow_methods = _strings(
        required=False,
        help_text="Methods allowed in preflights (case-sensitive). "
        "Default: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.",
    )
    allow_headers = _strings(
        required=False,
        help_text='Request header names allowed in preflights (lowercased), or ["*"] for any. '
        "Default: django-cors-headers' list.",
    )
    expose_headers = _strings(
        required=False,
        help_text="Response header names the browser may read.",
    )
    priority = StrictIntegerField(
        required=False,
        min_value=-(2**31),
        max_value=2**31 - 1,
        help_text="Lower wins (default 100). Among equal priorities: exact, then the longest "
        "prefix, then regex in name order.",
    )
    max_age = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Seconds browsers may cache a preflight (null: no Access-Control-Max-Age). "
        "Chromium caps at 7200, Firefox at 86400.",
    )
    warnings = serializers.SerializerMethodField(
        help_text="Risky but legal choices of this policy, for the operator (read-only)."
    )

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.BooleanField: StrictBooleanField,
    }
    serializer_choice_field = StrictChoiceField

    class Meta:
        model = CorsPolicy
        # The policy fields in SPEC.md's order, the allowlist after allow_all_origins.
        fields = (
            "id",
            *POLICY_FIELDS[:_ALLOWLIST_AT],
            "origins",
            "origin_entries",
            *POLICY_FIELDS[_ALLOWLIST_AT:],
            "created_at",
            "updated_at",
            "warnings",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: What the last save changed, in the admin's change-message format.
        self.change_message: list[dict[str, Any]] = []

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.context.get("skip_unique_name"):
            # The importer matches policies by name itself.
            name = fields["name"]
            name.validators = [v for v in name.validators if not isinstance(v, UniqueValidator)]
        return fields

    # -- representation ---------------------------------------------------------

    def to_representation(self, instance: CorsPolicy) -> Any:
        # origins, origin_entries and warnings all read the allowlist: one query for the three
        # (none when a list view or the exporter fetched it already).
        if instance.pk is not None and getattr(instance, "_cors_entries", None) is None:
            models.prefetch_related_objects([instance], "origins")
        return super().to_representation(instance)

    def get_warnings(self, instance: CorsPolicy) -> list[str]:
        entries = _entries_of(instance)
        return policy_warnings(
            instance.field_data(), [e.origin for e in entries], [e.expires_at for e in entries]
        )

    # -- validation ------------------------------------------------------------

    # Field by field first, so one response reports every field's problems; validate()
    # then runs the model's own clean_fields and the cross-field rules.

    def validate_allow_methods(self, value: list[str]) -> list[str]:
        return _django_to_drf(normalize_methods, value)

    def validate_allow_headers(self, value: list[str]) -> list[str]:
        return _django_to_drf(normalize_header_names, value)

    def validate_expose_headers(self, value: list[str]) -> list[str]:
        return _django_to_drf(normalize_header_names, value)

    def validate_path(self, value: str) -> str:
        path_type = getattr(self.instance, "path_type", PathType.PREFIX)
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, Mapping) and "path_type" in initial:
            path_type = initial["path_type"]
        if path_type in PathType.values:  # an unknown type is path_type's own error
            _django_to_drf(check_path, value, path_type)
        return value

    def validate_origins(self, value: list[str]) -> list[str]:
        try:
            return normalize_origins(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_per_item_errors(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: CorsPolicy | None = self.instance
        entries = self._resolve_entries(attrs, instance)

        # The model normalizes and validates single fields: run exactly that.
        candidate = CorsPolicy()
        if instance is not None:
            for field in (*POLICY_FIELDS, "id"):
                setattr(candidate, field, getattr(instance, field))
        for field in POLICY_FIELDS:
            if field in attrs:
                setattr(candidate, field, attrs[field])
        try:
            candidate.clean_fields(exclude=["id", "created_at", "updated_at"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_messages(exc)) from None
        for field in _NORMALIZED_FIELDS:
            if field in attrs:
                attrs[field] = getattr(candidate, field)

        if entries is not None:
            origins = [e["origin"] for e in entries]
        elif instance is not None:
            origins = self._stored_origins(instance)
        else:
            origins = []
        try:
            validate_policy(candidate.field_data(), origins)
        except DjangoValidationError as exc:
            errors = _messages(exc)
            if isinstance(errors, dict) and "origins" in errors and "origin_entries" in attrs:
                if "origins" not in self.initial_data:
                    errors["origin_entries"] = errors.pop("origins")
            raise serializers.ValidationError(errors) from None
        attrs.pop("origins", None)
        attrs.pop("origin_entries", None)
        if entries is not None:
            attrs["_entries"] = entries
        return attrs

    def _stored_origins(self, instance: CorsPolicy) -> list[str]:
        return [e.origin for e in _entries_of(instance)]

    def _resolve_entries(
        self, attrs: Mapping[str, Any], instance: CorsPolicy | None
    ) -> list[dict[str, Any]] | None:
        """The allowlist this write asks for, or ``None`` when it leaves it alone."""
        origins: list[str] | None = attrs.get("origins")
        entries: list[dict[str, Any]] | None = attrs.get("origin_entries")
        if origins is not None and entries is not None:
            if sorted(origins) != sorted(e["origin"] for e in entries):
                raise serializers.ValidationError(
                    {
                        "origin_entries": [
                            "'origins' and 'origin_entries' list different entries. Send only "
                            "one of them: 'origins' (strings; notes and expiry of entries that "
                            "stay are kept) or 'origin_entries' (with notes and expiry)."
                        ]
                    }
                )
            return [dict(e) for e in entries]
        if entries is not None:
            return [dict(e) for e in entries]
        if origins is not None:
            return [{"origin": o} for o in origins]
        return None

    # -- writing ---------------------------------------------------------------

    def create(self, validated_data: dict[str, Any]) -> CorsPolicy:
        entries = validated_data.pop("_entries", None) or []
        with transaction.atomic(using=_db()):
            policy = CorsPolicy.objects.create(**validated_data)
            self.change_message = [{"added": {}}, *write_entries(policy, entries, existing=[])]
        return policy

    def update(self, instance: CorsPolicy, validated_data: dict[str, Any]) -> CorsPolicy:
        entries = validated_data.pop("_entries", None)
        with transaction.atomic(using=_db()):
            before = instance.field_data()
            for field, value in validated_data.items():
                setattr(instance, field, value)
            changed = [f for f in POLICY_FIELDS if before[f] != getattr(instance, f)]
            if changed:
                instance.save()
            message: list[dict[str, Any]] = []
            if changed:
                message.append({"changed": {"fields": [_label(CorsPolicy, f) for f in changed]}})
            if entries is not None:
                entry_message = write_entries(instance, entries, existing=_entries_of(instance))
                message.extend(entry_message)
                if entry_message and not changed:
                    instance.save(update_fields=["updated_at"])
        if hasattr(instance, "_prefetched_objects_cache"):
            instance._prefetched_objects_cache.clear()
        instance.__dict__.pop("_cors_entries", None)
        self.change_message = message
        return instance


def _label(model: Any, field: str) -> str:
    """A field's label as the admin shows it in the history ("Allowed methods")."""
    label = str(model._meta.get_field(field).verbose_name)
    return label[:1].upper() + label[1:]


def _django_to_drf(func: Any, *args: Any) -> Any:
    """Call a validator of :mod:`cors_admin.validation`, reporting its errors DRF's way."""
    try:
        return func(*args)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


def _db() -> str:
    from django.db import router

    return router.db_for_write(CorsPolicy) or "default"


def _per_item_errors(exc: DjangoValidationError) -> Any:
    """Map ``normalize_origins``' "Item N: message" errors to DRF's ``{index: [message]}``."""
    per_item: dict[int, list[str]] = {}
    for message in exc.messages:
        match = _ITEM_RE.match(message)
        if match is None:
            return list(exc.messages)  # unexpected shape: keep the messages as they are
        per_item.setdefault(int(match.group(1)) - 1, []).append(match.group(2))
    return per_item


def _changed_fields(stored: CorsOrigin, wanted: Mapping[str, Any]) -> list[str]:
    """Which of note/expiry an entry that stays must change (missing keys keep the value)."""
    fields: list[str] = []
    if "note" in wanted and (wanted["note"] or "") != stored.note:
        fields.append("note")
    if "expires_at" in wanted and wanted["expires_at"] != stored.expires_at:
        fields.append("expires_at")
    return fields


@dataclasses.dataclass
class EntryChanges:
    """The writes that make a policy's stored allowlist equal a wanted one."""

    create: list[CorsOrigin] = dataclasses.field(default_factory=list)
    #: Entries that stay, already holding their new values, with the fields that changed.
    update: list[tuple[CorsOrigin, list[str]]] = dataclasses.field(default_factory=list)
    delete: list[CorsOrigin] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete)


def entry_changes(
    policy_id: int, stored: Iterable[CorsOrigin], wanted: Sequence[Mapping[str, Any]], now: Any
) -> EntryChanges:
    """Plan the writes (nothing is written) that turn ``stored`` into ``wanted``.

    ``wanted`` items are validated entries (``origin``; ``note`` and ``expires_at``
    when given, otherwise an entry that stays keeps them).
    """
    by_origin = {e.origin: e for e in stored}
    changes = EntryChanges()
    for w in wanted:
        entry = by_origin.pop(w["origin"], None)
        if entry is None:
            changes.create.append(
                CorsOrigin(
                    policy_id=policy_id,
                    origin=w["origin"],
                    note=w.get("note") or "",
                    expires_at=w.get("expires_at"),
                )
            )
            continue
        fields = _changed_fields(entry, w)
        if fields:
            if "note" in fields:
                entry.note = w["note"] or ""
            if "expires_at" in fields:
                entry.expires_at = w["expires_at"]
            entry.updated_at = now
            changes.update.append((entry, fields))
    changes.delete = list(by_origin.values())
    return changes


def save_entry_changes(
    changes: Iterable[EntryChanges], using: str | None = None, batch_size: int | None = None
) -> None:
    """Write planned changes (of one policy or many) with bulk queries."""
    manager = CorsOrigin.objects.using(using) if using else CorsOrigin.objects
    to_create: list[CorsOrigin] = []
    to_update: list[CorsOrigin] = []
    to_delete: list[int] = []
    for change in changes:
        to_create.extend(change.create)
        to_update.extend(entry for entry, _ in change.update)
        to_delete.extend(entry.pk for entry in change.delete)
    step = batch_size or len(to_delete) or 1
    for start in range(0, len(to_delete), step):
        manager.filter(pk__in=to_delete[start : start + step]).delete()
    if to_create:
        manager.bulk_create(to_create, batch_size=batch_size)
    if to_update:
        manager.bulk_update(to_update, ["note", "expires_at", "updated_at"], batch_size=batch_size)


def write_entries(
    policy: CorsPolicy, wanted: Sequence[Mapping[str, Any]], existing: Iterable[CorsOrigin]
) -> list[dict[str, Any]]:
    """Make ``policy``'s allowlist equal ``wanted``; the admin history's change message."""
    changes = entry_changes(policy.pk, existing, wanted, timezone.now())
    save_entry_changes([changes])
    name = str(CorsOrigin._meta.verbose_name)
    return [
        *({"added": {"name": name, "object": e.origin}} for e in changes.create),
        *(
            {
                "changed": {
                    "name": name,
                    "object": e.origin,
                    "fields": [_label(CorsOrigin, f) for f in fields],
                }
            }
            for e, fields in changes.update
        ),
        *({"deleted": {"name": name, "object": e.origin}} for e in changes.delete),
    ]


# -- check/ ---------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "content-type, authorization"},
            {"type": "array", "items": {"type": "string"}, "example": ["content-type"]},
        ],
        "nullable": True,
        "description": "Access-Control-Request-Headers: a comma-separated string as the "
        "browser sends it, or a list of header names.",
    }
)
class _HeaderNamesField(serializers.Field):
    default_error_messages = {
        "invalid": "Enter a comma-separated string or a list of header names."
    }

    def to_internal_value(self, data: Any) -> str | None:
        if data is None:
            return None
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(v, str) for v in data):
            return ", ".join(data)
        self.fail("invalid")
        return None  # pragma: no cover

    def to_representation(self, value: Any) -> Any:
        return value


class CheckRequestSerializer(serializers.Serializer):
    """A request to explain, as a browser would send it."""

    origin = StrictCharField(
        allow_null=True,
        allow_blank=True,
        required=False,
        default=None,
        trim_whitespace=False,
        max_length=8192,
        help_text="The Origin header value, exactly as sent (null/omitted: no Origin header).",
    )
    path = StrictCharField(
        trim_whitespace=False,
        max_length=8192,
        help_text="The request path (path_info, decoded), for example /api/items/.",
    )
    method = StrictCharField(
        default="GET",
        max_length=64,
        help_text="The method the page uses. When a browser would preflight the request (a "
        "method other than GET/HEAD/POST, or request_headers named) the preflight is explained; "
        "OPTIONS describes a preflight directly (with request_method).",
    )
    request_headers = _HeaderNamesField(required=False, default=None)
    request_method = StrictCharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=64,
        help_text="Access-Control-Request-Method, for an explicit OPTIONS preflight.",
    )
    private_network = StrictBooleanField(
        default=False, help_text="Send Access-Control-Request-Private-Network: true."
    )

    def validate_path(self, value: str) -> str:
        if not value.startswith("/"):
            raise serializers.ValidationError(
                "Enter the path only, starting with '/', for example /api/items/."
            )
        return value

    def validate_method(self, value: str) -> str:
        if not is_token(value):
            raise serializers.ValidationError("Enter an HTTP method, for example GET or PATCH.")
        return value


class CheckResponseSerializer(serializers.Serializer):
    """What the middleware would do with that request, and why."""

    allowed = serializers.BooleanField(help_text="Would the browser be allowed to proceed?")
    covered = serializers.BooleanField(help_text="Does an enabled policy cover the path?")
    preflight = serializers.BooleanField(help_text="Was this evaluated as a preflight?")
    policy = serializers.CharField(allow_null=True, help_text="Name of the deciding policy.")
    policy_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="The decision in words.")
    status = serializers.IntegerField(
        allow_null=True,
        help_text="Status of the middleware's own preflight answer (204/403); null for actual "
        "requests, which the view answers.",
    )
    headers = serializers.DictField(
        child=serializers.CharField(),
        help_text="The CORS and Vary headers the middleware sets on the response.",
    )
