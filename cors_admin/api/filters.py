"""List filters of ``policies/``: ``?enabled=`` and ``?origin=`` ("which policies allow it?")."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend, SearchFilter
from rest_framework.request import Request

__all__ = ["PolicyFilter", "PolicySearchFilter"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise serializers.ValidationError({"enabled": ["Enter true or false."]})


class PolicyFilter(BaseFilterBackend):
    """``?enabled=true|false`` and ``?origin=<origin>``.

    ``?origin=`` keeps the policies whose allowlist lets the origin in, as
    :meth:`CorsPolicy.objects.allowing() <cors_admin.models.CorsPolicyQuerySet.allowing>`
    (and the admin's search) decide it; disabled policies are judged as if they were
    enabled (combine with ``?enabled=true`` for the live ones).
    """

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        params = request.query_params
        enabled = params.get("enabled")
        if enabled is not None:
            queryset = queryset.filter(enabled=_parse_bool(enabled))
        origin = params.get("origin")
        if origin is not None and origin != "":
            try:
                queryset = queryset.allowing(origin)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"origin": exc.messages}) from None
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


class PolicySearchFilter(SearchFilter):
    """DRF's ``?search=``, with a refused term (a NUL character) reported under ``search``
    like every other error, not as a bare list."""

    def get_search_terms(self, request: Request) -> Any:
        try:
            return super().get_search_terms(request)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({self.search_param: exc.detail}) from None
