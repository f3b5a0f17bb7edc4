"""End to end over real HTTP: a FastAPI app that paginates by offset and after_id, not written
for shield, behind ShieldMiddleware in uvicorn. A client walks everything through the links;
none of the bypasses works."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from paging_apps import ITEMS, USER_IDS, shielded_paging_app
from servers import serve

from shield.clock import system_clock

if TYPE_CHECKING:
    from collections.abc import Iterator

ALICE = {"x-user": "alice"}
MALLORY = {"x-user": "mallory"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    shielded, _ = shielded_paging_app(clock=system_clock)
    with serve(shielded) as url, httpx.Client(base_url=url, timeout=10.0) as http:
        yield http


def test_offset_pages_walk_through_cursor_links(client: httpx.Client) -> None:
    seen: list[int] = []
    url: str | None = "/items?limit=40&sort=id"
    while url:
        body = client.get(url, headers=ALICE).json()
        seen += [item["item_id"] for item in body["items"]]
        url = body.get("next")
        assert url is None or ("cursor=" in url and "offset" not in url)
    assert seen == [item["item_id"] for item in ITEMS]


def test_after_id_walks_through_bare_tokens(client: httpx.Client) -> None:
    seen: list[int] = []
    params = {"limit": "64"}
    while True:
        body = client.get("/feed", params=params, headers=ALICE).json()
        seen += [item["item_id"] for item in body["data"]]
        token = body["paging"]["next"]
        if token is None:
            break
        assert not str(token).isdigit()
        params = {"limit": "64", "cursor": token}
    assert seen == [item["item_id"] for item in ITEMS]


@pytest.mark.parametrize(
    "path",
    [
        "/items?offset=200",
        "/items?offset=0&offset=200",
        "/items?OFFSET=200",
        "/items?offset[]=200",
        "/feed?after_id=100",
        "/users/100002",
        "/orders?buyer=100002",
    ],
)
def test_bypasses_are_refused(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers=ALICE)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_harvested_cursors_and_ids_are_useless_to_another_identity(client: httpx.Client) -> None:
    link = client.get("/items?limit=10", headers=ALICE).json()["next"]
    sealed = [user["id"] for user in client.get("/users", headers=ALICE).json()["users"]]
    assert len(sealed) == len(USER_IDS)
    assert client.get(link, headers=MALLORY).status_code == 400
    assert client.get(f"/users/{sealed[0]}", headers=MALLORY).status_code == 400
    assert client.get(f"/users/{sealed[0]}", headers=ALICE).json()["name"] == f"user {USER_IDS[0]}"
