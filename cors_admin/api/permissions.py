"""Who may use the API: staff users, with the Django model permissions of CorsPolicy."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.views import APIView

__all__ = ["CanViewPolicies", "IsStaff", "PolicyModelPermissions"]


class IsStaff(BasePermission):
    """An authenticated, active staff user (the same bar as the Django admin)."""

    message = "CORS policies are managed by staff users only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class PolicyModelPermissions(DjangoModelPermissions):
    """Django model permissions, with the view permission required to read.

    As in the Django admin, the change permission lets a user read too.
    """

    perms_map: dict[str, list[str]] = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS and _can_change(request):
            return True
        return super().has_permission(request, view)


class CanViewPolicies(BasePermission):
    """The view (or change) permission on CorsPolicy, whatever the method (for ``check/``)."""

    message = "You need the 'view CORS policy' permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and (user.has_perm("cors_admin.view_corspolicy") or _can_change(request)))


def _can_change(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.has_perm("cors_admin.change_corspolicy"))
