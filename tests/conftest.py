import os

import django
import pytest

from cors_admin import cache


def _database() -> str:
    return os.environ.get("CORS_ADMIN_TEST_DB", "sqlite")


def pytest_report_header(config: pytest.Config) -> str:
    return f"cors_admin: Django {django.get_version()}, database {_database()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` are skipped, with the reason shown, on other databases."""
    if _database() == "postgres":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: run `make test-postgres` (CORS_ADMIN_TEST_DB=postgres)"
    )
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    """Every test starts without a snapshot, so it sees the policies it created."""
    cache.reset()
    yield
    cache.reset()
