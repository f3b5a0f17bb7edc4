"""End to end: a FastAPI app behind ShieldMiddleware, served by uvicorn, queried over real HTTP."""

from __future__ import annotations

import gzip
import json
import threading
from typing import TYPE_CHECKING

import httpx
import pytest
from apps import CLEAN_PRETTY, PHONE, PHONE_MASKED, USERS, build_fastapi_app
from servers import serve

if TYPE_CHECKING:
    from collections.abc import Iterator

GATE = threading.Event()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(build_fastapi_app(gate=GATE), on_exit=GATE.set) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10.0) as c:
        yield c


def test_a_list_is_masked_over_http(client: httpx.Client) -> None:
    response = client.get("/users", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)
    assert PHONE.encode() not in response.content
    users = response.json()
    assert [u["id"] for u in users] == [u["id"] for u in USERS]
    assert users[0]["phone"] == PHONE_MASKED
    assert users[0]["bio"] == f"call me on {PHONE_MASKED} any time"


def test_gzip_is_masked_and_reencoded_over_http(client: httpx.Client) -> None:
    with client.stream("GET", "/users", headers={"accept-encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw)
    users = json.loads(gzip.decompress(raw))
    assert users[0]["phone"] == PHONE_MASKED
    assert PHONE.encode() not in gzip.decompress(raw)


def test_clean_bodies_are_byte_identical_over_http(client: httpx.Client) -> None:
    response = client.get("/clean")
    assert response.content == CLEAN_PRETTY


def test_ndjson_is_masked_while_it_streams(client: httpx.Client) -> None:
    """The first masked record arrives while the app is still holding back the second."""
    GATE.clear()
    with client.stream("GET", "/slow-ndjson") as response:
        lines = response.iter_lines()
        first = json.loads(next(lines))
        GATE.set()
        rest = [json.loads(line) for line in lines if line]
    assert response.status_code == 200
    assert first == {"id": 1, "phone": PHONE_MASKED}
    assert rest == [{"id": 2, "released": True, "phone": "139****5678"}]


def test_ndjson_through_gzip_over_http(client: httpx.Client) -> None:
    response = client.get("/ndjson", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"id": 1, "note": f"call {PHONE_MASKED} now"},
        {"id": 2, "phone": "139****5678"},
        {"id": 3, "note": "clean"},
    ]


@pytest.mark.parametrize(("path", "reason"), [("/malformed", "invalid-body"), ("/br", "unsupported-encoding")])
def test_fails_closed_over_http(client: httpx.Client, path: str, reason: str) -> None:
    response = client.get(path)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    problem = response.json()
    assert problem["status"] == 502
    assert reason in problem["detail"]
    assert PHONE.encode() not in response.content


def test_unmasked_routes_pass_through_over_http(client: httpx.Client) -> None:
    assert client.get("/raw/users").json() == USERS
