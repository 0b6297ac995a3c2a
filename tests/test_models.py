"""Models: full_clean normalizes and refuses per field, constraints, revision bumps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cors_admin.engine import DEFAULT_HEADERS, DEFAULT_METHODS
from cors_admin.models import CorsOrigin, CorsPolicy, CorsRevision
from tests.factories import CorsOriginFactory, CorsPolicyFactory, policy_with_origins

pytestmark = pytest.mark.django_db


def errors_of(obj: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    return excinfo.value.message_dict


# -- CorsPolicy -----------------------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = CorsPolicy(name="defaults")
    policy.full_clean()
    policy.save()
    policy.refresh_from_db()
    assert policy.path == "/"
    assert policy.path_type == "prefix"
    assert policy.priority == 100
    assert policy.enabled is True
    assert policy.allow_all_origins is False
    assert policy.allow_credentials is False
    assert policy.allow_methods == list(DEFAULT_METHODS)
    assert policy.allow_headers == list(DEFAULT_HEADERS)
    assert policy.expose_headers == []
    assert policy.max_age is None
    assert policy.allow_private_network is False
    assert policy.created_at is not None and policy.updated_at is not None


def test_full_clean_normalizes_lists() -> None:
    policy = CorsPolicy(
        name="lists",
        path="/api/",
        allow_methods="GET, POST ,GET",
        allow_headers=["Content-Type", "X-Api-Key", "content-type"],
        expose_headers=["X-Total", "X-Request-Id"],
    )
    policy.full_clean()
    assert policy.allow_methods == ["GET", "POST"]
    assert policy.allow_headers == ["content-type", "x-api-key"]
    assert policy.expose_headers == ["x-total", "x-request-id"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "This field cannot be blank."),
        ({"path": "api/"}, "path", "starts with '/'"),
        ({"path": "/api/?x"}, "path", "no spaces, query string or fragment"),
        ({"path": "/api/(", "path_type": "regex"}, "path", "does not compile"),
        ({"path_type": "glob"}, "path_type", "is not a valid choice"),
        ({"allow_methods": ["GET POST"]}, "allow_methods", "not a valid HTTP token"),
        ({"allow_methods": ["*"]}, "allow_methods", "'*' is not accepted for methods"),
        ({"allow_headers": ["*", "x-a"]}, "allow_headers", "Use '*' alone"),
        ({"expose_headers": ["bad header"]}, "expose_headers", "not a valid HTTP token"),
        ({"max_age": -1}, "max_age", "greater than or equal to 0"),
        (
            {"allow_all_origins": True, "allow_credentials": True},
            "allow_credentials",
            "Browsers refuse credentials with 'Access-Control-Allow-Origin: *'",
        ),
        (
            {"allow_credentials": True, "expose_headers": ["*"]},
            "expose_headers",
            "list the header names instead",
        ),
    ],
)
def test_policy_refusals_per_field(fields: dict[str, Any], field: str, message: str) -> None:
    policy = CorsPolicy(**{"name": "bad", "path": "/api/", **fields})
    errors = errors_of(policy)
    assert field in errors, errors
    assert any(message in m for m in errors[field]), errors[field]


def test_regex_path_that_compiles_is_accepted() -> None:
    policy = CorsPolicy(name="re", path=r"/api/items/\d+", path_type="regex")
    policy.full_clean()


def test_warnings_do_not_block_saving() -> None:
    policy = CorsPolicy(name="risky", path="/api/", allow_credentials=True, max_age=90_000)
    policy.full_clean()
    policy.save()
    CorsOrigin(policy=policy, origin="http://app.example.com").full_clean()
    CorsOriginFactory(policy=policy, origin="http://app.example.com")
    text = "\n".join(policy.warnings())
    assert "plain-HTTP origins (http://app.example.com)" in text
    assert "above every browser's cap" in text
    # Warnings for an unsaved list of origins (what a form is about to save).
    assert "plain-HTTP" in "\n".join(
        CorsPolicy(name="new", allow_credentials=True).warnings(["http://b.example.com"])
    )


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [(7200, None), (7201, "Chromium's cap"), (86400, "Chromium's cap"), (86401, "every browser")],
)
def test_max_age_warnings(max_age: int, expected: str | None) -> None:
    policy = CorsPolicyFactory(max_age=max_age)
    text = "\n".join(policy.warnings())
    if expected is None:
        assert "max_age" not in text
    else:
        assert expected in text


def test_expired_entries_warning() -> None:
    policy = CorsPolicyFactory()
    CorsOrigin.objects.create(
        policy=policy, origin="https://old.example.com", expires_at=timezone.now() - timedelta(1)
    )
    assert "already expired" in "\n".join(policy.warnings())


def test_unique_name() -> None:
    CorsPolicyFactory(name="same")
    errors = errors_of(CorsPolicy(name="same", path="/other/"))
    assert errors["name"] == ["CORS policy with this Name already exists."]
    with pytest.raises(IntegrityError), transaction.atomic():
        CorsPolicy.objects.create(name="same", path="/other/")


def test_credentials_with_a_stored_null_origin_are_refused() -> None:
    policy = policy_with_origins("null", "https://app.example.com", name="nul")
    policy.allow_credentials = True
    errors = errors_of(policy)
    assert "The 'null' origin cannot be combined with credentials" in errors["allow_credentials"][0]


# -- CorsOrigin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HTTPS://App.Example.COM:443", "https://app.example.com"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("http://[0:0::1]:80", "http://[::1]"),
        ("https://*.Example.com", "https://*.example.com"),
        ("http://LOCALHOST:*", "http://localhost:*"),
        ("NULL", "null"),
    ],
)
def test_origin_full_clean_normalizes(value: str, expected: str) -> None:
    entry = CorsOrigin(policy=CorsPolicyFactory(), origin=value)
    entry.full_clean()
    assert entry.origin == expected
    entry.save()
    entry.refresh_from_db()
    assert entry.origin == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://app.example.com/", "Remove the trailing slash"),
        ("https://app.example.com/x", "contains a path"),
        ("https://app.example.com?x", "contains a query"),
        ("https://app.example.com#x", "contains a fragment"),
        ("https://u@app.example.com", "user information"),
        (" https://app.example.com", "Remove the spaces"),
        ("https://app.example.com\x00", "control characters"),
        ("https://app.example.com.", "Remove the trailing dot"),
        ("*", "allow all origins"),
        ("https://a.*.example.com", "wildcard is only allowed as the first label"),
        ("https://*.com", "public suffix 'com'"),
        ("https://*.co.uk", "public suffix 'co.uk'"),
        ("https://*.github.io", "public suffix 'github.io'"),
        ("https://*.10.0.0.1", "cannot stand over an IP address"),
        ("", "Enter an origin"),
    ],
)
def test_origin_refusals(value: str, message: str) -> None:
    entry = CorsOrigin(policy=CorsPolicyFactory(), origin=value)
    errors = errors_of(entry)
    assert any(message in m for m in errors["origin"]), errors
    assert entry.origin == value  # nothing lost: the operator sees what they typed


@pytest.mark.parametrize("value", ["null", "NULL"])
def test_null_origin_with_credentials_is_refused(value: str) -> None:
    policy = CorsPolicyFactory(allow_credentials=True)
    errors = errors_of(CorsOrigin(policy=policy, origin=value))
    assert "cannot be combined with credentials" in errors["origin"][0]
    CorsOrigin(policy=CorsPolicyFactory(allow_credentials=False), origin=value).full_clean()


def test_one_entry_per_origin_per_policy() -> None:
    policy = policy_with_origins("https://app.example.com")
    # The duplicate is found after normalization.
    errors = errors_of(CorsOrigin(policy=policy, origin="HTTPS://APP.EXAMPLE.COM:443"))
    assert errors[NON_FIELD_ERRORS] == [
        "Allowed origin with this Policy and Origin already exists."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        CorsOrigin.objects.create(policy=policy, origin="https://app.example.com")
    # The same origin in another policy is fine.
    other = CorsPolicyFactory()
    CorsOrigin(policy=other, origin="https://app.example.com").full_clean()


def test_origins_are_deleted_with_their_policy() -> None:
    policy = policy_with_origins("https://a.example.com", "https://b.example.com")
    policy.delete()
    assert CorsOrigin.objects.count() == 0


# -- revision bumps -------------------------------------------------------------------------------


def revision() -> int:
    return CorsRevision.objects.get(pk=1).value


def is_bump(callback: Any) -> bool:
    return bool(getattr(callback, "_cors_admin_bump", False))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda p: CorsPolicy.objects.filter(pk=p.pk).update(enabled=False), id="policy-update"
        ),
        pytest.param(
            lambda p: CorsOrigin.objects.filter(policy=p).update(note="x"), id="origin-update"
        ),
        pytest.param(
            lambda p: CorsOrigin.objects.bulk_create(
                [CorsOrigin(policy=p, origin="https://bulk.example.com")]
            ),
            id="origin-bulk-create",
        ),
        pytest.param(
            lambda p: CorsPolicy.objects.bulk_create([CorsPolicy(name="bulk", path="/b/")]),
            id="policy-bulk-create",
        ),
        pytest.param(
            lambda p: CorsPolicy.objects.bulk_update(
                [CorsPolicy(pk=p.pk, name=p.name, priority=5)], ["priority"]
            ),
            id="policy-bulk-update",
        ),
        pytest.param(lambda p: CorsOrigin.objects.filter(policy=p).delete(), id="origin-delete"),
        pytest.param(lambda p: CorsPolicy.objects.filter(pk=p.pk).delete(), id="policy-delete"),
    ],
)
def test_bulk_writes_bump_the_revision_on_commit(
    change: Any, django_capture_on_commit_callbacks: Any
) -> None:
    policy = policy_with_origins("https://app.example.com")
    before = revision()
    with transaction.atomic():
        with django_capture_on_commit_callbacks() as callbacks:
            change(policy)
        assert sum(1 for c in callbacks if is_bump(c)) == 1  # one bump per transaction
        assert revision() == before  # not before the commit
    assert revision() == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_never_bumps() -> None:
    policy = policy_with_origins("https://app.example.com")
    before = revision()
    with pytest.raises(RuntimeError), transaction.atomic():
        CorsPolicy.objects.filter(pk=policy.pk).update(enabled=False)
        raise RuntimeError("roll back")
    assert revision() == before
    assert CorsPolicy.objects.get(pk=policy.pk).enabled is True


@pytest.mark.django_db(transaction=True)
def test_writes_outside_a_transaction_bump_at_once() -> None:
    policy = CorsPolicyFactory()
    before = revision()
    CorsPolicy.objects.filter(pk=policy.pk).update(priority=7)
    assert revision() == before + 1
    policy.save()  # post_save
    assert revision() == before + 2


def test_bumps_are_scheduled_on_commit_in_a_test_transaction(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        CorsPolicy.objects.bulk_create([CorsPolicy(name="cb", path="/cb/")])
    assert any(is_bump(c) for c in callbacks)
