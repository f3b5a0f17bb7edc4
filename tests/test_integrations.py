"""shield wrapped around a Litestar, a Django and a Quart app really protects each of them.

One set of checks (``integration_checks.py``) against every framework's example, all serving
the same shop data and policy (``examples/shop.py``); what is particular to one framework is in
``test_integration_<framework>.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import integration_checks as checks
import pytest
from clocks import FrozenClock

from examples import litestar_app, quart_app
from examples.django_app import asgi as django_example
from examples.shop import USERS

pytestmark = pytest.mark.anyio

Factory = Callable[..., Any]  # (viewer=..., clock=...) -> an ASGI app
FACTORIES: dict[str, Factory] = {
    "litestar": litestar_app.create_app,
    "django": django_example.create_application,
    "quart": quart_app.create_app,
}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def client(factory: Factory, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    async with checks.client_for(factory(clock=clock)) as client:
        yield client


async def test_contacts_are_masked(client: httpx.AsyncClient) -> None:
    await checks.check_contacts_are_masked(client, USERS)


async def test_next_links_are_cursors_and_walk_every_record_once(client: httpx.AsyncClient) -> None:
    await checks.check_next_links_are_cursors_and_walk_everything_once(client, USERS)


async def test_page_size_is_capped(client: httpx.AsyncClient) -> None:
    await checks.check_page_size_is_capped(client)


async def test_raw_offsets_and_raw_ids_are_refused(client: httpx.AsyncClient) -> None:
    await checks.check_raw_positions_and_ids_are_refused(client)


async def test_sealed_ids_open_the_record(client: httpx.AsyncClient) -> None:
    await checks.check_sealed_ids_open_the_record(client, USERS)


async def test_requests_quota_refuses_with_a_problem_naming_it(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await checks.check_requests_quota(client, clock.advance)


async def test_records_quota_refuses_with_a_problem_naming_it(client: httpx.AsyncClient) -> None:
    await checks.check_records_quota(client)


async def test_links_and_routes_hold_under_a_root_path(factory: Factory) -> None:
    await checks.check_under_a_root_path(factory(clock=FrozenClock()))


async def test_tokens_are_bound_to_the_viewer_given_to_shield(factory: Factory) -> None:
    async with checks.client_for(factory(viewer=checks.viewer_from_header, clock=FrozenClock())) as client:
        await checks.check_tokens_are_bound_to_the_viewer(client)
