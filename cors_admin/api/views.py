"""Views of the REST API: the ``policies/`` viewset and the ``check/`` endpoint."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import router, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..explain import explain
from ..models import CorsPolicy
from .filters import PolicyFilter, PolicySearchFilter
from .permissions import CanViewPolicies, IsStaff, PolicyModelPermissions
from .serializers import CheckRequestSerializer, CheckResponseSerializer, CorsPolicySerializer

__all__ = ["CheckView", "PolicyViewSet", "log_change"]

ADDITION, CHANGE, DELETION = 1, 2, 3  # django.contrib.admin.models action flags
_WRITES_TO_ONE = {"update", "partial_update", "destroy"}


def _write_transaction() -> transaction.Atomic:
    return transaction.atomic(using=router.db_for_write(CorsPolicy))


def log_change(user: Any, obj: CorsPolicy, action_flag: int, message: Any = "") -> None:
    """Record a write in the admin's history (LogEntry), when the admin app is installed."""
    if not apps.is_installed("django.contrib.admin") or user is None or not user.pk:
        return
    from django.contrib.admin.models import LogEntry

    # log_actions() exists in Django 5.1+ (5.2 LTS and 6.x); log_action() is gone in 6.0.
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[obj],
        action_flag=action_flag,
        change_message=message,
        single_object=True,
    )


_BAD_REQUEST = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="Validation errors, DRF's standard body: a list of messages per field; "
    "origins and origin_entries errors keyed by the 0-based position of the item.",
    examples=[
        OpenApiExample(
            "Invalid fields",
            value={
                "path": ["A prefix path starts with '/', for example /api/."],
                "origins": {
                    "1": [
                        "Remove the trailing slash: an origin has no path, so write "
                        "'https://app.example.com'."
                    ]
                },
            },
        )
    ],
)
_DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})
_UNAUTHENTICATED = OpenApiResponse(
    response=_DETAIL,
    description="Not authenticated, when the project's first authentication class sends a "
    "challenge (TokenAuthentication); otherwise DRF answers 403.",
)
_DENIED = OpenApiResponse(
    response=_DETAIL,
    description="Not authenticated (with session authentication first), not staff, or missing "
    "the model permission.",
)
_NOT_FOUND = OpenApiResponse(response=_DETAIL, description="No such policy.")
_READ = {401: _UNAUTHENTICATED, 403: _DENIED}
_ID = [OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Policy id.")]
_WRITE = {400: _BAD_REQUEST, 401: _UNAUTHENTICATED, 403: _DENIED}


@extend_schema_view(
    list=extend_schema(
        summary="List CORS policies",
        responses={
            200: CorsPolicySerializer(many=True),
            400: _BAD_REQUEST,
            **_READ,
            404: OpenApiResponse(response=_DETAIL, description="No such page."),
        },
    ),
    retrieve=extend_schema(
        parameters=_ID,
        summary="Retrieve a CORS policy",
        responses={200: CorsPolicySerializer, **_READ, 404: _NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a CORS policy", responses={201: CorsPolicySerializer, **_WRITE}
    ),
    update=extend_schema(
        parameters=_ID,
        summary="Replace a CORS policy",
        responses={200: CorsPolicySerializer, **_WRITE, 404: _NOT_FOUND},
    ),
    partial_update=extend_schema(
        parameters=_ID,
        summary="Change some fields of a CORS policy",
        responses={200: CorsPolicySerializer, **_WRITE, 404: _NOT_FOUND},
    ),
    destroy=extend_schema(
        parameters=_ID,
        summary="Delete a CORS policy",
        responses={204: None, **_READ, 404: _NOT_FOUND},
    ),
)
class PolicyViewSet(viewsets.ModelViewSet):
    """CORS policies with their origin allowlists.

    Staff users only, with the Django model permissions of CORS policy
    (view to read, add/change/delete to write). Every write runs in one
    transaction and is recorded in the admin's history.
    """

    serializer_class = CorsPolicySerializer
    permission_classes = [IsStaff, PolicyModelPermissions]
    filter_backends = [PolicyFilter, PolicySearchFilter, OrderingFilter]
    search_fields = ["name", "path"]
    ordering_fields = ["priority", "name", "path", "created_at", "updated_at", "id"]
    ordering = ["priority", "name"]
    parser_classes = [JSONParser]
    # Any segment reaches the view, so a malformed id gets DRF's JSON 404, not an HTML page.
    lookup_value_regex = "[^/]+"
    queryset = CorsPolicy.objects.prefetch_related("origins")

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        if self.action in _WRITES_TO_ONE:
            # Concurrent writes to one policy take turns: each reads (and validates against)
            # what the previous one committed.
            queryset = queryset.select_for_update()
        return queryset

    # Reading the policy, validating, writing it with its allowlist and recording the change
    # in the admin's history make one transaction: an error rolls all of it back.

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _write_transaction():
            return super().create(request, *args, **kwargs)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _write_transaction():  # partial_update too
            return super().update(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _write_transaction():
            return super().destroy(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        instance = serializer.save()
        log_change(self.request.user, instance, ADDITION, serializer.change_message)

    def perform_update(self, serializer: Any) -> None:
        instance = serializer.save()
        log_change(self.request.user, instance, CHANGE, serializer.change_message)

    def perform_destroy(self, instance: CorsPolicy) -> None:
        log_change(self.request.user, instance, DELETION, "")
        instance.delete()


class CheckView(APIView):
    """Explain what the middleware does with a request: the same engine, the same snapshot."""

    permission_classes = [IsStaff, CanViewPolicies]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Explain a CORS decision",
        request=CheckRequestSerializer,
        responses={200: CheckResponseSerializer, **_WRITE},
        examples=[
            OpenApiExample(
                "Preflight of a PATCH with a JSON body",
                value={
                    "origin": "https://app.example.com",
                    "path": "/api/items/1/",
                    "method": "PATCH",
                    "request_headers": "content-type",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = CheckRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = explain(
            data["origin"],
            data["path"],
            data["method"],
            data["request_headers"],
            request_method=data["request_method"],
            private_network=data["private_network"],
        )
        return Response(CheckResponseSerializer(result.as_dict()).data)
