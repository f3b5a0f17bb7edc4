"""The overhead benchmark's variants serve what their checks demand (``benchmarks/variants.py``).

The harness refuses to measure a variant whose responses fail its check; this runs the same
checks in-process, so a variant that drifted (a reference floor that stopped masking, a shield
policy that stopped sealing) fails here rather than at the start of a 20-minute run. Redis and
slowapi variants are left to the harness: they need a server or an optional peer.
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.apps import FRAMEWORKS, build_app
from benchmarks.inprocess import _get
from benchmarks.overhead import ENDPOINTS
from benchmarks.variants import VARIANTS, check_unchanged

LOCAL = [name for name, v in VARIANTS.items() if not v.uses_redis and not name.startswith("slowapi")]


def _serve(framework: str, variant: str, endpoint: str) -> tuple[int, bytes]:
    loop = asyncio.new_event_loop()
    try:
        app = build_app(framework, variant)
        path = ENDPOINTS[endpoint].path
        locate = VARIANTS[variant].locate

        def fetch(p: str) -> tuple[int, bytes]:
            return loop.run_until_complete(_get(app, p))

        if locate is not None:
            path = locate(endpoint, path, fetch)
        return fetch(path)
    finally:
        loop.close()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("variant", LOCAL)
@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_variant_passes_its_own_check(framework: str, variant: str, endpoint: str) -> None:
    status, body = _serve(framework, variant, endpoint)
    assert status == 200, body[:200]
    assert VARIANTS[variant].check(body, ENDPOINTS[endpoint].expected()) == []


@pytest.mark.parametrize("variant", ["masking", "floor-masking", "floor-full", "full-memory"])
def test_masking_variants_change_the_body(variant: str) -> None:
    """The masking checks can fail: the bare body holds what they look for."""
    status, body = _serve("starlette", variant, "list")
    bare_status, bare = _serve("starlette", "bare", "list")
    expected = ENDPOINTS["list"].expected()
    assert status == bare_status == 200
    assert VARIANTS[variant].check(bare, expected) != []  # the originals leak in the bare body
    assert check_unchanged(body, expected) != []
