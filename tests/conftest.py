"""Shared test configuration.

Hypothesis runs a bounded profile by default so the README test command stays fast;
``SHIELD_HYPOTHESIS_PROFILE=thorough`` asks for many more examples locally.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test may skip: a skipped Redis or end-to-end test would hide a broken guarantee."""
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None or exitstatus != 0:
        return
    skipped = len(terminal.stats.get("skipped", []))
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        terminal.write_line(f"shield: {skipped} test(s) skipped; every test must run (is Redis up?)", red=True)
