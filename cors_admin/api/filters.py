"""List filters of ``policies/``: ``?enabled=`` and ``?origin=`` ("which policies allow it?")."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from ..cache import spec_from_row
from ..engine import OriginSpec, PolicySpec, compile_policies
from ..models import CorsOrigin, CorsPolicy
from ..origins import parse_entry
from ..validation import normalize_origin

__all__ = ["PolicyFilter", "policies_allowing"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

_SPEC_FIELDS = (
    "id",
    "name",
    "path",
    "path_type",
    "priority",
    "enabled",
    "allow_all_origins",
    "allow_credentials",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "max_age",
    "allow_private_network",
)


def policies_allowing(origin: str, queryset: QuerySet[CorsPolicy]) -> list[int]:
    """Ids of the policies in ``queryset`` whose allowlist lets ``origin`` in.

    ``origin`` is an Origin value (``https://app.example.com``, ``null``); it is
    normalized first, so ``HTTPS://App.Example.COM:443`` works too. The answer
    comes from the engine the middleware uses: exact entries, subdomain and port
    wildcards, ``null`` (never with credentials), allow-all policies; expired
    entries match nothing. Disabled policies are judged as if they were enabled
    (combine with ``?enabled=true`` for the live ones). A wildcard pattern such as
    ``https://*.example.com`` finds the policies that list that very entry.
    """
    value = normalize_origin(origin)
    entry = parse_entry(value)
    if entry.kind in ("subdomain", "port"):
        return list(queryset.filter(origins__origin=value).values_list("id", flat=True).distinct())
    candidates = list(
        queryset.filter(
            Q(allow_all_origins=True) | Q(origins__origin=value) | Q(origins__origin__contains="*")
        )
        .values_list("id", flat=True)
        .distinct()
    )
    if not candidates:
        return []
    rows = list(CorsPolicy.objects.filter(pk__in=candidates).values(*_SPEC_FIELDS))
    by_policy: dict[int, list[OriginSpec]] = {}
    for policy_id, text, expires_at in CorsOrigin.objects.filter(
        policy_id__in=candidates
    ).values_list("policy_id", "origin", "expires_at"):
        by_policy.setdefault(policy_id, []).append(
            OriginSpec(text, expires_at.timestamp() if expires_at is not None else None)
        )
    specs: list[PolicySpec] = []
    for row in rows:
        row["enabled"] = True  # judge the allowlist, whether or not the policy is live
        specs.append(spec_from_row(row, by_policy.get(row["id"], ())))
    compiled = compile_policies(specs, now=time.time())
    return [
        p.id
        for p in compiled.policies
        if p.id is not None and (p.allow_all or p.origin_allowed(value))
    ]


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise serializers.ValidationError({"enabled": ["Enter true or false."]})


class PolicyFilter(BaseFilterBackend):
    """``?enabled=true|false`` and ``?origin=<origin>``."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        params = request.query_params
        enabled = params.get("enabled")
        if enabled is not None:
            queryset = queryset.filter(enabled=_parse_bool(enabled))
        origin = params.get("origin")
        if origin is not None and origin != "":
            try:
                ids = policies_allowing(origin, queryset)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"origin": exc.messages}) from None
            queryset = queryset.filter(pk__in=ids)
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "enabled",
                "required": False,
                "in": "query",
                "description": "Only enabled (true) or disabled (false) policies.",
                "schema": {"type": "boolean"},
            },
            {
                "name": "origin",
                "required": False,
                "in": "query",
                "description": "Only the policies whose allowlist allows this origin (exact "
                "entry, matching wildcard, or allow all origins), for example "
                "https://app.example.com.",
                "schema": {"type": "string"},
            },
        ]
