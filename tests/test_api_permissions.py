"""Who may use the REST API: staff with Django model permissions; CSRF with sessions; tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cors_admin.api.views import CheckView, PolicyViewSet
from cors_admin.models import CorsPolicy
from tests.factories import UserFactory, policy_with_origins

pytestmark = pytest.mark.django_db

LIST = "/api/cors/policies/"
CHECK = "/api/cors/check/"


def perms(*codenames: str) -> list[Permission]:
    return list(
        Permission.objects.filter(content_type__app_label="cors_admin", codename__in=codenames)
    )


def make_user(role: str) -> Any:
    if role == "anonymous":
        return None
    if role == "superuser":
        return UserFactory(username=role, is_staff=True, is_superuser=True)
    user = UserFactory(username=role, is_staff=role != "non_staff")
    granted = {
        "non_staff": (
            "view_corspolicy",
            "add_corspolicy",
            "change_corspolicy",
            "delete_corspolicy",
        ),
        "staff_no_perms": (),
        "staff_view": ("view_corspolicy",),
        "staff_change_only": ("change_corspolicy",),
        "staff_add_change_delete": (
            "view_corspolicy",
            "add_corspolicy",
            "change_corspolicy",
            "delete_corspolicy",
        ),
    }[role]
    user.user_permissions.set(perms(*granted))
    return user


def body(name: str = "new") -> dict[str, Any]:
    return {"name": name, "path": f"/{name}/", "origins": ["https://app.example.com"]}


ACTIONS: dict[str, tuple[Callable[[APIClient, int], Any], int]] = {
    "list": (lambda c, pk: c.get(LIST), 200),
    "retrieve": (lambda c, pk: c.get(f"{LIST}{pk}/"), 200),
    "create": (lambda c, pk: c.post(LIST, body(), format="json"), 201),
    "update": (lambda c, pk: c.put(f"{LIST}{pk}/", body("renamed"), format="json"), 200),
    "partial_update": (lambda c, pk: c.patch(f"{LIST}{pk}/", {"priority": 1}, format="json"), 200),
    "delete": (lambda c, pk: c.delete(f"{LIST}{pk}/"), 204),
    "check": (
        lambda c, pk: c.post(
            CHECK, {"origin": "https://app.example.com", "path": "/api/x"}, format="json"
        ),
        200,
    ),
}

ALLOWED: dict[str, set[str]] = {
    "anonymous": set(),
    "non_staff": set(),
    "staff_no_perms": set(),
    "staff_view": {"list", "retrieve", "check"},
    # As in the Django admin, the change permission implies the right to read.
    "staff_change_only": {"list", "retrieve", "update", "partial_update", "check"},
    "staff_add_change_delete": set(ACTIONS),
    "superuser": set(ACTIONS),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", list(ALLOWED))
def test_permission_matrix(role: str, action: str) -> None:
    policy = policy_with_origins("https://app.example.com", name="api", path="/api/")
    client = APIClient()
    user = make_user(role)
    if user is not None:
        client.force_login(user)  # session authentication (CSRF is checked separately)
    call, success = ACTIONS[action]
    before = list(CorsPolicy.objects.values_list("name", "priority").order_by("name"))
    response = call(client, policy.pk)
    if action in ALLOWED[role]:
        assert response.status_code == success, response.content
    else:
        # The example project lists SessionAuthentication first, so DRF answers 403 (not 401)
        # to anonymous requests too; see test_anonymous_gets_401_when_token_auth_comes_first.
        assert response.status_code == 403, response.content
        assert list(CorsPolicy.objects.values_list("name", "priority").order_by("name")) == before
        detail = response.json()["detail"]
        if role == "anonymous":
            assert detail == "Authentication credentials were not provided."
        elif role in ("non_staff",):
            assert detail == "CORS policies are managed by staff users only."


@pytest.fixture
def token_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A project that lists TokenAuthentication first (DRF then answers 401)."""
    classes = [TokenAuthentication, SessionAuthentication]
    monkeypatch.setattr(PolicyViewSet, "authentication_classes", classes)
    monkeypatch.setattr(CheckView, "authentication_classes", classes)


def test_anonymous_gets_401_when_token_auth_comes_first(token_first: None) -> None:
    client = APIClient()
    response = client.get(LIST)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert client.post(CHECK, {"path": "/"}, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = bad.get(LIST)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_token_authentication_reads_and_writes_without_csrf() -> None:
    user = make_user("staff_add_change_delete")
    token = Token.objects.create(user=user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(LIST).status_code == 200
    response = client.post(LIST, body(), format="json")
    assert response.status_code == 201, response.content
    entry = LogEntry.objects.get()
    assert entry.user_id == user.pk
    assert entry.action_flag == ADDITION
    assert entry.object_id == str(response.json()["id"])


def test_token_of_a_non_staff_user_is_refused() -> None:
    token = Token.objects.create(user=make_user("non_staff"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(LIST).status_code == 403


def test_inactive_staff_is_refused() -> None:
    user = make_user("superuser")
    token = Token.objects.create(user=user)
    user.is_active = False
    user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(LIST)
    assert response.status_code == 403
    assert response.json() == {"detail": "User inactive or deleted."}


def test_session_authentication_keeps_csrf() -> None:
    user = make_user("superuser")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    # Safe methods need no token.
    assert client.get(LIST).status_code == 200
    # Unsafe ones do: without it, nothing is written.
    for response in (
        client.post(LIST, body(), format="json"),
        client.post(CHECK, {"path": "/"}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["detail"].startswith("CSRF Failed")
    assert not CorsPolicy.objects.exists()
    # With the cookie and the matching header, as a browser front end sends them.
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(LIST, body(), format="json", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert client.delete(f"{LIST}{pk}/").status_code == 403  # header missing again
    assert client.delete(f"{LIST}{pk}/", HTTP_X_CSRFTOKEN=secret).status_code == 204
