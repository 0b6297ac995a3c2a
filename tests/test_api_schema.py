"""The OpenAPI schema: valid, complete, and true to the API (schemathesis drives the API
with requests generated from it and checks every response against it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.factories import UserFactory


def schema_dict() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    # --validate checks it against the OpenAPI 3 JSON schema; --fail-on-warn turns any
    # warning drf-spectacular has about our views (unresolvable types...) into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/cors/policies/{id}/" in out.read_text()


def test_schema_describes_the_paths_and_fields() -> None:
    schema = schema_dict()
    paths = schema["paths"]
    assert set(paths["/api/cors/policies/"]) == {"get", "post"}
    assert set(paths["/api/cors/policies/{id}/"]) == {"get", "put", "patch", "delete"}
    assert set(paths["/api/cors/check/"]) == {"post"}

    list_params = {p["name"] for p in paths["/api/cors/policies/"]["get"]["parameters"]}
    assert {"enabled", "origin", "search", "ordering", "page"} <= list_params
    assert paths["/api/cors/policies/{id}/"]["get"]["parameters"][0]["schema"]["type"] == (
        "integer"
    )

    components = schema["components"]["schemas"]
    policy = components["CorsPolicy"]["properties"]
    assert set(policy) == {
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
    assert policy["origins"]["type"] == "array"
    assert policy["origins"]["items"] == {"type": "string"}
    assert policy["origin_entries"]["items"] == {"$ref": "#/components/schemas/OriginEntry"}
    assert set(components["OriginEntry"]["properties"]) == {"origin", "note", "expires_at"}
    assert policy["warnings"]["readOnly"] is True
    assert policy["max_age"]["nullable"] is True
    assert policy["priority"]["maximum"] == 2**31 - 1
    assert components["PathTypeEnum"]["enum"] == ["prefix", "exact", "regex"]
    assert components["CorsPolicy"]["required"] == [
        "created_at",
        "id",
        "name",
        "updated_at",
        "warnings",
    ]

    check = paths["/api/cors/check/"]["post"]
    request = check["requestBody"]["content"]
    assert set(request) == {"application/json"}
    assert request["application/json"]["schema"] == {"$ref": "#/components/schemas/CheckRequest"}
    assert check["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CheckResponse"
    }
    assert {"400", "401", "403"} <= set(check["responses"])
    assert set(components["CheckRequest"]["properties"]) == {
        "origin",
        "path",
        "method",
        "request_headers",
        "request_method",
        "private_network",
    }
    assert components["CheckRequest"]["required"] == ["path"]
    assert set(components["CheckResponse"]["properties"]) == {
        "allowed",
        "covered",
        "preflight",
        "policy",
        "policy_id",
        "reason",
        "status",
        "headers",
    }
    assert components["CheckResponse"]["properties"]["headers"]["additionalProperties"] == {
        "type": "string"
    }
    assert set(schema["components"]["securitySchemes"]) == {"cookieAuth", "tokenAuth"}


# -- schemathesis ---------------------------------------------------------------------------

api_schema = schemathesis.openapi.from_dict(schema_dict())
api_schema.app = WSGIHandler()


STAFF_TOKEN = "schemathesis0staff0token0000000000000000"  # 40 characters, like DRF's keys


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Like Django's test client: a request must not close the test's database connection
    (the real WSGI handler does at request start and end, which would end the test's
    transaction on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db: None, keep_test_connection: None) -> str:
    user = UserFactory(username="schemathesis", is_staff=True, is_superuser=True)
    return str(Token.objects.create(user=user, key=STAFF_TOKEN).key)


@api_schema.auth()
class StaffToken:
    """Credentials schemathesis knows as explicit (it probes without and with invalid ones)."""

    def get(self, case: Any, context: Any) -> str:
        return STAFF_TOKEN

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@api_schema.hook
def filter_query(ctx: Any, query: Any) -> bool:
    # DRF's own PageNumberPagination reads an empty ?page= as page 1, which the schema's
    # integer type does not allow; that leniency is DRF's, not this API's.
    return not query or query.get("page") != ""


@api_schema.include(path_regex=r"^/api/cors/").parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case: Any, staff_token: str) -> None:
    # Authenticated by StaffToken; schemathesis also probes each operation without
    # credentials and with invalid ones, and expects a refusal.
    # Every check but "schema-valid data is accepted": origins, paths, regexes, header tokens
    # and unique names follow rules JSON Schema cannot state, and their refusals are the
    # documented 400 responses.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
