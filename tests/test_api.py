"""The REST API: policies CRUD, normalization, validation messages, warnings, filters,
pagination, history (LogEntry), and the check/ endpoint agreeing with the middleware."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from cors_admin import cache
from cors_admin.models import CorsOrigin, CorsPolicy
from tests.factories import CorsOriginFactory, CorsPolicyFactory, UserFactory, policy_with_origins

pytestmark = pytest.mark.django_db

LIST = "/api/cors/policies/"
CHECK = "/api/cors/check/"


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


@pytest.fixture
def admin_user() -> Any:
    return UserFactory(username="ops", is_staff=True, is_superuser=True)


@pytest.fixture
def api(admin_user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def create(api: APIClient, **data: Any) -> dict[str, Any]:
    data.setdefault("name", "api")
    data.setdefault("path", "/api/")
    response = api.post(LIST, data, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# -- CRUD -----------------------------------------------------------------------------


def test_create_returns_every_field(api: APIClient) -> None:
    body = create(api, origins=["https://app.example.com"], description="SPA")
    assert set(body) == {
        "id",
        "name",
        "description",
        "path",
        "path_type",
        "priority",
        "enabled",
        "allow_all_origins",
        "origins",
        "origin_entries",
        "allow_credentials",
        "allow_methods",
        "allow_headers",
        "expose_headers",
        "max_age",
        "allow_private_network",
        "created_at",
        "updated_at",
        "warnings",
    }
    assert body["origins"] == ["https://app.example.com"]
    assert body["origin_entries"] == [
        {"origin": "https://app.example.com", "note": "", "expires_at": None}
    ]
    # Model defaults for what was not sent.
    assert body["path_type"] == "prefix"
    assert body["priority"] == 100
    assert body["enabled"] is True
    assert body["allow_methods"] == ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    assert body["allow_headers"] == [
        "accept",
        "authorization",
        "content-type",
        "user-agent",
        "x-csrftoken",
        "x-requested-with",
    ]
    assert body["expose_headers"] == []
    assert body["max_age"] is None
    assert body["warnings"] == []
    policy = CorsPolicy.objects.get(pk=body["id"])
    assert policy.description == "SPA"
    assert list(policy.origins.values_list("origin", flat=True)) == ["https://app.example.com"]


def test_retrieve_list_update_partial_update_delete(api: APIClient) -> None:
    body = create(api, origins=["https://a.example.com"])
    pk = body["id"]

    got = api.get(detail(pk)).json()
    assert got == body

    listed = api.get(LIST).json()
    assert listed["count"] == 1
    assert listed["results"] == [body]

    full = {
        "name": "api-v2",
        "path": "/v2/",
        "path_type": "prefix",
        "priority": 5,
        "enabled": False,
        "allow_all_origins": False,
        "origins": ["https://b.example.com"],
        "allow_credentials": True,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type"],
        "expose_headers": ["x-request-id"],
        "max_age": 600,
        "allow_private_network": True,
        "description": "replaced",
    }
    put = api.put(detail(pk), full, format="json")
    assert put.status_code == 200, put.json()
    assert {k: put.json()[k] for k in full} == full

    patch = api.patch(detail(pk), {"enabled": True}, format="json")
    assert patch.status_code == 200
    assert patch.json()["enabled"] is True
    assert patch.json()["origins"] == ["https://b.example.com"]  # untouched by the PATCH

    deleted = api.delete(detail(pk))
    assert deleted.status_code == 204
    assert not CorsPolicy.objects.exists()
    assert not CorsOrigin.objects.exists()
    assert api.get(detail(pk)).status_code == 404


def test_put_of_the_body_read_back_changes_nothing(api: APIClient) -> None:
    body = create(api, origin_entries=[{"origin": "https://a.example.com", "note": "kept"}])
    again = api.put(detail(body["id"]), body, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["origin_entries"] == body["origin_entries"]
    assert again.json()["updated_at"] == body["updated_at"]


# -- normalization -----------------------------------------------------------------------


def test_origins_are_normalized_and_read_back_canonical(api: APIClient) -> None:
    body = create(
        api,
        origins=[
            "HTTPS://App.Example.COM:443",
            "http://LOCALHOST:*",
            "https://*.Example.org",
            "NULL",
            "https://bücher.example",
        ],
    )
    assert body["origins"] == [
        "http://localhost:*",
        "https://*.example.org",
        "https://app.example.com",
        "https://xn--bcher-kva.example",
        "null",
    ]
    stored = sorted(CorsOrigin.objects.values_list("origin", flat=True))
    assert stored == sorted(body["origins"])


def test_methods_and_headers_are_normalized(api: APIClient) -> None:
    body = create(
        api,
        allow_methods=["GET", " POST ", "GET"],
        allow_headers=["Content-Type", "X-Api-Key", "content-type"],
        expose_headers=["X-Request-Id"],
    )
    assert body["allow_methods"] == ["GET", "POST"]
    assert body["allow_headers"] == ["content-type", "x-api-key"]
    assert body["expose_headers"] == ["x-request-id"]
    policy = CorsPolicy.objects.get()
    assert policy.allow_headers == ["content-type", "x-api-key"]


def test_replacing_origins_keeps_notes_and_expiry_of_entries_that_stay(api: APIClient) -> None:
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = create(
        api,
        origin_entries=[
            {"origin": "https://a.example.com", "note": "partner A", "expires_at": expires},
            {"origin": "https://b.example.com", "note": "partner B"},
        ],
    )
    response = api.patch(
        detail(body["id"]),
        {"origins": ["https://A.example.com", "https://c.example.com"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    entries = {e["origin"]: e for e in response.json()["origin_entries"]}
    assert set(entries) == {"https://a.example.com", "https://c.example.com"}
    assert entries["https://a.example.com"]["note"] == "partner A"
    assert entries["https://a.example.com"]["expires_at"] == expires.isoformat().replace(
        "+00:00", "Z"
    )
    assert entries["https://c.example.com"] == {
        "origin": "https://c.example.com",
        "note": "",
        "expires_at": None,
    }
    a = CorsOrigin.objects.get(origin="https://a.example.com")
    assert a.note == "partner A"
    assert a.expires_at == expires


def test_origin_entries_omitted_keys_keep_stored_values_explicit_ones_replace(
    api: APIClient,
) -> None:
    expires = timezone.now() + timedelta(days=3)
    body = create(
        api,
        origin_entries=[{"origin": "https://a.example.com", "note": "n", "expires_at": expires}],
    )
    pk = body["id"]
    kept = api.patch(
        detail(pk), {"origin_entries": [{"origin": "https://a.example.com"}]}, format="json"
    ).json()
    assert kept["origin_entries"][0]["note"] == "n"
    assert kept["origin_entries"][0]["expires_at"] is not None
    cleared = api.patch(
        detail(pk),
        {"origin_entries": [{"origin": "https://a.example.com", "note": "", "expires_at": None}]},
        format="json",
    ).json()
    assert cleared["origin_entries"] == [
        {"origin": "https://a.example.com", "note": "", "expires_at": None}
    ]


def test_origins_and_origin_entries_together_must_agree(api: APIClient) -> None:
    body = create(api, origins=["https://a.example.com"])
    agreeing = api.patch(
        detail(body["id"]),
        {
            "origins": ["https://a.example.com"],
            "origin_entries": [{"origin": "HTTPS://A.example.com", "note": "x"}],
        },
        format="json",
    )
    assert agreeing.status_code == 200
    assert agreeing.json()["origin_entries"][0]["note"] == "x"
    conflicting = api.patch(
        detail(body["id"]),
        {
            "origins": ["https://a.example.com", "https://b.example.com"],
            "origin_entries": [{"origin": "https://a.example.com"}],
        },
        format="json",
    )
    assert conflicting.status_code == 400
    assert "list different entries" in conflicting.json()["origin_entries"][0]
    assert CorsOrigin.objects.count() == 1


# -- validation messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"name": ""}, "name", "may not be blank"),
        ({"path": "api/"}, "path", "starts with '/'"),
        ({"path": "/api/?x=1"}, "path", "query string"),
        ({"path": "^/api/(", "path_type": "regex"}, "path", "does not compile"),
        ({"path": "/a{99999999999}", "path_type": "regex"}, "path", "too large"),
        ({"path_type": "glob"}, "path_type", "not a valid choice"),
        ({"allow_all_origins": True, "allow_credentials": True}, "allow_credentials", "Origin: *"),
        (
            {"allow_credentials": True, "expose_headers": ["*"]},
            "expose_headers",
            "literally",
        ),
        ({"allow_headers": ["*", "x-a"]}, "allow_headers", "'*' alone"),
        ({"allow_methods": ["*"]}, "allow_methods", "'*' is not accepted"),
        ({"allow_methods": []}, "allow_methods", "cannot be blank"),
        ({"allow_headers": ["bad header"]}, "allow_headers", "not a valid HTTP token"),
        ({"max_age": -1}, "max_age", "greater than or equal to 0"),
        ({"priority": "high"}, "priority", "valid integer"),
        ({"origins": "https://a.example.com"}, "origins", "list"),
    ],
)
def test_field_errors(api: APIClient, data: dict[str, Any], field: str, fragment: str) -> None:
    payload = {"name": "p", "path": "/api/", **data}
    response = api.post(LIST, payload, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors
    assert not CorsPolicy.objects.exists()


def test_every_field_error_is_reported_at_once(api: APIClient) -> None:
    response = api.post(
        LIST,
        {
            "name": "p",
            "path": "api",
            "origins": ["https://a.example.com/"],
            "allow_headers": ["a b"],
            "allow_methods": ["*"],
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"path", "origins", "allow_headers", "allow_methods"}


def test_null_origin_with_credentials_is_refused(api: APIClient) -> None:
    response = api.post(
        LIST,
        {"name": "p", "origins": ["null"], "allow_credentials": True},
        format="json",
    )
    assert response.status_code == 400
    assert "'null' origin cannot be combined with credentials" in response.json()["origins"][0]
    # Also when credentials are turned on later for a policy that already lists null.
    policy = policy_with_origins("null", name="q")
    response = api.patch(detail(policy.pk), {"allow_credentials": True}, format="json")
    assert response.status_code == 400
    assert "origins" in response.json()
    policy.refresh_from_db()
    assert policy.allow_credentials is False


def test_duplicate_name_is_refused(api: APIClient) -> None:
    create(api, name="api")
    response = api.post(LIST, {"name": "api"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["CORS policy with this name already exists."]}


def test_origin_errors_are_reported_per_item(api: APIClient) -> None:
    response = api.post(
        LIST,
        {
            "name": "p",
            "origins": [
                "https://ok.example.com",
                "https://app.example.com/",
                "https://*.com",
                "https://OK.example.com",
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["origins"]
    assert set(errors) == {"1", "2", "3"}  # 0-based positions, as DRF reports list items
    assert "Remove the trailing slash" in errors["1"][0]
    assert "public suffix" in errors["2"][0]
    assert "listed twice" in errors["3"][0]
    assert not CorsPolicy.objects.exists()


def test_origin_entry_errors_are_reported_per_entry(api: APIClient) -> None:
    response = api.post(
        LIST,
        {
            "name": "p",
            "origin_entries": [
                {"origin": "https://a.example.com"},
                {"origin": "https://a.example.com/x", "expires_at": "tomorrow"},
                {"origin": "https://A.example.com"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["origin_entries"]
    assert set(errors) == {"1", "2"}  # 0-based positions, like origins
    assert "contains a path" in errors["1"]["origin"][0]
    assert "Datetime has wrong format" in errors["1"]["expires_at"][0]
    assert errors["2"] == {"origin": ["'https://a.example.com' is listed twice (same as entry 1)."]}
    missing = api.post(LIST, {"name": "p", "origin_entries": [{"note": "x"}]}, format="json")
    assert missing.json() == {"origin_entries": {"0": {"origin": ["This field is required."]}}}
    not_a_list = api.post(LIST, {"name": "p", "origin_entries": {"origin": "x"}}, format="json")
    assert "Expected a list" in not_a_list.json()["origin_entries"]["non_field_errors"][0]
    assert not CorsPolicy.objects.exists()


def test_failed_write_changes_nothing(api: APIClient) -> None:
    body = create(api, origins=["https://a.example.com"], priority=7)
    response = api.put(
        detail(body["id"]),
        {"name": "api", "priority": 1, "origins": ["https://b.example.com", "nope"]},
        format="json",
    )
    assert response.status_code == 400
    assert api.get(detail(body["id"])).json() == body
    assert LogEntry.objects.filter(action_flag=CHANGE).count() == 0


# -- warnings ------------------------------------------------------------------------------


def test_warnings_come_with_a_successful_write(api: APIClient) -> None:
    body = create(
        api,
        origins=["http://app.example.com", "https://*.example.org"],
        allow_credentials=True,
        max_age=9000,
    )
    text = " | ".join(body["warnings"])
    assert "plain-HTTP origins (http://app.example.com)" in text
    assert "wildcard entries (https://*.example.org)" in text
    assert "above Chromium's cap of 7200 s" in text
    fixed = api.patch(
        detail(body["id"]),
        {"origins": ["https://app.example.com"], "allow_credentials": False, "max_age": 600},
        format="json",
    ).json()
    assert fixed["warnings"] == []


def test_warnings_mention_allow_all_and_expired_entries(api: APIClient) -> None:
    past = timezone.now() - timedelta(days=1)
    body = create(
        api,
        allow_all_origins=True,
        origin_entries=[{"origin": "https://old.example.com", "expires_at": past}],
    )
    text = " | ".join(body["warnings"])
    assert "allows all origins" in text
    assert "already expired and match nothing: https://old.example.com" in text


# -- filters, search, pagination -------------------------------------------------------------


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [p["name"] for p in response.json()["results"]]


def test_filter_by_enabled(api: APIClient) -> None:
    CorsPolicyFactory(name="on", enabled=True)
    CorsPolicyFactory(name="off", enabled=False)
    assert names(api.get(LIST, {"enabled": "true"})) == ["on"]
    assert names(api.get(LIST, {"enabled": "false"})) == ["off"]
    bad = api.get(LIST, {"enabled": "maybe"})
    assert bad.status_code == 400
    assert bad.json() == {"enabled": ["Enter true or false."]}


def test_filter_by_origin_uses_the_engine(api: APIClient) -> None:
    past = timezone.now() - timedelta(hours=1)
    policy_with_origins("https://app.example.com", name="exact", path="/a/")
    policy_with_origins("https://*.example.com", name="wildcard", path="/b/")
    policy_with_origins("http://localhost:*", name="port", path="/c/")
    CorsPolicyFactory(name="all", path="/d/", allow_all_origins=True)
    policy_with_origins("https://other.example.net", name="other", path="/e/")
    policy_with_origins("https://app.example.com", name="disabled", path="/f/", enabled=False)
    expired = CorsPolicyFactory(name="expired", path="/g/")
    CorsOriginFactory(policy=expired, origin="https://app.example.com", expires_at=past)
    policy_with_origins("null", name="null", path="/h/")
    policy_with_origins("null", "https://x.example.net", name="null-cred", path="/i/")
    CorsPolicy.objects.filter(name="null-cred").update(allow_credentials=True)

    assert sorted(names(api.get(LIST, {"origin": "https://app.example.com"}))) == [
        "all",
        "disabled",
        "exact",
        "wildcard",
    ]
    assert sorted(names(api.get(LIST, {"origin": "https://app.example.com", "enabled": "1"}))) == [
        "all",
        "exact",
        "wildcard",
    ]
    # Normalized first, like an entry.
    assert "exact" in names(api.get(LIST, {"origin": "HTTPS://App.Example.com:443"}))
    assert sorted(names(api.get(LIST, {"origin": "https://deep.sub.example.com"}))) == [
        "all",
        "wildcard",
    ]
    assert sorted(names(api.get(LIST, {"origin": "https://example.com"}))) == ["all"]
    assert sorted(names(api.get(LIST, {"origin": "http://localhost:5173"}))) == ["all", "port"]
    # null never matches a policy with credentials (the engine's rule).
    assert sorted(names(api.get(LIST, {"origin": "null"}))) == ["all", "null"]
    # A wildcard pattern finds the policies listing that very entry (or allowing all).
    assert sorted(names(api.get(LIST, {"origin": "https://*.example.com"}))) == [
        "all",
        "wildcard",
    ]
    bad = api.get(LIST, {"origin": "https://app.example.com/path"})
    assert bad.status_code == 400
    assert "contains a path" in bad.json()["origin"][0]


def test_search_by_name_and_path(api: APIClient) -> None:
    CorsPolicyFactory(name="partner-portal", path="/partners/")
    CorsPolicyFactory(name="spa", path="/api/v2/")
    CorsPolicyFactory(name="admin-tools", path="/tools/")
    assert names(api.get(LIST, {"search": "partner"})) == ["partner-portal"]
    assert names(api.get(LIST, {"search": "/api/v2"})) == ["spa"]
    assert names(api.get(LIST, {"search": "nothing"})) == []
    refused = api.get(LIST, {"search": "a\x00b"})
    assert refused.status_code == 400
    assert refused.json() == {"search": ["Null characters are not allowed."]}


def test_ordering_and_pagination(api: APIClient) -> None:
    for i in range(55):
        CorsPolicyFactory(name=f"p{i:02d}", path=f"/p{i}/", priority=100 - i)
    first = api.get(LIST).json()
    assert first["count"] == 55
    assert len(first["results"]) == 50  # PAGE_SIZE of the project's DRF settings
    assert first["results"][0]["name"] == "p54"  # lowest priority value first
    assert first["next"].endswith("?page=2")
    second = api.get(first["next"]).json()
    assert [p["name"] for p in second["results"]] == ["p04", "p03", "p02", "p01", "p00"]
    by_name = api.get(LIST, {"ordering": "name"}).json()
    assert by_name["results"][0]["name"] == "p00"


def test_list_makes_a_fixed_number_of_queries(
    api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        policy_with_origins(f"https://a{i}.example.com", f"https://b{i}.example.com", name=f"p{i}")
    api.get(LIST)  # loads the middleware's snapshot
    with django_assert_max_num_queries(3):  # count, policies, their entries
        response = api.get(LIST)
    assert response.json()["count"] == 30
    assert len(response.json()["results"][29]["origins"]) == 2


def _write_while_another_transaction_changes(
    pk: int, other: dict[str, Any], method: str, body: dict[str, Any], user: Any
) -> Any:
    """``method`` on the policy while another transaction, which locked the row first,
    changes ``other``: the API's write waits for it and must see what it wrote."""
    locked, response = threading.Event(), {}

    def holder() -> None:
        try:
            with transaction.atomic():
                CorsPolicy.objects.select_for_update().filter(pk=pk).first()
                locked.set()
                deadline = time.monotonic() + 10
                with connection.cursor() as cursor:
                    while time.monotonic() < deadline:  # until the API's request waits
                        cursor.execute("SELECT pg_stat_clear_snapshot()")  # fresh each time
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.01)
                CorsPolicy.objects.filter(pk=pk).update(**other)
        finally:
            connections.close_all()

    def writer() -> None:
        try:
            client = APIClient()
            client.force_authenticate(user)
            response["r"] = getattr(client, method)(detail(pk), body, format="json")
        finally:
            connections.close_all()

    first = threading.Thread(target=holder)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=writer)
    second.start()
    first.join(20)
    second.join(20)
    return response["r"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_to_one_policy_see_each_other(admin_user: Any) -> None:
    policy = policy_with_origins("https://a.example.com", name="api", description="old")
    # A field the other transaction changed is not written back with its old value ...
    response = _write_while_another_transaction_changes(
        policy.pk, {"description": "new"}, "patch", {"priority": 5}, admin_user
    )
    assert response.status_code == 200, response.json()
    assert response.json()["description"] == "new"
    policy.refresh_from_db()
    assert (policy.description, policy.priority) == ("new", 5)
    # ... and the write is validated against what the other transaction wrote.
    response = _write_while_another_transaction_changes(
        policy.pk, {"allow_credentials": True}, "patch", {"origins": ["null"]}, admin_user
    )
    assert response.status_code == 400
    assert "cannot be combined with credentials" in response.json()["origins"][0]
    assert list(policy.origins.values_list("origin", flat=True)) == ["https://a.example.com"]


_READS_ENTRIES_OF_POLICIES = (
    'FROM "cors_admin_corsorigin" WHERE "cors_admin_corsorigin"."policy_id"'
)


def _queries(api: APIClient, n: int) -> dict[str, tuple[int, int]]:
    """(queries, reads of the allowlist) of each kind of request, for a policy of n origins."""
    policy = policy_with_origins(*[f"https://a{i}.n{n}.example" for i in range(n)], name=f"p{n}")
    new = [f"https://b{i}.n{n}.example" for i in range(n)]
    requests = {
        "retrieve": lambda: api.get(detail(policy.pk)),
        "patch": lambda: api.patch(detail(policy.pk), {"priority": 5}, format="json"),
        "patch origins": lambda: api.patch(detail(policy.pk), {"origins": new}, format="json"),
        "put": lambda: api.put(
            detail(policy.pk),
            {"name": f"p{n}", "path": "/v2/", "origins": [f"https://c.n{n}.example"]},
            format="json",
        ),
        "create": lambda: api.post(LIST, {"name": f"q{n}", "origins": new}, format="json"),
    }
    counts = {}
    for kind, request in requests.items():
        with CaptureQueriesContext(connection) as queries:
            response = request()
        assert response.status_code in (200, 201), response.json()
        entry_reads = [q for q in queries if _READS_ENTRIES_OF_POLICIES in q["sql"]]
        counts[kind] = (len(queries), len(entry_reads))
    return counts


def test_reads_and_writes_make_a_fixed_number_of_queries(api: APIClient) -> None:
    api.get(LIST)  # loads the middleware's snapshot
    _queries(api, 0)  # and the content type of the history entries
    small, large = _queries(api, 1), _queries(api, 25)
    assert small == large
    # The allowlist is read once to answer (on writes: once more, under the row lock, before).
    assert {kind: reads for kind, (_, reads) in large.items()} == {
        "retrieve": 1,
        "patch": 2,
        "patch origins": 2,
        "put": 2,
        "create": 1,
    }


# -- history -------------------------------------------------------------------------------


def test_every_write_is_recorded_in_the_admin_history(api: APIClient, admin_user: Any) -> None:
    content_type = ContentType.objects.get_for_model(CorsPolicy)
    body = create(api, origins=["https://a.example.com"])
    pk = body["id"]
    api.patch(
        detail(pk),
        {"priority": 5, "origins": ["https://b.example.com"]},
        format="json",
    )
    api.delete(detail(pk))
    entries = list(LogEntry.objects.order_by("pk"))
    assert [e.action_flag for e in entries] == [ADDITION, CHANGE, DELETION]
    assert {e.user_id for e in entries} == {admin_user.pk}
    assert {e.content_type_id for e in entries} == {content_type.pk}
    assert {e.object_id for e in entries} == {str(pk)}
    assert entries[0].get_change_message() == (
        "Added. Added allowed origin “https://a.example.com”."
    )
    assert entries[1].get_change_message() == (
        "Changed Priority. Added allowed origin “https://b.example.com”. "
        "Deleted allowed origin “https://a.example.com”."
    )
    assert entries[2].object_repr == "api"


# -- check/ ----------------------------------------------------------------------------------


def check(api: APIClient, **data: Any) -> dict[str, Any]:
    response = api.post(CHECK, data, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_check_explains_allowed_and_denied_requests(api: APIClient) -> None:
    policy_with_origins(
        "https://app.example.com",
        name="api",
        allow_methods=["GET", "POST"],
        allow_credentials=True,
        max_age=600,
    )
    allowed = check(api, origin="https://app.example.com", path="/api/items/")
    assert allowed == {
        "allowed": True,
        "covered": True,
        "preflight": False,
        "policy": "api",
        "policy_id": CorsPolicy.objects.get().pk,
        "reason": "request from origin 'https://app.example.com' allowed by policy 'api'",
        "status": None,
        "headers": {
            "Access-Control-Allow-Origin": "https://app.example.com",
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        },
    }
    denied = check(api, origin="https://evil.example", path="/api/items/")
    assert denied["allowed"] is False
    assert (
        denied["reason"] == "origin 'https://evil.example' is not in the allowlist of policy 'api'"
    )
    assert denied["headers"] == {"Vary": "Origin"}

    preflight = check(api, origin="https://app.example.com", path="/api/items/", method="PATCH")
    assert preflight["preflight"] is True
    assert preflight["allowed"] is False
    assert preflight["status"] == 403
    assert preflight["reason"].startswith("method PATCH is not allowed by policy 'api'")

    headers = check(
        api,
        origin="https://app.example.com",
        path="/api/items/",
        method="POST",
        request_headers=["Content-Type", "X-Secret"],
    )
    assert headers["reason"] == "request header 'x-secret' is not allowed by policy 'api'"

    ok = check(
        api,
        origin="https://app.example.com",
        path="/api/items/",
        method="POST",
        request_headers="content-type",
    )
    assert ok["allowed"] is True
    assert ok["status"] == 204
    assert ok["headers"]["Access-Control-Max-Age"] == "600"

    uncovered = check(api, origin="https://app.example.com", path="/other/")
    assert uncovered["covered"] is False
    assert uncovered["policy"] is None
    assert uncovered["headers"] == {}


def test_check_validates_its_input(api: APIClient) -> None:
    response = api.post(CHECK, {"origin": "https://a.example.com"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"path": ["This field is required."]}
    response = api.post(
        CHECK, {"path": "https://api.example.com/x", "method": "GE T"}, format="json"
    )
    assert response.status_code == 400
    assert "starting with '/'" in response.json()["path"][0]
    assert "HTTP method" in response.json()["method"][0]
    response = api.post(CHECK, {"path": "/", "request_headers": 5}, format="json")
    assert "comma-separated" in response.json()["request_headers"][0]


def test_check_sees_an_api_write_at_once(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    assert check(api, origin="https://app.example.com", path="/api/x")["covered"] is False
    with django_capture_on_commit_callbacks(execute=True):
        create(api, origins=["https://app.example.com"])
    assert check(api, origin="https://app.example.com", path="/api/x")["allowed"] is True


MIDDLEWARE_CASES: list[dict[str, Any]] = [
    {"origin": "https://app.example.com", "path": "/api/demo/hello/"},
    {"origin": "https://app.example.com", "path": "/api/demo/hello/", "method": "POST"},
    {"origin": "https://sub.partner.example", "path": "/api/demo/hello/"},
    {"origin": "https://evil.example", "path": "/api/demo/hello/"},
    {"origin": "HTTPS://APP.EXAMPLE.COM", "path": "/api/demo/hello/"},
    {"origin": "null", "path": "/api/demo/hello/"},
    {"origin": None, "path": "/api/demo/hello/"},
    {"origin": "https://app.example.com", "path": "/public/x"},
    {"origin": "https://anything.example", "path": "/public/x"},
    {"origin": "https://app.example.com", "path": "/nowhere/"},
    {"origin": "https://app.example.com", "path": "/api/demo/hello/", "method": "PUT"},
    {"origin": "https://app.example.com", "path": "/api/demo/hello/", "method": "DELETE"},
    {
        "origin": "https://app.example.com",
        "path": "/api/demo/hello/",
        "method": "POST",
        "request_headers": "content-type, x-requested-with",
    },
    {
        "origin": "https://app.example.com",
        "path": "/api/demo/hello/",
        "method": "POST",
        "request_headers": "x-forbidden",
    },
    {
        "origin": "https://sub.partner.example",
        "path": "/api/demo/hello/",
        "method": "PATCH",
        "request_headers": "authorization",
    },
    {"origin": "https://app.example.com", "path": "/public/x", "method": "PUT"},
    {
        "origin": "https://app.example.com",
        "path": "/api/demo/hello/",
        "method": "OPTIONS",
        "request_method": "GET",
        "private_network": True,
    },
]


def _middleware_view(case: dict[str, Any]) -> dict[str, Any]:
    """The same request made for real through the middleware, as a browser would send it."""
    method = case.get("method", "GET")
    headers: dict[str, str] = {}
    if case["origin"] is not None:
        headers["HTTP_ORIGIN"] = case["origin"]
    simple = method in ("GET", "HEAD", "POST") and not case.get("request_headers")
    if method == "OPTIONS" or (case["origin"] is not None and not simple):
        headers["HTTP_ACCESS_CONTROL_REQUEST_METHOD"] = case.get("request_method") or method
        if case.get("request_headers"):
            headers["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"] = case["request_headers"]
        if case.get("private_network"):
            headers["HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"] = "true"
        method = "OPTIONS"
    response = Client().generic(method, case["path"], **headers)
    cors = {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    }
    preflight = method == "OPTIONS"
    return {
        "allowed": "Access-Control-Allow-Origin" in cors,
        "headers": cors,
        "vary": response.headers.get("Vary", ""),
        "status": response.status_code if preflight else None,
    }


@pytest.mark.parametrize("case", MIDDLEWARE_CASES, ids=lambda c: str(sorted(c.items())))
def test_check_agrees_with_the_middleware(api: APIClient, case: dict[str, Any]) -> None:
    policy_with_origins(
        "https://app.example.com",
        "https://*.partner.example",
        "null",
        name="demo",
        path="/api/demo/",
        allow_methods=["GET", "POST", "PATCH"],
        allow_headers=["content-type", "x-requested-with", "authorization"],
        expose_headers=["x-request-id"],
        max_age=300,
        allow_private_network=True,
    )
    CorsPolicyFactory(name="public", path="/public/", allow_all_origins=True)
    cache.reset()
    explained = check(api, **case)
    real = _middleware_view(case)
    assert explained["allowed"] == real["allowed"], (explained, real)
    expected = {k: v for k, v in explained["headers"].items() if k != "Vary"}
    assert expected == real["headers"]
    vary = explained["headers"].get("Vary")
    real_vary = [v.strip() for v in real["vary"].split(",") if v.strip()]
    if vary:
        for name in vary.split(", "):
            assert name in real_vary
    else:
        assert "Origin" not in real_vary
    if explained["preflight"]:
        assert explained["status"] == real["status"]
