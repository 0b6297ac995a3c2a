"""Export and import of policies as JSON (the ``cors_export`` / ``cors_import`` commands).

The document is the REST API's representation without ids, timestamps and
warnings::

    {"format": "cors_admin.policies", "version": 1, "policies": [{...}, ...]}

Import is idempotent by ``name``: a policy in the file that does not exist is
created, one that differs is updated, one that is equal is left alone. Every
policy is validated by the API's serializer (so by the very validators the
models use) before anything is written; then all writes happen in one
transaction with bulk queries, and the revision is bumped once, on commit.
Fields a policy in the file leaves out keep their stored value (or the model
default for a new policy), as with a DRF ``PUT``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import router, transaction
from django.utils import timezone
from rest_framework import serializers

from .api.serializers import (
    CorsPolicySerializer,
    EntryChanges,
    entry_changes,
    save_entry_changes,
)
from .models import POLICY_FIELDS, CorsOrigin, CorsPolicy

__all__ = [
    "FORMAT",
    "VERSION",
    "ImportFailed",
    "ImportResult",
    "export_document",
    "import_policies",
    "policies_from_document",
]

FORMAT = "cors_admin.policies"
VERSION = 1
_CHUNK = 500
_DROP = ("id", "created_at", "updated_at", "warnings")


class ImportFailed(Exception):
    """Nothing was written; ``errors`` maps "policy N (name)" to its DRF error detail."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(f"{len(errors)} of the policies have errors; nothing was imported.")
        self.errors = errors


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        parts = [
            f"{len(self.created)} {verb}created",
            f"{len(self.updated)} {verb}updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.deleted:
            parts.append(f"{len(self.deleted)} {verb}deleted")
        return ", ".join(parts)


# -- export ---------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _with_entries(policies: list[CorsPolicy], using: str | None = None) -> list[CorsPolicy]:
    """Attach each policy's entries (sorted by origin), 500 policies per query.

    Cheaper than ``prefetch_related`` for tens of thousands of policies; the
    serializer reads them from ``_cors_entries``.
    """
    by_policy: dict[int, list[CorsOrigin]] = {p.pk: [] for p in policies}
    manager = CorsOrigin.objects.using(using) if using else CorsOrigin.objects
    for chunk in _chunks(list(by_policy)):
        for entry in manager.filter(policy_id__in=chunk).order_by("origin"):
            by_policy[entry.policy_id].append(entry)
    for policy in policies:
        policy._cors_entries = by_policy[policy.pk]  # type: ignore[attr-defined]
    return policies


def export_document(queryset: Iterable[CorsPolicy] | None = None) -> dict[str, Any]:
    """Every policy (or those of ``queryset``) as a JSON-ready document, sorted by name."""
    policies = list(queryset if queryset is not None else CorsPolicy.objects.order_by("name"))
    policies.sort(key=lambda p: p.name)
    _with_entries(policies)
    items = []
    for data in CorsPolicySerializer(policies, many=True).data:
        items.append({k: v for k, v in data.items() if k not in _DROP})
    return {"format": FORMAT, "version": VERSION, "policies": items}


# -- import ---------------------------------------------------------------------


def policies_from_document(document: Any) -> list[Any]:
    """The list of policies of an export document (or of a bare list)."""
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        fmt = document.get("format", FORMAT)
        if fmt != FORMAT:
            raise ImportFailed({"document": [f"Unknown format {fmt!r}; expected {FORMAT!r}."]})
        version = document.get("version", VERSION)
        if version != VERSION:
            raise ImportFailed(
                {"document": [f"Unsupported version {version!r}; this version reads {VERSION}."]}
            )
        policies = document.get("policies")
        if isinstance(policies, list):
            return policies
    raise ImportFailed(
        {"document": ['Expected {"policies": [...]} (the output of cors_export) or a list.']}
    )


@dataclass
class _Planned:
    name: str
    instance: CorsPolicy | None
    fields: dict[str, Any]
    entries: list[dict[str, Any]] | None
    #: For a stored policy whose file entry lists its allowlist: the writes that make it so.
    entry_changes: EntryChanges | None = None


def _label(index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"policy {index + 1} ({name})" if isinstance(name, str) else f"policy {index + 1}"


def import_policies(
    items: Sequence[Any],
    *,
    dry_run: bool = False,
    prune: bool = False,
) -> ImportResult:
    """Validate every item, then create/update in one transaction. See the module docs.

    ``prune`` also deletes the stored policies whose names are not in ``items``.
    Raises :class:`ImportFailed` (nothing written) when any item is invalid.
    """
    started = time.perf_counter()
    using = router.db_for_write(CorsPolicy)
    result = ImportResult(dry_run=dry_run)
    with transaction.atomic(using=using):
        existing = {p.name: p for p in CorsPolicy.objects.using(using).all()}
        _with_entries(list(existing.values()), using)

        plans, errors = _validate(items, existing)
        if errors:
            raise ImportFailed(errors)

        now = timezone.now()
        to_create: list[_Planned] = []
        to_update: list[tuple[_Planned, list[str]]] = []
        for plan in plans:
            if plan.instance is None:
                to_create.append(plan)
                result.created.append(plan.name)
                continue
            changed = [f for f, v in plan.fields.items() if getattr(plan.instance, f) != v]
            if plan.entries is not None:
                plan.entry_changes = entry_changes(
                    plan.instance.pk,
                    plan.instance._cors_entries,  # type: ignore[attr-defined]
                    plan.entries,
                    now,
                )
            if changed or plan.entry_changes:
                to_update.append((plan, changed))
                result.updated.append(plan.name)
            else:
                result.unchanged.append(plan.name)
        if prune:
            wanted = {p.name for p in plans}
            result.deleted = sorted(n for n in existing if n not in wanted)

        if not dry_run:
            _write(using, now, existing, to_create, to_update, result.deleted)
    result.seconds = time.perf_counter() - started
    return result


def _validate(
    items: Sequence[Any], existing: Mapping[str, CorsPolicy]
) -> tuple[list[_Planned], dict[str, Any]]:
    plans: list[_Planned] = []
    errors: dict[str, Any] = {}
    seen: dict[str, int] = {}
    # One serializer validates every item: building a ModelSerializer's fields costs
    # far more than validating with them, so they are built once.
    serializer = CorsPolicySerializer(context={"skip_unique_name": True})
    for index, item in enumerate(items):
        label = _label(index, item)
        if not isinstance(item, Mapping):
            errors[label] = {"non_field_errors": ["Expected an object with the policy's fields."]}
            continue
        raw_name = item.get("name")
        # Validated against the stored policy it updates: the name as the serializer trims it.
        instance = existing.get(raw_name.strip()) if isinstance(raw_name, str) else None
        serializer.instance = instance
        serializer.initial_data = item
        try:
            data = dict(serializer.run_validation(item))
        except serializers.ValidationError as exc:
            errors[label] = exc.detail
            continue
        name = data["name"]
        if name in seen:
            errors[label] = {"name": [f"'{name}' is also the name of policy {seen[name] + 1}."]}
            continue
        seen[name] = index
        entries = data.pop("_entries", None)
        fields = {k: v for k, v in data.items() if k in POLICY_FIELDS}
        plans.append(_Planned(name=name, instance=instance, fields=fields, entries=entries))
    return plans, errors


def _write(
    using: str,
    now: Any,
    existing: Mapping[str, CorsPolicy],
    to_create: list[_Planned],
    to_update: list[tuple[_Planned, list[str]]],
    deleted: list[str],
) -> None:
    policies = CorsPolicy.objects.using(using)

    if deleted:
        ids = [existing[name].pk for name in deleted]
        for chunk in _chunks(ids):
            policies.filter(pk__in=chunk).delete()

    new_policies = [CorsPolicy(**plan.fields) for plan in to_create]
    policies.bulk_create(new_policies, batch_size=_CHUNK)
    if any(p.pk is None for p in new_policies):  # backends that return no ids
        by_name = dict(
            policies.filter(name__in=[p.name for p in new_policies]).values_list("name", "pk")
        )
        for p in new_policies:
            p.pk = by_name[p.name]

    changed_fields: set[str] = set()
    updated_policies: list[CorsPolicy] = []
    for plan, changed in to_update:
        instance = plan.instance
        assert instance is not None
        for f in changed:
            setattr(instance, f, plan.fields[f])
        instance.updated_at = now
        changed_fields.update(changed)
        updated_policies.append(instance)
    if updated_policies:
        policies.bulk_update(
            updated_policies, [*sorted(changed_fields), "updated_at"], batch_size=_CHUNK
        )

    changes = [
        entry_changes(policy.pk, [], plan.entries or [], now)
        for plan, policy in zip(to_create, new_policies, strict=True)
    ]
    changes.extend(plan.entry_changes for plan, _ in to_update if plan.entry_changes)
    save_entry_changes(changes, using, batch_size=_CHUNK)
