"""The runnable examples really protect their apps."""

from __future__ import annotations

import httpx
import pytest

from examples import fastapi_app, starlette_app


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        return await client.get(path)


@pytest.mark.anyio
async def test_starlette_example_masks_fields_and_free_text() -> None:
    response = await get(starlette_app.app, "/customers")
    assert response.status_code == 200
    for secret in ("13800138000", "139 0013 9000", "tommy@example.com", "7911 123456", "王小明"):
        assert secret not in response.text
    assert "VIP since 2021-03-04" in response.text  # a date is not a phone


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
