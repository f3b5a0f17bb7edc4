"""Cursors in front of a real FastAPI app paginating by offset, after-id and page number.

Driven at the ASGI boundary with httpx; the app records every query it receives, so each test
also checks what the app saw: native parameters, never a token.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_client import client_for, refused
from clocks import FrozenClock
from hypothesis import given
from hypothesis import strategies as st
from paging_apps import ITEMS, OLD_TOKEN_SECRET, TOKEN_SECRET, paging_policy, shielded_paging_app

from shield.problems import PROBLEM_CONTENT_TYPE

pytestmark = pytest.mark.anyio

ALICE = {"x-user": "alice"}
BOB = {"x-user": "bob"}


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


async def walk(client: httpx.AsyncClient, first: str, headers: dict[str, str]) -> tuple[list[int], list[str]]:
    """Follow ``next`` links from ``first`` to the end: the ids seen and the links followed."""
    ids: list[int] = []
    links: list[str] = []
    url: str | None = first
    while url:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["item_id"] for item in body["items"]]
        url = body.get("next")
        if url:
            links.append(url)
    return ids, links


# --- walking --------------------------------------------------------------------------------


async def test_offset_pages_walk_to_the_end_through_cursors_only() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        ids, links = await walk(client, "/items?limit=50&sort=name", ALICE)
    assert ids == [item["item_id"] for item in ITEMS]
    assert len(links) == 4
    for link in links:
        query = query_of(link)
        assert set(query) == {"limit", "sort", "cursor"}
        assert "offset" not in link
    # The app saw native offsets, never a token; the client never sent one.
    offsets = [dict(query).get("offset") for _, query in app.state.seen]
    assert offsets == [None, "50", "100", "150", "200"]
    assert all("cursor" not in dict(query) for _, query in app.state.seen)


async def test_prev_and_last_links_and_link_header_are_sealed_too() -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        first = await client.get("/items?limit=50", headers=ALICE)
        second = await client.get(first.json()["next"], headers=ALICE)
    body = second.json()
    for name in ("next", "prev", "last"):
        assert "offset" not in body[name]
        assert "cursor=" in body[name]
    header = second.headers["link"]
    assert "offset" not in header
    assert header.count("cursor=") == 2
    assert 'rel="next"' in header
    assert 'rel="last"' in header
    target = header.split(">", 1)[0].lstrip("<")
    assert target.startswith("http://testserver/items?")


async def test_after_id_positions_become_bare_tokens_that_open_as_after_id() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        first = (await client.get("/feed?limit=100", headers=ALICE)).json()
        token = first["paging"]["next"]
        assert isinstance(token, str)
        assert not token.isdigit()
        second = await client.get("/feed", params={"limit": "100", "cursor": token}, headers=ALICE)
    assert second.status_code == 200
    assert second.json()["data"][0]["item_id"] == 101
    assert dict(app.state.seen[-1][1]) == {"limit": "100", "after_id": "100"}


async def test_page_numbers_with_last_link_dropped() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        first = (await client.get("/pages", headers=ALICE)).json()
        assert "last" not in first["links"]
        second = await client.get(first["links"]["next"], headers=ALICE)
    assert second.json()["results"][0]["item_id"] == 101
    assert dict(app.state.seen[-1][1]) == {"page": "2"}


# --- native parameters and smuggling ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "offset=50",
        "offset=00",
        "OFFSET=50",
        "Offset=0",
        "offset[]=50",
        "offset[0]=50",
        "offset%5B%5D=50",
        "off%73et=50",
        "offset=0&offset=500",
        "offset =50",
        "limit=10&limit=20",
        "LIMIT=10",
        "limit=-1",
        "limit=abc",
        "limit=0",
    ],
)
async def test_native_and_smuggled_parameters_are_refused(query: str) -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get(f"/items?{query}", headers=ALICE)
    refused(response, 400, "parameter-refused")
    assert app.state.seen == []


async def test_the_first_page_may_be_asked_for_natively() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get("/items?offset=0", headers=ALICE)
    assert response.status_code == 200
    assert app.state.seen == [("/items", [("offset", "0")])]


async def test_native_refuse_refuses_even_the_first_page() -> None:
    policy = paging_policy(offset_pagination={"native": "refuse"})
    shielded, _ = shielded_paging_app(policy)
    async with client_for(shielded) as client:
        refused(await client.get("/items?offset=0", headers=ALICE), 400, "parameter-refused")
        assert (await client.get("/items", headers=ALICE)).status_code == 200


async def test_a_cursor_and_a_native_offset_together_are_refused() -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        refused(await client.get(link + "&offset=0", headers=ALICE), 400, "parameter-refused")
        refused(
            await client.get(link + "&cursor=" + query_of(link)["cursor"][0], headers=ALICE), 400, "parameter-refused"
        )


async def test_page_size_is_capped() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get("/items?limit=1000", headers=ALICE)
        assert len(response.json()["items"]) == 50
        assert dict(app.state.seen[-1][1])["limit"] == "50"
        # The next link carries the capped size; following it keeps working.
        follow = await client.get(response.json()["next"], headers=ALICE)
    assert follow.status_code == 200
    assert follow.json()["items"][0]["item_id"] == 51


# --- binding, tampering, expiry ---------------------------------------------------------------


async def test_a_cursor_opens_for_no_one_else() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        problem = refused(await client.get(link, headers=BOB), 400, "token-invalid")
        refused(await client.get(link), 400, "token-invalid")  # anonymous
    assert "bob" not in str(problem)
    assert "alice" not in str(problem)
    assert len(app.state.seen) == 1


async def test_detailed_errors_say_foreign_with_403() -> None:
    shielded, _ = shielded_paging_app(paging_policy(tokens={"detailed_errors": True}))
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        refused(await client.get(link, headers=BOB), 403, "token-foreign")


@pytest.mark.parametrize("change", [("sort", "name"), ("limit", "11")])
async def test_a_cursor_is_bound_to_the_other_query_parameters(change: tuple[str, str]) -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10&sort=id", headers=ALICE)).json()["next"]
        params = {name: values[0] for name, values in query_of(link).items()}
        reordered = await client.get("/items", params=dict(reversed(params.items())), headers=ALICE)
        assert reordered.status_code == 200  # order does not matter
        params[change[0]] = change[1]
        refused(await client.get("/items", params=params, headers=ALICE), 400, "token-invalid")


async def test_a_cursor_is_bound_to_its_route() -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        token = (await client.get("/feed?limit=10", headers=ALICE)).json()["paging"]["next"]
        refused(
            await client.get("/items", params={"cursor": token, "limit": "10"}, headers=ALICE), 400, "token-invalid"
        )


@given(data=st.data())
async def test_any_tampered_cursor_is_refused_never_500(data: st.DataObject) -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        token = query_of(link)["cursor"][0]
        index = data.draw(st.integers(0, len(token) - 1))
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.~%+/ "
        replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[index]))
        tampered = token[:index] + replacement + token[index + 1 :]
        response = await client.get("/items", params={"limit": "10", "cursor": tampered}, headers=ALICE)
    # The header's epoch is checked before the tag (no key is derived for a stale epoch), so a
    # tampered epoch reads as expired; everything else as invalid. Neither reaches the app.
    if response.status_code == 410:
        assert 6 <= index * 3 // 4 < 10  # the change hit the epoch bytes of the header
        refused(response, 410, "token-expired")
    else:
        refused(response, 400, "token-invalid")
    assert len(app.state.seen) == 1


@given(garbage=st.text(max_size=600))
async def test_garbage_cursors_are_refused_never_500(garbage: str) -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get("/items", params={"cursor": garbage}, headers=ALICE)
    assert response.status_code in (400, 410)
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert app.state.seen == []


async def test_cursors_expire_and_chains_end() -> None:
    clock = FrozenClock()
    shielded, _ = shielded_paging_app(paging_policy(tokens={"cursor_ttl": 60, "chain_ttl": 200}), clock)
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        clock.advance(61)
        refused(await client.get(link, headers=ALICE), 410, "token-expired")
        # Refreshing keeps a chain alive only until chain_ttl after its first page.
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        for _ in range(3):
            clock.advance(50)
            link = (await client.get(link, headers=ALICE)).json()["next"]
        clock.advance(51)
        refused(await client.get(link, headers=ALICE), 410, "token-expired")


async def test_a_chain_deeper_than_max_depth_is_refused() -> None:
    shielded, app = shielded_paging_app(paging_policy(tokens={"max_depth": 3}))
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        for _ in range(3):
            link = (await client.get(link, headers=ALICE)).json()["next"]
        refused(await client.get(link, headers=ALICE), 403, "chain-too-deep")
    assert len(app.state.seen) == 4


async def test_rotation_keeps_issued_cursors_working() -> None:
    old_policy = paging_policy(tokens={"secrets": [OLD_TOKEN_SECRET]})
    rotated = paging_policy(tokens={"secrets": [OLD_TOKEN_SECRET, TOKEN_SECRET]})
    old_app, _ = shielded_paging_app(old_policy)
    new_app, _ = shielded_paging_app(rotated)
    async with client_for(old_app) as old_client, client_for(new_app) as new_client:
        link = (await old_client.get("/items?limit=10", headers=ALICE)).json()["next"]
        response = await new_client.get(link, headers=ALICE)
        assert response.status_code == 200
        fresh = response.json()["next"]
        refused(await old_client.get(fresh, headers=ALICE), 400, "token-invalid")  # old workers lack the new key


async def test_encrypted_cursors_hide_the_offset() -> None:
    shielded, _ = shielded_paging_app(paging_policy(tokens={"format": "encrypted"}))
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        assert (await client.get(link, headers=ALICE)).status_code == 200
    assert len(query_of(link)["cursor"][0]) < 140


# --- totals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("totals", "expected"), [("keep", 230), ("coarsen", 200), ("drop", None)])
async def test_totals_kept_coarsened_or_dropped(totals: str, expected: int | None) -> None:
    shielded, _ = shielded_paging_app(paging_policy(offset_pagination={"totals": totals}))
    async with client_for(shielded) as client:
        body = (await client.get("/items", headers=ALICE)).json()
    assert body.get("total") == expected


# --- sealed record ids ------------------------------------------------------------------------


async def test_record_ids_are_sealed_per_viewer_and_open_back_for_the_app() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        alice_ids = [user["id"] for user in (await client.get("/users", headers=ALICE)).json()["users"]]
        bob_ids = [user["id"] for user in (await client.get("/users", headers=BOB)).json()["users"]]
        assert all(isinstance(token, str) for token in alice_ids)
        assert not set(alice_ids) & set(bob_ids)
        response = await client.get(f"/users/{alice_ids[3]}", headers=ALICE)
        assert response.status_code == 200
        assert response.json()["id"] == alice_ids[3]  # sealed again on the way out
        assert app.state.seen[-1][0] == "/users/100004"
        refused(await client.get(f"/users/{alice_ids[3]}", headers=BOB), 400, "token-invalid")
        orders = await client.get("/orders", params={"buyer": alice_ids[0]}, headers=ALICE)
        assert orders.json() == {"buyer_seen_by_app": 100001}


@pytest.mark.parametrize("path", ["/users/100001", "/users/100002", "/users/1", "/orders?buyer=100001"])
async def test_sequential_raw_ids_are_refused(path: str) -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        refused(await client.get(path, headers=ALICE), 400, "token-invalid")
    assert app.state.seen == []


async def test_a_user_token_does_not_open_as_another_kind() -> None:
    policy = paging_policy()
    policy["route"].append({"path": "/shops/{shop_id}", "unseal": [{"param": "shop_id", "kind": "shop"}]})
    shielded, _ = shielded_paging_app(policy)
    async with client_for(shielded) as client:
        token = (await client.get("/users", headers=ALICE)).json()["users"][0]["id"]
        refused(await client.get(f"/shops/{token}", headers=ALICE), 400, "token-invalid")


async def test_cursors_bind_to_the_api_key_before_the_address() -> None:
    """With the default identity order, the API key is the primary key tokens are bound to."""
    policy = paging_policy(identity={"order": ["api_key", "network"]})
    shielded, _ = shielded_paging_app(policy)
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers={"x-api-key": "key-one"})).json()["next"]
        assert (await client.get(link, headers={"x-api-key": "key-one"})).status_code == 200
        refused(await client.get(link, headers={"x-api-key": "key-two"}), 400, "token-invalid")
        refused(await client.get(link), 400, "token-invalid")  # same address, no key


@pytest.mark.parametrize("limit", [1, 3])
async def test_a_cursor_is_used_at_most_replay_limit_times(limit: int) -> None:
    shielded, app = shielded_paging_app(paging_policy(offset_pagination={"replay_limit": limit}))
    async with client_for(shielded) as client:
        link = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        for _ in range(limit):
            assert (await client.get(link, headers=ALICE)).status_code == 200
        refused(await client.get(link, headers=ALICE), 410, "cursor-used-up")
        fresh = (await client.get("/items?limit=10", headers=ALICE)).json()["next"]
        assert (await client.get(fresh, headers=ALICE)).status_code == 200  # a new walk starts afresh
    assert len(app.state.seen) == limit + 3


# --- review findings --------------------------------------------------------------------------


async def test_a_link_with_two_positions_is_never_sealed() -> None:
    """An app that echoes ``sort`` unescaped writes ``…&sort=id&offset=200`` into its own link."""
    shielded, _app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get("/items?limit=10&sort=id%26offset%3D200", headers=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert body["last"] is None
    assert "link" not in response.headers or "offset" not in response.headers["link"]
    assert "200" not in response.headers.get("link", "")


async def test_head_cannot_slip_past_a_get_route() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        sealed = (await client.get("/users", headers=ALICE)).json()["users"][0]["id"]
        raw_id = await client.head("/users/100002/orders", headers=ALICE)
        native = await client.head(f"/users/{sealed}/orders?offset=50", headers=ALICE)
    assert raw_id.status_code == 400  # a HEAD must not tell which raw IDs exist
    assert native.status_code == 400
    assert native.headers["content-type"] == "application/problem+json"
    assert all("/orders" not in path for path, _ in app.state.seen)


async def test_links_of_a_route_with_sealed_parameters_are_sealed_again() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        users = (await client.get("/users", headers=ALICE)).json()["users"]
        me, other = users[0]["id"], users[1]["id"]
        first = (await client.get(f"/users/{me}/orders?limit=5&buyer={other}", headers=ALICE)).json()
        assert "100001" not in first["next"]
        assert "100002" not in first["next"]
        assert first["next"].startswith(f"/users/{me}/orders?")
        second = await client.get(first["next"], headers=ALICE)
        assert second.status_code == 200
        assert second.json()["orders"][0] == {"n": 5}
        assert app.state.seen[-1] == ("/users/100001/orders", [("limit", "5"), ("buyer", "100002"), ("offset", "5")])
        # The cursor opens on its own path only.
        elsewhere = first["next"].replace(f"/users/{me}/", f"/users/{other}/")
        refused(await client.get(elsewhere, headers=ALICE), 400, "token-invalid")


@pytest.mark.parametrize("path", ["/items/?offset=50", "/users/100002/", "/feed/?after_id=3"])
async def test_trailing_slashes_do_not_dodge_the_route(path: str) -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get(path, headers=ALICE)
    assert response.status_code == 400
    assert app.state.seen == []


async def test_default_links_and_totals_are_anchored_at_the_root() -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        body = (await client.get("/people", headers=ALICE)).json()
    assert body["items"] == [{"first": "Ada", "last": "Lovelace", "count": 48213, "next": "Charles"}]
    assert body["total"] == 40000
    assert body["next"].startswith("/people?cursor=")  # the relative link, resolved and sealed
    assert body["links"]["next"][0].startswith("/people?cursor=")  # a list of links
    assert "last" not in body["links"]


async def test_link_headers_of_other_content_types_are_sealed_and_private() -> None:
    shielded, _ = shielded_paging_app()
    async with client_for(shielded) as client:
        response = await client.get("/export", headers=ALICE)
    assert response.text == "a,b\n1,2\n"
    assert "offset" not in response.headers["link"]
    assert "cursor=" in response.headers["link"]
    assert "public" not in response.headers["cache-control"]
    assert "private" in response.headers["cache-control"]


async def test_a_page_size_with_a_trailing_newline_is_refused() -> None:
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        refused(await client.get("/items?limit=50%0A", headers=ALICE), 400, "parameter-refused")
    assert app.state.seen == []


async def test_redirects_do_not_give_opened_ids_or_native_offsets_away() -> None:
    """The router adds a trailing slash to the path it saw, which shield had already opened."""
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        sealed = (await client.get("/users", headers=ALICE)).json()["users"][0]["id"]
        redirect = await client.get(f"/widgets/{sealed}", headers=ALICE)
        assert redirect.status_code == 307
        assert "100001" not in redirect.headers["location"]
        assert redirect.headers["location"].endswith(f"/widgets/{sealed}/")
        assert (await client.get(redirect.headers["location"], headers=ALICE)).json() == {"widget": 100001}
        cursor_link = (await client.get("/things/", headers=ALICE)).json()["next"]
        moved = await client.get(cursor_link.replace("/things/", "/things"), headers=ALICE)
        assert moved.status_code == 307
        assert "offset" not in moved.headers["location"]
        assert "cursor=" in moved.headers["location"]
        followed = await client.get(moved.headers["location"], headers=ALICE)
    assert followed.json()["items"] == [1]
    assert all("cursor" not in dict(query) for _, query in app.state.seen)


async def test_locations_naming_another_sealed_route_are_sealed_for_the_caller() -> None:
    """A 201 Created on one route naming a record of a sealed route must not hand out its raw ID."""
    shielded, app = shielded_paging_app()
    async with client_for(shielded) as client:
        created = await client.post("/users", headers=ALICE)  # a route with a pipeline of its own
        signed_up = await client.post("/signup", headers=ALICE)  # a route shield does not inspect
        note = await client.post("/notes", headers=ALICE)  # no sealed route named
        assert created.status_code == signed_up.status_code == 201
        for response in (created, signed_up):
            assert "private" in response.headers["cache-control"]
            assert not re.search(r"1000\d\d", response.headers["location"])
        assert created.headers["location"].startswith("/users/")
        assert signed_up.headers["location"].startswith("http://testserver/users/")
        assert "100002" not in signed_up.headers["content-location"]
        assert (await client.get(created.headers["location"], headers=ALICE)).json()["name"] == "user 100031"
        assert (await client.get(signed_up.headers["location"], headers=ALICE)).json()["name"] == "user 100032"
        opened = await client.get(signed_up.headers["content-location"], headers=ALICE)
        assert opened.json() == {"buyer_seen_by_app": 100002}
        refused(await client.get(created.headers["location"], headers=BOB), 400, "token-invalid")
        own = await client.get(created.headers["location"], headers=ALICE)  # the route's own Content-Location
        assert own.headers["content-location"] == created.headers["location"]
    assert note.headers["location"] == "/notes/100033"
    assert note.headers["cache-control"] == "max-age=5"
    assert ("/users/100031", []) in app.state.seen
