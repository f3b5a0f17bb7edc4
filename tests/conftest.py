"""Shared test configuration.

Hypothesis runs a bounded profile by default so the README test command stays fast;
``SHIELD_HYPOTHESIS_PROFILE=thorough`` asks for many more examples locally.

Redis: the single server at 127.0.0.1:6379 is expected to run; the three-node Redis Cluster is
started here, once per session (once per xdist worker), on free loopback ports, and only when a
test asks for it. Neither may be skipped: a missing server or ``redis-server`` fails the run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from servers import RedisClusterServers

if TYPE_CHECKING:
    from collections.abc import Iterator

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("SHIELD_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, the loop uvicorn uses here."""
    return "asyncio"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real three-primary Redis Cluster for this session (``.url`` reaches any node)."""
    with RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test may skip: a skipped Redis, Redis Cluster or end-to-end test would hide a broken guarantee."""
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None or exitstatus != 0:
        return
    skipped = len(terminal.stats.get("skipped", []))
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        terminal.write_line(f"shield: {skipped} test(s) skipped; every test must run (is Redis up?)", red=True)
