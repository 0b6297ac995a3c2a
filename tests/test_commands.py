"""Management commands: cors_explain, cors_export, cors_import, cors_import_settings."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory, override_settings
from django.utils import timezone

from cors_admin import cache
from cors_admin.engine import PolicySpec, compile_policies
from cors_admin.explain import explain
from cors_admin.management.commands.cors_import_settings import (
    Untranslatable,
    translate_origin_regex,
    translate_settings,
    translate_urls_regex,
)
from cors_admin.models import CorsOrigin, CorsPolicy
from cors_admin.transfer import export_document
from tests.factories import CorsOriginFactory, CorsPolicyFactory, policy_with_origins

pytestmark = pytest.mark.django_db


def run(*args: Any, stdin: str | None = None, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            call_command(*args, stdout=out, stderr=err, **options)
        finally:
            sys.stdin = old
    else:
        call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def bumps(callbacks: list[Any]) -> int:
    return sum(1 for c in callbacks if getattr(c, "_cors_admin_bump", False))


# -- cors_explain ------------------------------------------------------------------------


def test_explain_prints_the_decision_and_headers() -> None:
    policy_with_origins("https://app.example.com", name="api", allow_credentials=True)
    out, _ = run("cors_explain", "--origin", "https://app.example.com", "--path", "/api/items/")
    assert "ALLOWED (request)" in out
    assert "Policy:  api" in out
    assert "Reason:  request from origin 'https://app.example.com' allowed by policy 'api'" in out
    assert "  Access-Control-Allow-Origin: https://app.example.com" in out
    assert "  Access-Control-Allow-Credentials: true" in out
    assert "  Vary: Origin" in out


def test_explain_preflight_with_headers_and_json() -> None:
    policy_with_origins("https://app.example.com", name="api", allow_headers=["content-type"])
    out, _ = run(
        "cors_explain",
        "--origin=https://app.example.com",
        "--path=/api/items/",
        "--method=PUT",
        "--header=Content-Type",
        "--header=X-Secret",
        "--json",
    )
    data = json.loads(out)
    assert (
        data
        == explain(
            "https://app.example.com", "/api/items/", "PUT", "Content-Type, X-Secret"
        ).as_dict()
    )
    assert data["preflight"] is True
    assert data["status"] == 403
    assert data["reason"] == "request header 'x-secret' is not allowed by policy 'api'"


def test_explain_uncovered_path_and_missing_origin() -> None:
    out, _ = run("cors_explain", "--path", "/nothing/")
    assert "NOT ALLOWED" in out
    assert "(none: no enabled policy covers the path)" in out
    assert "Headers: (no CORS headers)" in out


# -- cors_export -------------------------------------------------------------------------


def some_policies() -> None:
    soon = timezone.now() + timedelta(days=10)
    past = timezone.now() - timedelta(days=1)
    api = policy_with_origins(
        "https://app.example.com",
        "https://*.example.org",
        name="api",
        path="/api/",
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH"],
        allow_headers=["content-type", "authorization"],
        expose_headers=["x-request-id"],
        max_age=600,
        description="the SPA",
    )
    CorsOriginFactory(
        policy=api, origin="https://partner.example.net", note="partner", expires_at=soon
    )
    CorsOriginFactory(policy=api, origin="https://old.example.net", expires_at=past)
    policy_with_origins("http://localhost:*", "null", name="dev", path="/api/dev/", priority=10)
    CorsPolicyFactory(name="public", path="/public/", allow_all_origins=True, allow_headers=["*"])
    CorsPolicyFactory(name="exact", path="/api/ping", path_type="exact", priority=50)
    policy_with_origins(
        "https://app.example.com",
        name="regex",
        path=r"/files/\d+/",
        path_type="regex",
        allow_private_network=True,
    )
    policy_with_origins("https://app.example.com", name="off", path="/", enabled=False)


REQUESTS: list[tuple[Any, ...]] = [
    (origin, path, method, headers)
    for origin in (
        "https://app.example.com",
        "https://a.b.example.org",
        "https://partner.example.net",
        "https://old.example.net",
        "http://localhost:3000",
        "null",
        "https://evil.example",
        None,
    )
    for path in ("/api/x", "/api/dev/x", "/public/y", "/api/ping", "/files/12/", "/other")
    for method, headers in (("GET", None), ("PATCH", "content-type"), ("DELETE", "x-secret"))
]


def explanations() -> list[dict[str, Any]]:
    cache.reset()
    results = []
    for origin, path, method, headers in REQUESTS:
        data = explain(origin, path, method, headers).as_dict()
        data.pop("policy_id")  # ids differ after an import into an empty database
        results.append(data)
    return results


def test_export_writes_the_api_representation_without_ids_sorted_by_name(
    tmp_path: Path,
) -> None:
    some_policies()
    out, _ = run("cors_export")
    document = json.loads(out)
    assert document["format"] == "cors_admin.policies"
    assert document["version"] == 1
    names = [p["name"] for p in document["policies"]]
    assert names == sorted(names) == ["api", "dev", "exact", "off", "public", "regex"]
    api = document["policies"][0]
    assert "id" not in api and "created_at" not in api and "warnings" not in api
    assert api["origins"] == [
        "https://*.example.org",
        "https://app.example.com",
        "https://old.example.net",
        "https://partner.example.net",
    ]
    partner = next(e for e in api["origin_entries"] if e["origin"] == "https://partner.example.net")
    assert partner["note"] == "partner"
    assert partner["expires_at"] is not None
    assert api["allow_methods"] == ["GET", "POST", "PATCH"]
    assert api["max_age"] == 600
    # --output writes the same document; exporting twice gives the same bytes.
    target = tmp_path / "policies.json"
    _, err = run("cors_export", "--output", str(target))
    assert "Exported 6 policies" in err
    assert json.loads(target.read_text()) == document
    assert run("cors_export")[0] == out


def test_export_then_import_into_an_empty_database_behaves_identically(tmp_path: Path) -> None:
    some_policies()
    before = explanations()
    assert any(e["allowed"] for e in before) and not all(e["allowed"] for e in before)
    target = tmp_path / "policies.json"
    run("cors_export", "--output", str(target))
    exported = json.loads(target.read_text())

    CorsPolicy.objects.all().delete()
    assert explanations() != before

    out, _ = run("cors_import", str(target))
    assert "6 created, 0 updated, 0 unchanged" in out
    assert explanations() == before
    again = export_document()
    assert again == exported


# -- cors_import ---------------------------------------------------------------------------


def write(tmp_path: Path, policies: Any, name: str = "in.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(policies))
    return str(path)


def doc(*policies: dict[str, Any]) -> dict[str, Any]:
    return {"format": "cors_admin.policies", "version": 1, "policies": list(policies)}


def test_import_is_idempotent_by_name(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    document = doc(
        {"name": "a", "path": "/a/", "origins": ["HTTPS://A.example.com:443"]},
        {"name": "b", "path": "/b/", "allow_credentials": True, "max_age": 60},
        {"name": "c", "path": "/c/", "allow_all_origins": True},
    )
    path = write(tmp_path, document)
    with django_capture_on_commit_callbacks() as callbacks:
        out, _ = run("cors_import", path)
    assert "Imported: 3 created, 0 updated, 0 unchanged" in out
    assert bumps(callbacks) == 1  # one revision bump for the whole import
    assert list(CorsOrigin.objects.values_list("origin", flat=True)) == ["https://a.example.com"]
    stamps = dict(CorsPolicy.objects.values_list("name", "updated_at"))

    with django_capture_on_commit_callbacks() as callbacks:
        out, _ = run("cors_import", path)
    assert "Imported: 0 created, 0 updated, 3 unchanged" in out
    assert bumps(callbacks) == 0  # nothing written, nothing to bump
    assert dict(CorsPolicy.objects.values_list("name", "updated_at")) == stamps


def test_import_updates_what_differs_and_keeps_entry_notes(tmp_path: Path) -> None:
    policy = policy_with_origins("https://a.example.com", name="a", path="/a/")
    CorsOrigin.objects.filter(policy=policy).update(note="kept")
    CorsPolicyFactory(name="b", path="/b/", priority=5)
    CorsPolicyFactory(name="untouched", path="/u/")
    path = write(
        tmp_path,
        doc(
            {
                "name": "a",
                "path": "/a/",
                "origins": ["https://a.example.com", "https://n.example.com"],
            },
            {"name": "b", "path": "/b/", "priority": 7},
            {"name": "new", "path": "/new/"},
        ),
    )
    out, _ = run("cors_import", path, verbosity=2)
    assert "1 created, 2 updated, 0 unchanged" in out
    assert "  created: new" in out and "  updated: a" in out and "  updated: b" in out
    assert CorsPolicy.objects.get(name="b").priority == 7
    entries = dict(CorsOrigin.objects.filter(policy__name="a").values_list("origin", "note"))
    assert entries == {"https://a.example.com": "kept", "https://n.example.com": ""}
    assert CorsPolicy.objects.filter(name="untouched").exists()

    pruned, _ = run("cors_import", path, "--prune", verbosity=2)
    assert "0 created, 0 updated, 3 unchanged, 1 deleted" in pruned
    assert "  deleted: untouched" in pruned
    assert not CorsPolicy.objects.filter(name="untouched").exists()


def test_import_replaces_an_allowlist_entry_by_entry() -> None:
    from cors_admin.transfer import import_policies

    policy = policy_with_origins("https://a.example.com", "https://b.example.com", name="a")
    CorsOrigin.objects.filter(policy=policy).update(note="kept")
    expires = "2030-01-02T03:04:05Z"
    item = {
        "name": "a",
        "origin_entries": [
            {"origin": "https://a.example.com", "expires_at": expires},
            {"origin": "https://c.example.com", "note": "new"},
        ],
    }
    assert import_policies([item]).updated == ["a"]
    entries = {e.origin: e for e in CorsOrigin.objects.filter(policy=policy)}
    assert set(entries) == {"https://a.example.com", "https://c.example.com"}
    assert entries["https://a.example.com"].note == "kept"  # omitted: kept
    assert entries["https://a.example.com"].expires_at.isoformat() == "2030-01-02T03:04:05+00:00"
    assert entries["https://c.example.com"].note == "new"
    assert import_policies([item]).unchanged == ["a"]


def test_import_dry_run_writes_nothing(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    CorsPolicyFactory(name="b", path="/b/")
    path = write(
        tmp_path,
        doc({"name": "a", "origins": ["https://a.example.com"]}, {"name": "b", "path": "/bb/"}),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        out, _ = run("cors_import", path, "--dry-run")
    assert "Dry run, nothing written: 1 would be created, 1 would be updated, 0 unchanged" in out
    assert bumps(callbacks) == 0
    assert list(CorsPolicy.objects.values_list("name", "path")) == [("b", "/b/")]
    assert not CorsOrigin.objects.exists()


def test_an_invalid_policy_means_nothing_is_imported(tmp_path: Path) -> None:
    CorsPolicyFactory(name="existing", path="/e/", priority=1)
    path = write(
        tmp_path,
        doc(
            {"name": "good", "path": "/good/"},
            {"name": "existing", "path": "/e/", "priority": 2},
            {"name": "bad", "path": "api", "origins": ["https://ok.example.com", "https://*.com"]},
            {"name": "worse", "allow_all_origins": True, "allow_credentials": True},
            "not an object",
        ),
    )
    with pytest.raises(CommandError, match="3 of the policies have errors; nothing was imported"):
        run("cors_import", path)
    assert list(CorsPolicy.objects.values_list("name", "priority")) == [("existing", 1)]
    err_stream = io.StringIO()
    with pytest.raises(CommandError):
        call_command("cors_import", path, stdout=io.StringIO(), stderr=err_stream)
    lines = err_stream.getvalue().splitlines()
    bad = next(line for line in lines if line.startswith("policy 3 (bad): "))
    errors = json.loads(bad.split(": ", 1)[1])
    assert "starts with '/'" in errors["path"][0]
    assert "public suffix" in errors["origins"]["1"][0]
    assert any(
        line.startswith("policy 4 (worse): ") and "allow_credentials" in line for line in lines
    )
    assert any(line.startswith("policy 5: ") for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        (json.dumps({"format": "other"}), "nothing was imported"),
        (json.dumps({"policies": "x"}), "nothing was imported"),
        (json.dumps(doc({"name": "x"}, {"name": "x", "path": "/y/"})), "nothing was imported"),
    ],
)
def test_unreadable_documents_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=re.escape(message)):
        run("cors_import", str(path))
    assert not CorsPolicy.objects.exists()


def test_a_name_with_spaces_is_validated_against_the_policy_it_updates() -> None:
    from cors_admin.transfer import ImportFailed, import_policies

    policy_with_origins("https://a.example.com", name="api", allow_credentials=True)
    with pytest.raises(ImportFailed) as info:
        import_policies([{"name": " api ", "origins": ["null"]}])
    assert "cannot be combined with credentials" in str(info.value.errors["policy 1 ( api )"])
    assert list(CorsOrigin.objects.values_list("origin", flat=True)) == ["https://a.example.com"]
    result = import_policies([{"name": " api ", "priority": 3}])
    assert (result.created, result.updated) == ([], ["api"])
    assert CorsPolicy.objects.get().priority == 3


def test_duplicate_names_in_a_file_are_reported() -> None:
    from cors_admin.transfer import ImportFailed, import_policies

    with pytest.raises(ImportFailed) as info:
        import_policies([{"name": "x"}, {"name": "x", "path": "/y/"}])
    assert info.value.errors == {"policy 2 (x)": {"name": ["'x' is also the name of policy 1."]}}


def test_import_reads_stdin_and_bare_lists() -> None:
    out, _ = run("cors_import", "-", stdin=json.dumps([{"name": "s", "path": "/s/"}]))
    assert "1 created" in out
    with pytest.raises(CommandError, match=re.escape("Cannot read /nonexistent/file.json")):
        run("cors_import", "/nonexistent/file.json")


def test_import_uses_bulk_queries(tmp_path: Path, django_assert_max_num_queries: Any) -> None:
    policies = [
        {
            "name": f"p{i:04d}",
            "path": f"/p{i}/",
            "origins": [f"https://a{i}.example.com", f"https://*.b{i}.example.com"],
            "origin_entries": [
                {"origin": f"https://a{i}.example.com", "note": "n"},
                {"origin": f"https://*.b{i}.example.com"},
            ],
        }
        for i in range(300)
    ]
    path = write(tmp_path, doc(*policies))
    # A handful of queries, however many policies: reads, one insert per 500 rows, savepoints.
    with django_assert_max_num_queries(12):
        out, _ = run("cors_import", path)
    assert "300 created" in out
    assert CorsOrigin.objects.count() == 600
    assert CorsOrigin.objects.filter(note="n").count() == 300
    for item in policies[:150]:
        item["priority"] = 1
        item["origin_entries"][0]["note"] = "changed"
    path = write(tmp_path, doc(*policies))
    with django_assert_max_num_queries(12):
        out, _ = run("cors_import", path)
    assert "0 created, 150 updated, 150 unchanged" in out
    assert CorsOrigin.objects.filter(note="changed").count() == 150


# -- cors_import_settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "entries", "widened"),
    [
        (r"^https://app\.example\.com$", ["https://app.example.com"], False),
        (r"^https://\w+\.example\.com$", ["https://*.example.com"], True),
        (r"^https://[a-z0-9-]+\.example\.com$", ["https://*.example.com"], True),
        (r"\Ahttps://[^.]+\.example\.com\Z", ["https://*.example.com"], True),
        (r"^https://([a-z0-9-]+\.)+example\.com$", ["https://*.example.com"], False),
        (r"^https://.+\.example\.com$", ["https://*.example.com"], False),
        (
            r"^https?://(.*\.)?example\.com$",
            [
                "http://example.com",
                "http://*.example.com",
                "https://example.com",
                "https://*.example.com",
            ],
            False,
        ),
        (r"^http://localhost(:\d+)?$", ["http://localhost:*"], False),
        (r"^http://localhost:[0-9]+$", ["http://localhost:*"], True),
        (r"^https://[\w-]+\.example\.com:8443$", ["https://*.example.com:8443"], True),
        (re.compile(r"^https://App\.Example\.com$", re.I), ["https://app.example.com"], False),
    ],
)
def test_origin_regexes_that_translate(regex: Any, entries: list[str], widened: bool) -> None:
    got, differences = translate_origin_regex(regex)
    assert got == entries
    assert bool(differences) == widened


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"^https://\w+\.example\.com", "not anchored"),
        (r"https://app\.example\.com", "not anchored"),
        (r"^https://app.example.com$", "unescaped '.'"),
        (r"^https://(app|www)\.example\.com$", "not a literal domain"),
        (r"^https://.*$", "not a literal domain"),
        (r"^(https|ftp)://x\.com$", "scheme"),
        (re.compile(r"^https://x\.com$", re.X), "flags"),
    ],
)
def test_origin_regexes_that_do_not_translate(regex: Any, reason: str) -> None:
    with pytest.raises(Untranslatable, match=re.escape(reason)):
        translate_origin_regex(regex)


@pytest.mark.parametrize(
    ("regex", "path", "path_type"),
    [
        (r"^.*$", "/", "prefix"),
        (r"^/api/.*$", "/api/", "prefix"),
        (r"^/api/", "/api/", "prefix"),
        (r"^/api/$", "/api/", "exact"),
        (r"^/api", "/api.*", "regex"),
        (r"^/api/v\d+/.*$", r"/api/v\d+/.*", "regex"),
        (r"^/(api|graphql)/", "(?:^/(api|graphql)/).*", "regex"),
    ],
)
def test_urls_regex_translation(regex: str, path: str, path_type: str) -> None:
    got_path, got_type, _ = translate_urls_regex(regex)
    assert (got_path, got_type) == (path, path_type)
    # Same paths covered: django-cors-headers uses re.match, the engine its own matching.
    policies = compile_policies([PolicySpec(name="t", path=got_path, path_type=got_type)])
    for sample in ("/api/", "/api/x", "/apiary", "/api", "/graphql/q", "/api/v2/x", "/other"):
        cors_headers_covers = re.match(regex, sample) is not None
        assert (policies.match(sample) is not None) == cors_headers_covers, sample


def test_urls_regex_that_does_not_compile() -> None:
    with pytest.raises(Untranslatable, match="does not compile"):
        translate_urls_regex(r"^/api/(")


def test_import_settings_with_django_cors_headers_defaults() -> None:
    translation = translate_settings()
    assert translation.policy == {
        "name": "imported-from-settings",
        "description": "Imported from the django-cors-headers settings by cors_import_settings.",
        "allow_credentials": False,
        "allow_all_origins": False,
        "origins": [],
        "path": "/",
        "path_type": "prefix",
        "allow_methods": ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"],
        "allow_headers": [
            "accept",
            "authorization",
            "content-type",
            "user-agent",
            "x-csrftoken",
            "x-requested-with",
        ],
        "expose_headers": [],
        "max_age": 86400,
        "allow_private_network": False,
    }
    assert translation.not_carried == []


FULL_SETTINGS: dict[str, Any] = {
    "CORS_ALLOWED_ORIGINS": [
        "https://app.example.com",
        "HTTPS://Admin.Example.com",
        "https://*.example.net",
        "https://bad.example.com/",
    ],
    "CORS_ALLOWED_ORIGIN_REGEXES": [
        r"^https://\w+\.preview\.example\.com$",
        r"^https://\w+\.staging\.example\.com",
        r"^https://(a|b)\.example\.org$",
    ],
    "CORS_URLS_REGEX": r"^/api/.*$",
    "CORS_ALLOW_METHODS": ["GET", "POST"],
    "CORS_ALLOW_HEADERS": ["Content-Type", "X-API-Key"],
    "CORS_EXPOSE_HEADERS": ["X-Request-Id"],
    "CORS_PREFLIGHT_MAX_AGE": 600,
    "CORS_ALLOW_CREDENTIALS": True,
    "CORS_ALLOW_PRIVATE_NETWORK": True,
}


@override_settings(**FULL_SETTINGS)
def test_import_settings_carries_over_and_reports_what_it_cannot() -> None:
    out, _ = run("cors_import_settings", "--name", "legacy")
    policy = CorsPolicy.objects.get(name="legacy")
    assert (policy.path, policy.path_type) == ("/api/", "prefix")
    assert sorted(policy.origins.values_list("origin", flat=True)) == [
        "https://*.preview.example.com",
        "https://admin.example.com",
        "https://app.example.com",
    ]
    assert policy.allow_credentials is True
    assert policy.allow_methods == ["GET", "POST"]
    assert policy.allow_headers == ["content-type", "x-api-key"]
    assert policy.expose_headers == ["x-request-id"]
    assert policy.max_age == 600
    assert policy.allow_private_network is True
    assert "Policy 'legacy': 1 created, 0 updated, 0 unchanged." in out
    notes, rest = out.split("Notes:", 1)[1].split("Differences in behaviour:", 1)
    differences, lost = rest.split("Not carried over:", 1)
    assert "'HTTPS://Admin.Example.com' is stored as 'https://admin.example.com'" in notes
    assert "deeper subdomains" in differences
    assert "https://*.example.net" in lost and "never matched anything" in lost
    assert "https://bad.example.com/" in lost and "trailing slash" in lost
    assert "staging" in lost and "not anchored" in lost
    assert "(a|b)" in lost and "not a literal domain" in lost
    assert "Everything was carried over" not in out

    again, _ = run("cors_import_settings", "--name", "legacy")
    assert "0 created, 0 updated, 1 unchanged" in again


@override_settings(
    CORS_ORIGIN_ALLOW_ALL=True,
    CORS_ALLOW_CREDENTIALS=True,
    CORS_ORIGIN_WHITELIST=["https://app.example.com"],
    CORS_ORIGIN_REGEX_WHITELIST=[r"^https://\w+\.example\.org$"],
)
def test_import_settings_old_names_and_allow_all_with_credentials() -> None:
    translation = translate_settings()
    assert translation.policy["allow_all_origins"] is True
    assert translation.policy["allow_credentials"] is False
    assert translation.policy["origins"] == ["https://app.example.com", "https://*.example.org"]
    assert any(
        "CORS_ORIGIN_ALLOW_ALL with CORS_ALLOW_CREDENTIALS" in m for m in translation.not_carried
    )
    with pytest.raises(CommandError, match="could not be carried over; nothing was written"):
        run("cors_import_settings", "--strict")
    assert not CorsPolicy.objects.exists()
    out, _ = run("cors_import_settings", "--dry-run", "--disabled")
    assert "Dry run, nothing written: 1 would be created" in out
    assert '"enabled": false' in out
    assert not CorsPolicy.objects.exists()


@override_settings(CORS_ALLOWED_ORIGINS=["null"], CORS_ALLOW_CREDENTIALS=True)
def test_import_settings_refuses_null_with_credentials() -> None:
    translation = translate_settings()
    assert translation.policy["origins"] == []
    assert "'null' with CORS_ALLOW_CREDENTIALS" in translation.not_carried[0]


@override_settings(CORS_URLS_REGEX=r"^/api/(")
def test_import_settings_with_a_broken_urls_regex_writes_nothing() -> None:
    with pytest.raises(CommandError, match="cannot be translated"):
        run("cors_import_settings")
    assert not CorsPolicy.objects.exists()


EQUIVALENCE_SETTINGS: dict[str, Any] = {
    "CORS_ALLOWED_ORIGINS": ["https://app.example.com", "http://localhost:3000"],
    "CORS_ALLOWED_ORIGIN_REGEXES": [r"^https://([a-z0-9-]+\.)+preview\.example\.com$"],
    "CORS_URLS_REGEX": r"^/api/.*$",
    "CORS_ALLOW_CREDENTIALS": True,
    "CORS_EXPOSE_HEADERS": ["X-Request-Id"],
}


@override_settings(**EQUIVALENCE_SETTINGS)
def test_the_imported_policy_answers_like_django_cors_headers() -> None:
    """The same requests through django-cors-headers' middleware and through the imported
    policy get the same Access-Control-* headers."""
    from corsheaders.middleware import CorsMiddleware
    from django.http import HttpResponse

    run("cors_import_settings")
    cache.reset()
    middleware = CorsMiddleware(lambda request: HttpResponse("ok"))
    factory = RequestFactory()
    compared = 0
    for origin in (
        "https://app.example.com",
        "http://localhost:3000",
        "http://localhost:3001",
        "https://a.preview.example.com",
        "https://a.b.preview.example.com",
        "https://preview.example.com",
        "https://evil.example",
        "https://app.example.com.evil.example",
    ):
        for path in ("/api/items/", "/api/", "/admin/", "/apix"):
            request = factory.get(path, HTTP_ORIGIN=origin)
            theirs = {
                k: v
                for k, v in middleware(request).headers.items()
                if k.lower().startswith("access-control-")
            }
            ours = {
                k: v
                for k, v in explain(origin, path).headers.items()
                if k.startswith("Access-Control-")
            }
            # Header names are case-insensitive; cors_admin stores them lowercased.
            assert {k.lower(): v.lower() for k, v in theirs.items()} == {
                k.lower(): v.lower() for k, v in ours.items()
            }, (origin, path)
            compared += 1
    assert compared == 32
