"""What every framework integration must show: the example app is protected, not just running.

The Litestar, Django and Quart examples (``examples/``) serve the same 120 users with the same
policy; ``tests/test_integration_<framework>.py`` runs these checks against each one, in
process, through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from asgi_client import refused

from shield import Viewer

Users = list[dict[str, Any]]
ALICE = {"x-user": "alice"}
BOB = {"x-user": "bob"}


def client_for(app: Any, base_url: str = "http://localhost") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def viewer_from_header(scope: Any) -> Viewer | None:
    """Stands in for real authentication: the caller is named in an ``x-user`` header."""
    for name, value in scope.get("headers", ()):
        if name == b"x-user":
            return Viewer(id=value.decode())
    return None


async def walk(
    client: httpx.AsyncClient, first: str, headers: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Follow ``next`` from ``first`` to the end: the records, the links and the raw bodies."""
    records: list[dict[str, Any]] = []
    links: list[str] = []
    bodies: list[str] = []
    url: str | None = first
    while url is not None:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        bodies.append(response.text)
        body = response.json()
        records += body["items"]
        url = body["next"]
        if url is not None:
            links.append(url)
    return records, links, bodies


def assert_no_contact_survives(text: str, users: Users) -> None:
    for user in users:
        assert user["phone"] not in text
        assert user["email"] not in text
    # Nor any 11-digit run at all: a phone number cannot leave in another field either.
    assert re.search(r"\d{11}", text) is None


async def check_contacts_are_masked(client: httpx.AsyncClient, users: Users) -> None:
    records, _, bodies = await walk(client, "/users?limit=50")
    for text in bodies:
        assert_no_contact_survives(text, users)
    by_name = {user["name"]: user for user in users}
    for record in records:
        user = by_name[record["name"]]
        assert record["phone"] == user["phone"][:3] + "****" + user["phone"][-4:]
        assert record["email"] == user["email"][0] + "***@example.com"
        assert record["city"] == user["city"]  # what no rule touches is left alone
    one = await client.get(f"/users/{records[7]['id']}")
    assert one.status_code == 200, one.text
    assert_no_contact_survives(one.text, users)
    assert one.json()["name"] == users[7]["name"]


async def check_next_links_are_cursors_and_walk_everything_once(client: httpx.AsyncClient, users: Users) -> None:
    records, links, _ = await walk(client, "/users?limit=17")  # 17 does not divide 120
    assert [record["name"] for record in records] == [user["name"] for user in users]
    ids = [record["id"] for record in records]
    assert len(set(ids)) == len(users)  # every record once, each under its own sealed id
    assert all(isinstance(record_id, str) and not record_id.isdigit() for record_id in ids)
    assert len(links) == 7
    for link in links:
        assert link.startswith("/users?")
        query = parse_qs(urlsplit(link).query)
        assert set(query) == {"limit", "cursor"}
        assert query["limit"] == ["17"]
        assert "offset" not in link


async def check_page_size_is_capped(client: httpx.AsyncClient) -> None:
    response = await client.get("/users?limit=500")
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 50


async def check_raw_positions_and_ids_are_refused(client: httpx.AsyncClient) -> None:
    refused(await client.get("/users?offset=50"), 400, "parameter-refused")
    refused(await client.get("/users?limit=20&offset=50"), 400, "parameter-refused")
    refused(await client.get("/users?OFFSET=50"), 400, "parameter-refused")
    refused(await client.get("/users/100002"), 400, "token-invalid")
    refused(await client.get("/users/100002/"), 400, "token-invalid")
    # The first page may still be asked for natively, as a plain client would.
    assert (await client.get("/users?offset=0")).status_code == 200


async def check_sealed_ids_open_the_record(client: httpx.AsyncClient, users: Users) -> None:
    listed = (await client.get("/users?limit=5")).json()["items"]
    for index, record in enumerate(listed):
        assert isinstance(record["id"], str)
        assert str(users[index]["id"]) not in record["id"]  # the signed format's payload is not plain text
        response = await client.get(f"/users/{record['id']}")
        assert response.status_code == 200, response.text
        assert response.json()["name"] == users[index]["name"]
        assert response.json()["id"] == record["id"]  # the same caller sees the same token


async def check_requests_quota(client: httpx.AsyncClient, advance: Callable[[float], None]) -> None:
    token = (await client.get("/users?limit=1")).json()["items"][0]["id"]
    for _ in range(59):  # the list and the record routes share one budget of 60 a minute
        response = await client.get(f"/users/{token}")
        assert response.status_code == 200, response.text
    problem = refused(await client.get(f"/users/{token}"), 429, "quota-exceeded")
    assert problem["quota"] == "requests-per-minute"
    refused(await client.get("/users"), 429, "quota-exceeded")
    advance(1.0)  # one request a second comes back
    assert (await client.get(f"/users/{token}")).status_code == 200


async def check_records_quota(client: httpx.AsyncClient) -> None:
    for _ in range(10):  # 10 pages of 50: the 500 records of the hour
        response = await client.get("/users?limit=50")
        assert response.status_code == 200, response.text
    response = await client.get("/users?limit=50")
    problem = refused(response, 429, "quota-exceeded")
    assert problem["quota"] == "records-per-hour"
    assert int(response.headers["retry-after"]) >= 1
    assert "items" not in response.json()  # refused instead of the records, not after them


async def check_tokens_are_bound_to_the_viewer(client: httpx.AsyncClient) -> None:
    first = (await client.get("/users?limit=5", headers=ALICE)).json()
    assert (await client.get(first["next"], headers=ALICE)).status_code == 200
    refused(await client.get(first["next"], headers=BOB), 400, "token-invalid")
    record_id = first["items"][0]["id"]
    assert (await client.get(f"/users/{record_id}", headers=ALICE)).status_code == 200
    refused(await client.get(f"/users/{record_id}", headers=BOB), 400, "token-invalid")
    refused(await client.get(f"/users/{record_id}"), 400, "token-invalid")  # nor for anonymous callers


async def check_under_a_root_path(app: Any) -> None:
    """Served below a prefix (``--root-path /api`` behind a proxy): links keep it, routes still match."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, root_path="/api"), base_url="http://localhost"
    ) as client:
        first = await client.get("/api/users?limit=60")
        assert first.status_code == 200, first.text
        following = first.json()["next"]
        assert following.startswith("/api/users?")
        assert "cursor=" in following
        assert len(first.json()["items"]) == 50
        second = await client.get(following)
        assert second.status_code == 200, second.text
        assert second.json()["items"][0]["name"] == "User 051"
        record = await client.get(f"/api/users/{second.json()['items'][0]['id']}")
        assert record.json()["name"] == "User 051"
        refused(await client.get("/api/users?offset=50"), 400, "parameter-refused")
        refused(await client.get("/api/users/100002"), 400, "token-invalid")
