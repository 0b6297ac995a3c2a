import pytest

from cors_admin import cache


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    """Every test starts without a snapshot, so it sees the policies it created."""
    cache.reset()
    yield
    cache.reset()
