"""The operators' admin: list, filters, search, inline allowlist, validation, warnings,
bulk actions, the "test a request" page and permissions, through Django's test client."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cors_admin import cache
from cors_admin.engine import compile_policies
from cors_admin.explain import explain
from cors_admin.models import CorsOrigin, CorsPolicy
from tests.factories import CorsOriginFactory, CorsPolicyFactory, UserFactory, policy_with_origins

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:cors_admin_corspolicy_changelist"
ADD = "admin:cors_admin_corspolicy_add"
CHANGE_URL = "admin:cors_admin_corspolicy_change"
TEST_PAGE = "admin:cors_admin_corspolicy_test"


def changelist_url(**params: str) -> str:
    from urllib.parse import urlencode

    url = reverse(CHANGELIST)
    return f"{url}?{urlencode(params)}" if params else url


def result_names(response: Any) -> set[str]:
    return {p.name for p in response.context["cl"].result_list}


def staff_client(*codenames: str) -> Client:
    """A logged-in staff user holding exactly these cors_admin permissions."""
    user = UserFactory(is_staff=True)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="cors_admin", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def policy_form_data(
    policy: CorsPolicy | None = None,
    origins: list[dict[str, str]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """POST data of the policy change form (fields as an operator types them) + the inline."""
    data: dict[str, Any] = {
        "name": "frontend",
        "description": "",
        "path": "/api/",
        "path_type": "prefix",
        "priority": "100",
        "enabled": "on",
        "allow_methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        "allow_headers": "accept, authorization, content-type, user-agent, x-csrftoken, "
        "x-requested-with",
        "expose_headers": "",
        "max_age": "",
        "_save": "Save",
    }
    if policy is not None:
        data.update(
            name=policy.name,
            description=policy.description,
            path=policy.path,
            path_type=policy.path_type,
            priority=str(policy.priority),
            allow_methods=", ".join(policy.allow_methods),
            allow_headers=", ".join(policy.allow_headers),
            expose_headers=", ".join(policy.expose_headers),
            max_age="" if policy.max_age is None else str(policy.max_age),
        )
        for flag in ("enabled", "allow_all_origins", "allow_credentials", "allow_private_network"):
            data.pop(flag, None)
            if getattr(policy, flag):
                data[flag] = "on"
    for name, value in fields.items():
        if value is False or value is None:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = value
    rows: list[dict[str, str]] = []
    existing = list(policy.origins.order_by("pk")) if policy is not None else []
    for entry in existing:
        rows.append(
            {
                "id": str(entry.pk),
                "policy": str(policy.pk) if policy else "",
                "origin": entry.origin,
                "note": entry.note,
            }
        )
    for row in origins or []:
        if "id" in row:  # an edit of an existing row
            for current in rows:
                if current["id"] == row["id"]:
                    current.update(row)
        else:
            rows.append({"policy": str(policy.pk) if policy else "", **row})
    data.update(
        {
            "origins-TOTAL_FORMS": str(len(rows)),
            "origins-INITIAL_FORMS": str(len(existing)),
            "origins-MIN_NUM_FORMS": "0",
            "origins-MAX_NUM_FORMS": "1000",
        }
    )
    for index, row in enumerate(rows):
        expires = row.get("expires_at", "")
        date, _, time = expires.partition(" ")
        data[f"origins-{index}-id"] = row.get("id", "")
        data[f"origins-{index}-policy"] = row.get("policy", "")
        data[f"origins-{index}-origin"] = row.get("origin", "")
        data[f"origins-{index}-note"] = row.get("note", "")
        data[f"origins-{index}-expires_at_0"] = date
        data[f"origins-{index}-expires_at_1"] = time
        if row.get("DELETE"):
            data[f"origins-{index}-DELETE"] = "on"
    return data


def inline_errors(response: Any) -> list[dict[str, list[str]]]:
    formset = response.context["inline_admin_formsets"][0].formset
    return [dict(form.errors) for form in formset.forms]


def form_errors(response: Any) -> dict[str, list[str]]:
    return dict(response.context["adminform"].form.errors)


def drain_pending_bumps() -> None:
    """Run and forget the revision bumps the test's setup scheduled.

    The test transaction never commits, and one pending bump per transaction is
    enough for cache.schedule_bump, so without this the change under test would
    schedule no callback of its own and the capture below would prove nothing.
    """
    from django.db import connection

    pending = [e for e in connection.run_on_commit if getattr(e[1], "_cors_admin_bump", False)]
    connection.run_on_commit = [e for e in connection.run_on_commit if e not in pending]
    for _sids, func, _robust in pending:
        func()


def message_texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- the change list --------------------------------------------------------------------


def test_changelist_shows_columns_and_counts(admin_client: Client) -> None:
    policy = policy_with_origins(
        "https://app.example.com",
        "https://admin.example.com",
        name="frontend",
        path="/api/v2/",
        allow_credentials=True,
        priority=7,
    )
    CorsOriginFactory(
        policy=policy,
        origin="https://old.example.com",
        expires_at=timezone.now() - timedelta(days=1),
    )
    CorsPolicyFactory(name="open-data", path="/public/", path_type="exact", allow_all_origins=True)

    response = admin_client.get(changelist_url())

    assert response.status_code == 200
    html = response.content.decode()
    for header in ("Name", "Path", "Enabled", "Origins", "Credentials", "Priority"):
        assert f">{header}<" in html or f">{header}</a>" in html, header
    assert "Last change" in html
    rows = {p.name: p for p in response.context["cl"].result_list}
    assert rows["frontend"].origin_count == 3
    assert rows["frontend"].expired_count == 1
    assert rows["open-data"].origin_count == 0
    assert "<code>/api/v2/</code>" in html and ">prefix<" in html
    assert "<code>/public/</code>" in html and ">exact<" in html
    assert "(1 expired)" in html
    assert "all (*)" in html
    # The "test a request" button sits in the object tools.
    assert reverse(TEST_PAGE) in html


def test_changelist_query_count_does_not_grow_with_policies(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    policy_with_origins("https://a.example.com", name="only")
    with CaptureQueriesContext(connection) as baseline:
        assert admin_client.get(changelist_url()).status_code == 200

    for n in range(25):
        policy_with_origins(*(f"https://app{n}-{i}.example.com" for i in range(4)), name=f"p{n}")
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = admin_client.get(changelist_url())
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 26
    assert {p.origin_count for p in response.context["cl"].result_list} == {1, 4}


@pytest.fixture
def assorted() -> dict[str, CorsPolicy]:
    past = timezone.now() - timedelta(hours=1)
    policies = {
        "app": policy_with_origins("https://app.example.com", name="app", path="/api/"),
        "wild": policy_with_origins(
            "https://*.example.com", name="wild", path="/wild/", allow_credentials=True
        ),
        "all": CorsPolicyFactory(name="all", path="/open/", allow_all_origins=True),
        "other": policy_with_origins(
            "https://other.org", "null", name="other", path="/other/", path_type="exact"
        ),
        "local": policy_with_origins(
            "http://localhost:*", name="local", path=r"/dev/.*", path_type="regex", enabled=False
        ),
        "empty": CorsPolicyFactory(name="empty", path="/nothing/"),
    }
    CorsOriginFactory(policy=policies["other"], origin="https://app.example.com", expires_at=past)
    return policies


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"enabled__exact": "0"}, {"local"}),
        ({"enabled__exact": "1"}, {"app", "wild", "all", "other", "empty"}),
        ({"allow_credentials__exact": "1"}, {"wild"}),
        ({"path_type__exact": "exact"}, {"other"}),
        ({"path_type__exact": "regex"}, {"local"}),
        ({"expired": "yes"}, {"other"}),
        ({"expired": "no"}, {"app", "wild", "all", "local", "empty"}),
        ({"allowlist": "all"}, {"all"}),
        ({"allowlist": "wildcard"}, {"wild", "local"}),
        ({"allowlist": "null"}, {"other"}),
        ({"allowlist": "empty"}, {"empty"}),
    ],
)
def test_filters(
    admin_client: Client,
    assorted: dict[str, CorsPolicy],
    params: dict[str, str],
    expected: set[str],
) -> None:
    response = admin_client.get(changelist_url(**params))
    assert response.status_code == 200
    assert result_names(response) == expected


def test_filter_counts_render(admin_client: Client, assorted: dict[str, CorsPolicy]) -> None:
    response = admin_client.get(changelist_url(_facets="True"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Has expired entries (1)" in html
    assert "Has wildcard entries (2)" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # An origin's host finds every policy listing it (expired entries too: they are listed).
        ("app.example.com", {"app", "other"}),
        # A full origin as typed is normalized first.
        ("HTTPS://App.Example.COM:443", {"app", "other"}),
        ("https://app.example.com/", {"app", "other"}),
        ("localhost", {"local"}),
        ("other", {"other"}),  # name (and origin)
        ("/wild/", {"wild"}),  # path
        ("nothing-matches-this", set()),
        ("app /api/", {"app"}),  # every term must match
    ],
)
def test_search_by_name_path_or_origin(
    admin_client: Client, assorted: dict[str, CorsPolicy], query: str, expected: set[str]
) -> None:
    response = admin_client.get(changelist_url(q=query))
    assert response.status_code == 200
    assert result_names(response) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # exact entry, wildcard over it, allow-all; the expired entry of "other" does not count
        ("origin:https://app.example.com", {"app", "wild", "all"}),
        ("origin:https://deep.sub.example.com", {"wild", "all"}),
        ("origin:https://example.com", {"all"}),  # a wildcard never covers the bare domain
        ("origin: HTTPS://App.Example.com", {"app", "wild", "all"}),
        ("origin:http://localhost:3000", {"local", "all"}),
        ("origin:http://localhost", {"local", "all"}),
        ("origin:null", {"other", "all"}),
        ("origin:https://*.example.com", {"wild", "all"}),
        ("origin:not-an-origin", set()),
    ],
)
def test_search_which_policies_allow_an_origin(
    admin_client: Client, assorted: dict[str, CorsPolicy], query: str, expected: set[str]
) -> None:
    response = admin_client.get(changelist_url(q=query))
    assert response.status_code == 200
    assert result_names(response) == expected
    html = response.content.decode()
    if expected:
        assert "lets <code>" in html
    else:
        assert "is not an origin" in html


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com",
        "https://a.b.example.com",
        "https://example.com",
        "https://app.example.com:8443",
        "http://localhost:5173",
        "https://other.org",
        "null",
    ],
)
def test_origin_search_agrees_with_the_engine(
    admin_client: Client, assorted: dict[str, CorsPolicy], origin: str
) -> None:
    """Each policy alone, compiled by the engine, allows exactly what the search lists."""
    CorsPolicy.objects.update(enabled=True)
    allowed = set()
    for spec in cache.load_specs():
        snapshot = compile_policies([spec], now=time.time())
        probe = spec.path if spec.path_type != "regex" else "/dev/x"
        if snapshot.evaluate(probe, origin, "GET").allowed:
            allowed.add(spec.name)
    response = admin_client.get(changelist_url(q=f"origin:{origin}"))
    assert result_names(response) == allowed


# -- adding and changing a policy --------------------------------------------------------


def test_add_policy_with_inline_origins_normalizes_them(admin_client: Client) -> None:
    data = policy_form_data(
        origins=[
            {"origin": "HTTPS://App.Example.COM:443", "note": "SPA"},
            {"origin": "http://LOCALHOST:*", "note": "dev", "expires_at": "2099-01-01 12:00:00"},
        ],
        allow_methods="GET, POST",
        allow_headers="Content-Type, X-Api-Key",
        expose_headers="X-Request-Id",
    )
    response = admin_client.post(reverse(ADD), data, follow=True)

    assert response.status_code == 200
    assert not response.context.get("errors"), response.context.get("errors")
    policy = CorsPolicy.objects.get(name="frontend")
    assert policy.allow_methods == ["GET", "POST"]
    assert policy.allow_headers == ["content-type", "x-api-key"]
    assert policy.expose_headers == ["x-request-id"]
    entries = {o.origin: o for o in policy.origins.all()}
    assert set(entries) == {"https://app.example.com", "http://localhost:*"}
    assert entries["https://app.example.com"].note == "SPA"
    assert entries["http://localhost:*"].expires_at is not None
    # The normalized values and the friendly lists are what the change page shows.
    page = admin_client.get(reverse(CHANGE_URL, args=[policy.pk])).content.decode()
    assert 'value="https://app.example.com"' in page
    assert 'value="GET, POST"' in page
    assert 'value="content-type, x-api-key"' in page
    # History: an addition with the inline rows.
    entry = LogEntry.objects.get(object_id=str(policy.pk), action_flag=ADDITION)
    assert "allowed origin" in entry.get_change_message()


def test_change_policy_adds_and_deletes_rows(admin_client: Client) -> None:
    policy = policy_with_origins("https://a.example.com", "https://b.example.com", name="p")
    a = policy.origins.get(origin="https://a.example.com")
    data = policy_form_data(
        policy,
        origins=[{"id": str(a.pk), "DELETE": "1"}, {"origin": "https://C.example.com"}],
    )
    response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 302, inline_errors(response)
    assert sorted(policy.origins.values_list("origin", flat=True)) == [
        "https://b.example.com",
        "https://c.example.com",
    ]


def test_saving_bumps_the_revision_and_the_snapshot_follows(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    policy = policy_with_origins("https://a.example.com", name="p", path="/api/")
    assert not explain("https://new.example.com", "/api/x").allowed
    drain_pending_bumps()
    before = cache.read_revision()
    data = policy_form_data(policy, origins=[{"origin": "https://new.example.com"}])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert cache.read_revision() > before
    assert explain("https://new.example.com", "/api/x").allowed


# -- validation in place ------------------------------------------------------------------


def test_bad_origin_error_on_its_row_nothing_saved(admin_client: Client) -> None:
    data = policy_form_data(
        origins=[
            {"origin": "https://good.example.com"},
            {"origin": "https://app.example.com/path"},
            {"origin": "https://*.com"},
        ]
    )
    response = admin_client.post(reverse(ADD), data)

    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors[0] == {}
    assert "contains a path" in errors[1]["origin"][0]
    assert "https://app.example.com" in errors[1]["origin"][0]  # the fix-it suggestion
    assert "public suffix" in errors[2]["origin"][0]
    assert CorsPolicy.objects.count() == 0
    assert CorsOrigin.objects.count() == 0
    html = response.content.decode()
    assert "Please correct the errors below." in html
    assert 'value="https://app.example.com/path"' in html  # what was typed is kept


def test_star_with_credentials_error_on_the_field(admin_client: Client) -> None:
    data = policy_form_data(allow_all_origins=True, allow_credentials=True)
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    assert "refuse credentials" in form_errors(response)["allow_credentials"][0]
    assert not CorsPolicy.objects.exists()


def test_null_with_credentials_in_the_same_submission(admin_client: Client) -> None:
    data = policy_form_data(
        allow_credentials=True,
        origins=[{"origin": "https://app.example.com"}, {"origin": "NULL"}],
    )
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors[0] == {}
    assert len(errors[1]["origin"]) == 1
    assert "'null' origin cannot be combined with credentials" in errors[1]["origin"][0]
    assert not CorsPolicy.objects.exists()


def test_null_with_credentials_on_an_existing_policy_one_message(admin_client: Client) -> None:
    policy = policy_with_origins("https://app.example.com", "null", name="p")
    response = admin_client.post(
        reverse(CHANGE_URL, args=[policy.pk]), policy_form_data(policy, allow_credentials=True)
    )
    assert response.status_code == 200
    errors = inline_errors(response)
    null_row = [e for e, o in zip(errors, ["https://app.example.com", "null"], strict=True)]
    assert null_row[0] == {}
    assert len(null_row[1]["origin"]) == 1
    assert "credentials" in null_row[1]["origin"][0]
    policy.refresh_from_db()
    assert not policy.allow_credentials


def test_turning_on_credentials_while_deleting_null_in_the_same_save(admin_client: Client) -> None:
    policy = policy_with_origins("https://app.example.com", "null", name="p")
    null = policy.origins.get(origin="null")
    data = policy_form_data(
        policy, allow_credentials=True, origins=[{"id": str(null.pk), "DELETE": "1"}]
    )
    response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 302, (form_errors(response), inline_errors(response))
    policy.refresh_from_db()
    assert policy.allow_credentials
    assert list(policy.origins.values_list("origin", flat=True)) == ["https://app.example.com"]


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"path": "(unclosed", "path_type": "regex"}, "path", "does not compile"),
        ({"path": "api/", "path_type": "prefix"}, "path", "starts with '/'"),
        ({"allow_methods": "GET, PO ST"}, "allow_methods", "not a valid HTTP token"),
        ({"allow_methods": "GET, *"}, "allow_methods", "'*' is not accepted for methods"),
        ({"allow_methods": ""}, "allow_methods", "required"),
        ({"allow_headers": "*, x-foo"}, "allow_headers", "Use '*' alone"),
        (
            {"allow_credentials": True, "expose_headers": "*"},
            "expose_headers",
            "list the header names",
        ),
        ({"max_age": "-5"}, "max_age", ""),
    ],
)
def test_policy_field_errors_in_place(
    admin_client: Client, fields: dict[str, Any], field: str, text: str
) -> None:
    response = admin_client.post(reverse(ADD), policy_form_data(**fields))
    assert response.status_code == 200
    errors = form_errors(response)
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not CorsPolicy.objects.exists()


def test_duplicate_rows_after_normalization(admin_client: Client) -> None:
    data = policy_form_data(
        origins=[{"origin": "https://app.example.com"}, {"origin": "HTTPS://APP.example.com:443"}]
    )
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors[0] == {}
    assert "already in this allowlist" in errors[1]["origin"][0]
    assert not CorsPolicy.objects.exists()


def test_duplicate_row_message_names_the_row_as_shown(admin_client: Client) -> None:
    """Rows deleted in the same save still count when the message names a row number."""
    policy = policy_with_origins("https://a.example.com", "https://b.example.com", name="p")
    a = policy.origins.get(origin="https://a.example.com")
    data = policy_form_data(
        policy,
        origins=[{"id": str(a.pk), "DELETE": "1"}, {"origin": "https://B.example.com"}],
    )
    response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors[:2] == [{}, {}]
    assert errors[2]["origin"] == ["https://b.example.com is already in this allowlist (row 2)."]
    assert policy.origins.count() == 2


def test_an_origin_another_operator_saved_meanwhile(admin_client: Client) -> None:
    """A stale page adding an origin stored since it loaded: a message on the row, not a 500."""
    policy = policy_with_origins("https://app.example.com", name="p")
    data = policy_form_data(policy, origins=[{"origin": "HTTPS://New.example.com"}])
    CorsOriginFactory(policy=policy, origin="https://new.example.com")  # the other save
    response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 200
    errors = inline_errors(response)
    assert errors[0] == {}
    assert errors[1]["origin"] == ["https://new.example.com is already in this allowlist."]
    assert policy.origins.count() == 2
    assert 'value="HTTPS://New.example.com"' in response.content.decode()  # what was typed


def test_adding_an_origin_already_listed_on_an_existing_policy(admin_client: Client) -> None:
    policy = policy_with_origins("https://app.example.com", name="p")
    data = policy_form_data(policy, origins=[{"origin": "https://APP.example.com"}])
    response = admin_client.post(reverse(CHANGE_URL, args=[policy.pk]), data)
    assert response.status_code == 200
    assert "already in this allowlist" in inline_errors(response)[1]["origin"][0]
    assert policy.origins.count() == 1


# -- warnings after save --------------------------------------------------------------------


def test_warnings_shown_after_save(admin_client: Client) -> None:
    data = policy_form_data(
        allow_credentials=True,
        max_age="100000",
        origins=[{"origin": "http://app.example.com"}, {"origin": "https://*.example.com"}],
    )
    response = admin_client.post(reverse(ADD), data, follow=True)
    assert response.status_code == 200
    texts = message_texts(response)
    assert any("was added successfully" in t for t in texts)
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 3, warnings
    joined = " ".join(warnings)
    assert "plain-HTTP origins (http://app.example.com)" in joined
    assert "wildcard entries (https://*.example.com)" in joined
    assert "above every browser's cap" in joined
    assert 'class="warning"' in response.content.decode()


def test_no_warning_for_a_plain_policy(admin_client: Client) -> None:
    data = policy_form_data(origins=[{"origin": "https://app.example.com"}])
    response = admin_client.post(reverse(ADD), data, follow=True)
    assert [m for m in response.context["messages"] if m.level_tag == "warning"] == []


# -- bulk actions ----------------------------------------------------------------------------


def run_action(client: Client, action: str, policies: list[CorsPolicy]) -> Any:
    return client.post(
        changelist_url(),
        {"action": action, "_selected_action": [str(p.pk) for p in policies]},
        follow=True,
    )


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [("enable_policies", False, True), ("disable_policies", True, False)],
)
def test_enable_disable_actions(
    admin_client: Client,
    django_capture_on_commit_callbacks: Any,
    action: str,
    start: bool,
    end: bool,
) -> None:
    a = CorsPolicyFactory(name="a", enabled=start)
    b = CorsPolicyFactory(name="b", enabled=start)
    c = CorsPolicyFactory(name="c", enabled=end)  # already in the target state
    untouched = CorsPolicyFactory(name="untouched", enabled=start)
    drain_pending_bumps()
    before = cache.read_revision()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run_action(admin_client, action, [a, b, c])

    assert response.status_code == 200
    assert callbacks, "the change must schedule a revision bump on commit"
    assert cache.read_revision() > before
    assert {p.name for p in CorsPolicy.objects.filter(enabled=end)} == {"a", "b", "c"}
    assert CorsPolicy.objects.get(pk=untouched.pk).enabled is start
    logs = LogEntry.objects.filter(action_flag=CHANGE)
    assert sorted(int(e.object_id) for e in logs) == [a.pk, b.pk]
    assert all(e.get_change_message() == "Changed Enabled." for e in logs)
    texts = " ".join(message_texts(response))
    assert "2 policies" in texts and "1 was already in that state" in texts


def test_disable_action_takes_effect_in_the_snapshot(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    policy = policy_with_origins("https://app.example.com", name="p", path="/api/")
    assert explain("https://app.example.com", "/api/x").allowed
    drain_pending_bumps()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_action(admin_client, "disable_policies", [policy])
    assert len(callbacks) == 1
    after = explain("https://app.example.com", "/api/x")
    assert not after.covered


def test_delete_action_bumps_the_revision_and_writes_history(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """Django's own "delete selected" goes through BumpingQuerySet.delete()."""
    a = policy_with_origins("https://app.example.com", name="a", path="/api/")
    b = CorsPolicyFactory(name="b", path="/b/")
    CorsPolicyFactory(name="kept", path="/kept/")
    assert explain("https://app.example.com", "/api/x").allowed
    drain_pending_bumps()
    before = cache.read_revision()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            changelist_url(),
            {"action": "delete_selected", "_selected_action": [a.pk, b.pk], "post": "yes"},
            follow=True,
        )

    assert response.status_code == 200
    assert len(callbacks) == 1
    assert cache.read_revision() > before
    assert list(CorsPolicy.objects.values_list("name", flat=True)) == ["kept"]
    assert not CorsOrigin.objects.exists()
    logs = LogEntry.objects.filter(action_flag=DELETION)
    assert sorted(int(e.object_id) for e in logs) == [a.pk, b.pk]
    assert not explain("https://app.example.com", "/api/x").covered


