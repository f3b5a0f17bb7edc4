"""The runnable examples really protect their apps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from examples import fastapi_app, starlette_app
from shield.problems import PROBLEM_CONTENT_TYPE


def client_for(app: Any, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """The example apps live for the whole run: a test that counts quotas uses its own address."""
    transport = httpx.ASGITransport(app=app, client=(address, 4711))
    return httpx.AsyncClient(transport=transport, base_url="http://example")


async def get(app: object, path: str) -> httpx.Response:
    async with client_for(app) as client:
        return await client.get(path)


def problem_of(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/" + slug)
    return problem


@pytest.mark.anyio
async def test_starlette_example_masks_fields_and_free_text() -> None:
    response = await get(starlette_app.app, "/customers")
    assert response.status_code == 200
    for secret in ("13800138000", "139 0013 9000", "tommy@example.com", "7911 123456", "王小明"):
        assert secret not in response.text
    assert "VIP since 2021-03-04" in response.text  # a date is not a phone


@pytest.mark.anyio
async def test_starlette_example_pages_by_cursor_and_seals_ids() -> None:
    async with client_for(starlette_app.app) as client:
        first = (await client.get("/customers")).json()
        assert "cursor=" in first["next"]
        assert "page=" not in first["next"]
        second = (await client.get(first["next"])).json()
        assert second["next"] is None
        problem_of(await client.get("/customers?page=2"), 400, "parameter-refused")
        token = second["items"][0]["id"]
        opened = await client.get(f"/customers/{token}")
        problem_of(await client.get("/customers/3"), 400, "token-invalid")
    assert opened.status_code == 200
    assert opened.json()["note"] == "prefers email"
    assert len(first["items"]) + len(second["items"]) == len(starlette_app.CUSTOMERS)


@pytest.mark.anyio
async def test_fastapi_example_masks_by_path_and_in_comments() -> None:
    response = await get(fastapi_app.app, "/orders/7")
    body = response.json()
    assert response.status_code == 200
    assert body["id"] == 7
    assert body["buyer"]["phone"] != "15912345678"
    assert body["buyer"]["username"] != "lucas88"
    assert "6234 5678" not in body["comment"]
    assert "lucas88@example.com" not in body["comment"]


@pytest.mark.anyio
async def test_fastapi_example_walks_customers_by_cursor_and_opens_sealed_ids() -> None:
    seen: list[str] = []
    async with client_for(fastapi_app.app) as client:
        url: str | None = "/customers?limit=50"
        while url:
            page = (await client.get(url)).json()
            assert len(page["items"]) <= 20  # max_size
            seen += [item["id"] for item in page["items"]]
            assert all(not item["name"].startswith("customer0") for item in page["items"])  # route rule
            url = page["next"]
            assert url is None or ("cursor=" in url and "offset" not in url)
        problem_of(await client.get("/customers?offset=20"), 400, "parameter-refused")
        opened = await client.get(f"/customers/{seen[3]}")
        problem_of(await client.get("/customers/100004"), 400, "token-invalid")
    assert len(set(seen)) == len(fastapi_app.CUSTOMERS)
    assert all(isinstance(token, str) for token in seen)
    assert opened.status_code == 200
    assert opened.json()["id"] == seen[3]
    assert opened.json()["city"] == "Chengdu"  # customer 100004, the fourth


@pytest.mark.anyio
async def test_fastapi_example_quotas_from_the_file_and_inline() -> None:
    views = {"x-api-key": "views"}
    async with client_for(fastapi_app.app, "192.0.2.50") as client:
        token = (await client.get("/customers", headers=views)).json()["items"][0]["id"]  # bound to the key
        # detail-views is one group: order and customer details share 30 per minute.
        statuses = [(await client.get(f"/customers/{token}", headers=views)).status_code]
        statuses += [(await client.get("/orders/1", headers=views)).status_code for _ in range(29)]
        refused = await client.get(f"/customers/{token}", headers=views)
        exports = [(await client.post("/exports", headers={"x-api-key": "exports"})).status_code for _ in range(3)]
    assert set(statuses) == {200}
    assert problem_of(refused, 429, "quota-exceeded")["quota"] == "detail-views"
    assert exports == [200, 200, 429]


def test_fastapi_example_documents_cursors_and_problems() -> None:
    schema = fastapi_app.app.openapi()
    listing = schema["paths"]["/customers"]["get"]
    assert "cursor" in {parameter["name"] for parameter in listing["parameters"]}
    assert {"400", "410", "502"} <= set(listing["responses"])
    assert "429" in schema["paths"]["/customers/{customer_id}"]["get"]["responses"]
    assert "429" in schema["paths"]["/exports"]["post"]["responses"]
