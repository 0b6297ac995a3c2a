"""Views of the REST API: the ``policies/`` viewset and the ``check/`` endpoint."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import router, transaction
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..explain import explain
from ..models import CorsPolicy
from .filters import PolicyFilter
from .permissions import CanViewPolicies, IsStaff, PolicyModelPermissions
from .serializers import CheckRequestSerializer, CheckResponseSerializer, CorsPolicySerializer

__all__ = ["CheckView", "PolicyViewSet", "log_change"]

ADDITION, CHANGE, DELETION = 1, 2, 3  # django.contrib.admin.models action flags


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
    description="Validation errors: one list of messages per field (DRF's standard body)."
)
_DENIED = OpenApiResponse(description="Not authenticated (401/403) or not allowed (403).")


@extend_schema_view(
    list=extend_schema(
        summary="List CORS policies",
        responses={200: CorsPolicySerializer(many=True), 400: _BAD_REQUEST, 403: _DENIED},
    ),
    retrieve=extend_schema(
        summary="Retrieve a CORS policy",
        responses={
            200: CorsPolicySerializer,
            403: _DENIED,
            404: OpenApiResponse(description="No such policy."),
        },
    ),
    create=extend_schema(
        summary="Create a CORS policy",
        responses={201: CorsPolicySerializer, 400: _BAD_REQUEST, 403: _DENIED},
    ),
    update=extend_schema(
        summary="Replace a CORS policy",
        responses={
            200: CorsPolicySerializer,
            400: _BAD_REQUEST,
            403: _DENIED,
            404: OpenApiResponse(description="No such policy."),
        },
    ),
    partial_update=extend_schema(
        summary="Change some fields of a CORS policy",
        responses={
            200: CorsPolicySerializer,
            400: _BAD_REQUEST,
            403: _DENIED,
            404: OpenApiResponse(description="No such policy."),
        },
    ),
    destroy=extend_schema(
        summary="Delete a CORS policy",
        responses={204: None, 403: _DENIED, 404: OpenApiResponse(description="No such policy.")},
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
    filter_backends = [PolicyFilter, SearchFilter, OrderingFilter]
    search_fields = ["name", "path"]
    ordering_fields = ["priority", "name", "path", "created_at", "updated_at", "id"]
    ordering = ["priority", "name"]
    lookup_value_regex = r"[0-9]+"
    queryset = CorsPolicy.objects.all()

    def get_queryset(self) -> Any:
        return CorsPolicy.objects.prefetch_related("origins").order_by("priority", "name")

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic(using=router.db_for_write(CorsPolicy)):
            instance = serializer.save()
            log_change(self.request.user, instance, ADDITION, serializer.change_message)

    def perform_update(self, serializer: Any) -> None:
        with transaction.atomic(using=router.db_for_write(CorsPolicy)):
            instance = serializer.save()
            log_change(self.request.user, instance, CHANGE, serializer.change_message)

    def perform_destroy(self, instance: CorsPolicy) -> None:
        with transaction.atomic(using=router.db_for_write(CorsPolicy)):
            log_change(self.request.user, instance, DELETION, "")
            instance.delete()


class CheckView(APIView):
    """Explain what the middleware does with a request: the same engine, the same snapshot."""

    permission_classes = [IsStaff, CanViewPolicies]

    @extend_schema(
        summary="Explain a CORS decision",
        request=CheckRequestSerializer,
        responses={200: CheckResponseSerializer, 400: _BAD_REQUEST, 403: _DENIED},
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