def test_duplicate_action(admin_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    expiry = timezone.now() + timedelta(days=3)
    policy = policy_with_origins(
        "https://app.example.com",
        name="frontend",
        allow_credentials=True,
        allow_methods=["GET", "PUT"],
        expose_headers=["x-request-id"],
        max_age=600,
        priority=5,
    )
    CorsOriginFactory(
        policy=policy, origin="https://beta.example.com", note="beta", expires_at=expiry
    )
    drain_pending_bumps()
    before = cache.read_revision()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run_action(admin_client, "duplicate_policies", [policy])
    assert len(callbacks) == 1  # one bump for the whole action
    run_action(admin_client, "duplicate_policies", [policy])

    assert cache.read_revision() > before
    copy = CorsPolicy.objects.get(name="frontend (copy)")
    assert CorsPolicy.objects.filter(name="frontend (copy 2)").exists()
    assert copy.enabled is False
    for field in ("path", "path_type", "priority", "allow_credentials", "allow_methods"):
        assert getattr(copy, field) == getattr(policy, field), field
    assert copy.expose_headers == ["x-request-id"] and copy.max_age == 600
    entries = {o.origin: (o.note, o.expires_at) for o in copy.origins.all()}
    assert entries == {
        "https://app.example.com": ("", None),
        "https://beta.example.com": ("beta", expiry),
    }
    assert policy.origins.count() == 2  # the original keeps its rows
    log = LogEntry.objects.get(object_id=str(copy.pk), action_flag=ADDITION)
    assert "Duplicated from “frontend”" in log.get_change_message()
    texts = " ".join(message_texts(response))
    assert "frontend (copy)" in texts and "disabled" in texts


def test_duplicating_a_copy_numbers_it(admin_client: Client) -> None:
    CorsPolicyFactory(name="x")
    copy = CorsPolicyFactory(name="x (copy)")
    run_action(admin_client, "duplicate_policies", [copy])
    assert CorsPolicy.objects.filter(name="x (copy 2)").exists()
    long = CorsPolicyFactory(name="n" * 100)
    run_action(admin_client, "duplicate_policies", [long])
    assert CorsPolicy.objects.filter(name="n" * 93 + " (copy)").exists()


# -- the test page ----------------------------------------------------------------------------


@pytest.fixture
def frontend() -> CorsPolicy:
    return policy_with_origins(
        "https://app.example.com",
        "https://*.preview.example.com",
        name="frontend",
        path="/api/",
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT"],
        allow_headers=["content-type", "authorization"],
        expose_headers=["x-request-id"],
        max_age=600,
    )


def test_page(client: Client, **params: str) -> Any:
    return client.get(reverse(TEST_PAGE), params)


test_page.__test__ = False  # type: ignore[attr-defined]


def test_test_page_form_without_result(admin_client: Client) -> None:
    response = admin_client.get(reverse(TEST_PAGE))
    assert response.status_code == 200
    assert response.context["result"] is None
    html = response.content.decode()
    assert "Test a request" in html and 'name="origin"' in html and 'name="path"' in html


def test_test_page_allowed(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(admin_client, origin="https://app.example.com", path="/api/orders/")
    result = response.context["result"]
    assert result.allowed and result.covered
    assert [s.kind for s in result.steps] == ["actual"]
    assert result.final.headers == explain("https://app.example.com", "/api/orders/").headers
    assert result.final.headers == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-request-id",
        "Vary": "Origin",
    }
    html = response.content.decode()
    assert 'data-verdict="allowed"' in html
    assert "Access-Control-Allow-Origin: https://app.example.com" in html
    assert f'href="{reverse(CHANGE_URL, args=[frontend.pk])}"' in html  # the policy, linked


def test_test_page_wildcard_entry_named(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(admin_client, origin="https://pr-12.preview.example.com", path="/api/")
    result = response.context["result"]
    assert result.allowed
    assert "https://*.preview.example.com" in result.final.reason


def test_test_page_denied_with_reason(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(admin_client, origin="https://evil.example.net", path="/api/orders/")
    result = response.context["result"]
    assert not result.allowed and result.covered
    assert "not in the allowlist of policy 'frontend'" in result.final.reason
    assert result.final.headers == {"Vary": "Origin"}
    html = response.content.decode()
    assert 'data-verdict="denied"' in html
    assert "not in the allowlist" in html


def test_test_page_suggests_the_canonical_origin(
    admin_client: Client, frontend: CorsPolicy
) -> None:
    response = test_page(admin_client, origin="https://App.Example.com/", path="/api/")
    result = response.context["result"]
    assert not result.allowed
    assert result.origin_hint == "https://app.example.com"
    follow = admin_client.get(result.origin_hint_url)
    assert follow.context["result"].allowed
    spaced = test_page(admin_client, origin=" https://app.example.com ", path="/api/")
    assert not spaced.context["result"].allowed  # browsers never send spaces
    assert spaced.context["result"].origin_hint == "https://app.example.com"


def test_test_page_preflight_with_headers(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(
        admin_client,
        origin="https://app.example.com",
        path="/api/orders/",
        method="PUT",
        request_headers="Content-Type, Authorization, Accept",
    )
    result = response.context["result"]
    assert result.allowed
    assert [s.kind for s in result.steps] == ["preflight", "actual"]
    preflight = result.steps[0]
    assert preflight.explanation.status == 204
    assert ("Access-Control-Request-Headers", "content-type, authorization") in (
        preflight.request_headers
    )
    assert preflight.explanation.headers == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Methods": "GET, POST, PUT",
        "Access-Control-Allow-Headers": "content-type, authorization",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    assert preflight.explanation.headers == (
        explain(
            "https://app.example.com", "/api/orders/", "PUT", "content-type, authorization"
        ).headers
    )
    # The request itself, after the preflight: the PUT as sent, never its preflight again.
    request = result.steps[1]
    assert request.method == "PUT" and not request.explanation.preflight
    assert request.explanation.status is None
    assert request.explanation.headers == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-request-id",
        "Vary": "Origin",
    }
    assert request.explanation.headers == (
        explain("https://app.example.com", "/api/orders/", "PUT", actual=True).headers
    )
    html = response.content.decode()
    assert "HTTP 204" in html
    assert "Access-Control-Allow-Methods: GET, POST, PUT" in html
    assert "PUT is not GET, HEAD or POST" in html


def test_test_page_preflight_denied(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(
        admin_client,
        origin="https://app.example.com",
        path="/api/",
        method="DELETE",
    )
    result = response.context["result"]
    assert not result.allowed and result.browser_stops
    assert [s.kind for s in result.steps] == ["preflight"]
    assert result.final.status == 403
    assert "method DELETE is not allowed" in result.final.reason
    html = response.content.decode()
    assert "HTTP 403" in html and "never sends the request" in html

    response = test_page(
        admin_client, origin="https://app.example.com", path="/api/", request_headers="x-secret"
    )
    assert "request header 'x-secret' is not allowed" in response.context["result"].final.reason


def test_test_page_uncovered_path(admin_client: Client, frontend: CorsPolicy) -> None:
    response = test_page(admin_client, origin="https://app.example.com", path="/static/app.js")
    result = response.context["result"]
    assert not result.covered and not result.allowed
    assert result.final.headers == {}
    html = response.content.decode()
    assert 'data-verdict="uncovered"' in html
    assert "o enabled policy covers path &#x27;/static/app.js&#x27;" in html


def test_test_page_accepts_a_full_url_and_flags_bad_input(
    admin_client: Client, frontend: CorsPolicy
) -> None:
    response = test_page(
        admin_client, origin="https://app.example.com", path="https://api.example.com/api/x?y=1"
    )
    assert response.context["result"].path == "/api/x"
    assert response.context["result"].allowed
    response = test_page(admin_client, origin="https://app.example.com", path="", method="G ET")
    assert response.context["result"] is None
    assert set(response.context["form"].errors) == {"path", "method"}
    # A URL whose host Python cannot split is a message on the field, not a server error.
    response = test_page(admin_client, origin="https://app.example.com", path="http://[::1/api/")
    assert response.status_code == 200
    assert response.context["result"] is None
    assert "Enter a path such as /api/orders/" in response.context["form"].errors["path"][0]


def test_test_page_sees_disabled_policies_as_absent(
    admin_client: Client, frontend: CorsPolicy
) -> None:
    CorsPolicy.objects.filter(pk=frontend.pk).update(enabled=False)
    cache.reset()
    response = test_page(admin_client, origin="https://app.example.com", path="/api/")
    assert not response.context["result"].covered


def test_change_page_links_to_a_prefilled_test(admin_client: Client, frontend: CorsPolicy) -> None:
    response = admin_client.get(reverse(CHANGE_URL, args=[frontend.pk]))
    link = response.context["cors_test_url"]
    assert link.startswith(reverse(TEST_PAGE) + "?")
    assert "path=%2Fapi%2F" in link and "origin=https%3A%2F%2Fapp.example.com" in link
    assert link.replace("&", "&amp;") in response.content.decode()
    followed = admin_client.get(link)
    assert followed.context["result"].allowed


# -- permissions --------------------------------------------------------------------------------


def test_view_only_user_sees_but_cannot_change(frontend: CorsPolicy) -> None:
    client = staff_client("view_corspolicy")
    response = client.get(changelist_url())
    assert response.status_code == 200
    assert result_names(response) == {"frontend"}
    html = response.content.decode()
    assert 'name="action"' not in html
    assert reverse(TEST_PAGE) in html
    assert reverse(ADD) not in html

    change = client.get(reverse(CHANGE_URL, args=[frontend.pk]))
    assert change.status_code == 200
    html = change.content.decode()
    assert 'name="_save"' not in html
    assert "https://app.example.com" in html  # the allowlist is visible, read-only
    assert 'name="origins-0-origin"' not in html

    post = client.post(
        reverse(CHANGE_URL, args=[frontend.pk]), policy_form_data(frontend, priority="1")
    )
    assert post.status_code == 403
    assert client.get(reverse(ADD)).status_code == 403
    action = run_action(client, "disable_policies", [frontend])
    assert action.status_code == 200
    assert CorsPolicy.objects.get(pk=frontend.pk).enabled


def test_view_only_user_can_use_the_test_page(frontend: CorsPolicy) -> None:
    client = staff_client("view_corspolicy")
    response = test_page(client, origin="https://app.example.com", path="/api/")
    assert response.status_code == 200
    assert response.context["result"].allowed


def test_test_page_needs_view_permission(frontend: CorsPolicy) -> None:
    response = test_page(staff_client(), origin="https://app.example.com", path="/api/")
    assert response.status_code == 403
    anonymous = Client().get(reverse(TEST_PAGE))
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    non_staff = UserFactory(is_staff=False)
    client = Client()
    client.force_login(non_staff)
    assert client.get(reverse(TEST_PAGE)).status_code == 302


def test_actions_follow_permissions(frontend: CorsPolicy) -> None:
    def offered(client: Client) -> set[str]:
        html = client.get(changelist_url()).content.decode()
        names = ("enable_policies", "disable_policies", "duplicate_policies", "delete_selected")
        return {name for name in names if f'value="{name}"' in html}

    change_only = staff_client("view_corspolicy", "change_corspolicy")
    assert offered(change_only) == {"enable_policies", "disable_policies"}
    run_action(change_only, "duplicate_policies", [frontend])
    assert CorsPolicy.objects.count() == 1

    add_only = staff_client("view_corspolicy", "add_corspolicy")
    assert offered(add_only) == {"duplicate_policies"}
    run_action(add_only, "disable_policies", [frontend])
    assert CorsPolicy.objects.get(pk=frontend.pk).enabled
    run_action(add_only, "duplicate_policies", [frontend])
    assert CorsPolicy.objects.filter(name="frontend (copy)", enabled=False).exists()

    everything = staff_client(
        "view_corspolicy", "add_corspolicy", "change_corspolicy", "delete_corspolicy"
    )
    assert offered(everything) == {
        "enable_policies",
        "disable_policies",
        "duplicate_policies",
        "delete_selected",
    }


def test_change_permission_covers_the_allowlist(frontend: CorsPolicy) -> None:
    """The inline follows the policy's permissions; no separate CorsOrigin permissions needed."""
    client = staff_client("view_corspolicy", "change_corspolicy")
    data = policy_form_data(frontend, origins=[{"origin": "https://new.example.com"}])
    response = client.post(reverse(CHANGE_URL, args=[frontend.pk]), data)
    assert response.status_code == 302, inline_errors(response)
    assert frontend.origins.filter(origin="https://new.example.com").exists()


def test_operators_guide_example_matches_the_test_page(admin_client: Client) -> None:
    """The preflight the guide shows is what the page shows for the policy it describes."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "docs" / "operators-guide.md").read_text()
    block = re.search(r"<!-- test-page-example -->\n```text\n(.*?)```", guide, re.S)
    assert block, "docs/operators-guide.md: the test-page example block is missing"
    sent, _, answered = block.group(1).strip().partition("\n\n")
    policy_with_origins(
        "https://app.example.com", name="orders", path="/api/", allow_credentials=True
    )
    response = test_page(
        admin_client,
        origin="https://app.example.com",
        path="/api/orders/",
        method="PUT",
        request_headers="content-type, authorization",
    )
    preflight = response.context["result"].steps[0]
    assert preflight.kind == "preflight"
    request_line, *header_lines = sent.splitlines()
    assert request_line == f"{preflight.method} /api/orders/"
    assert header_lines == [f"{k}: {v}" for k, v in preflight.request_headers]
    status_line, *header_lines = answered.splitlines()
    assert status_line == f"HTTP {preflight.explanation.status}"
    assert header_lines == [f"{k}: {v}" for k, v in preflight.response_headers]
