"""``shield demo`` served by uvicorn, queried over real HTTP on loopback."""

from __future__ import annotations

import re
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from servers import free_port

from shield.demo.data import users

SHIELD = Path(sysconfig.get_path("scripts")) / "shield"
PHONE = re.compile(r"1[3-9]\d{9}")


def serve(*args: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # our own entry point, fixed arguments
        [str(SHIELD), "demo", "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/", timeout=1)  # no quota counts this probe
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("demo did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def protected() -> Iterator[str]:
    yield from serve()


@pytest.fixture(scope="module")
def unprotected() -> Iterator[str]:
    yield from serve("--unprotected")


def test_unprotected_demo_leaks_phones(unprotected: str) -> None:
    body = httpx.get(unprotected + "/users?limit=50").text
    assert len(PHONE.findall(body)) >= 50


def walk(base: str, path: str, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """Every page of ``path``, following the next links the protected demo hands out."""
    pages = []
    url: str | None = base + path
    while url:
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response)
        following = response.json()["next"]
        url = base + following if following else None
    return pages


def test_protected_demo_masks_every_page_and_walks_by_cursor(protected: str) -> None:
    phones = {person["phone"] for person in users(1000)}
    for path, count in (("/users?limit=100", 10), ("/comments?limit=100", 20)):
        pages = walk(protected, path)
        assert len(pages) == count
        for response in pages:
            assert response.headers["content-type"] == "application/json"
            assert not phones & set(PHONE.findall(response.text))
            assert "@example.com" not in response.text.replace("***@example.com", "")
            assert all(isinstance(item["id"], str) for item in response.json()["items"])
            following = response.json()["next"]
            assert following is None or ("cursor=" in following and "offset" not in following)


@pytest.mark.parametrize("path", ["/users?offset=100", "/comments?after_id=500100", "/users/100001", "/users/100002"])
def test_protected_demo_refuses_enumeration_handles(protected: str, path: str) -> None:
    response = httpx.get(protected + path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_owner_sees_own_record_in_clear(protected: str) -> None:
    me = users(2)[1]
    headers = {"x-demo-user": str(me["id"])}
    own = httpx.get(protected + "/me", headers=headers)
    assert own.status_code == 200
    assert own.json()["phone"] == me["phone"]
    assert "private" in own.headers["cache-control"]
    stranger = {"x-demo-user": "1"}
    sealed_id = httpx.get(protected + "/users?limit=2", headers=stranger).json()["items"][1]["id"]
    other = httpx.get(f"{protected}/users/{sealed_id}", headers=stranger)
    assert other.status_code == 200
    assert other.json()["phone"] != me["phone"]
    assert httpx.get(f"{protected}/users/{sealed_id}", headers=headers).status_code == 400  # not theirs


def test_demo_records_budget_runs_out_to_the_record() -> None:
    """A crawler walking /users again and again gets exactly the hourly budget, then 429s."""
    for base in serve():
        delivered = 0
        url: str | None = base + "/users?limit=100"
        while url:
            response = httpx.get(url)
            if response.status_code == 429:
                problem = response.json()
                assert problem["quota"] == "records-hourly"
                assert int(response.headers["retry-after"]) > 0
                break
            assert response.status_code == 200, response.text
            delivered += len(response.json()["items"])
            assert f'"records-hourly";r={5000 - delivered};' in response.headers["ratelimit"]
            following = response.json()["next"]
            url = base + (following or "/users?limit=100")
        assert delivered == 5000


def test_demo_keeps_quotas_in_redis() -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for base in serve("--redis", "redis://127.0.0.1:6379/0"):
        response = httpx.get(base + "/users?limit=5", headers={"x-demo-user": "redis-demo-test"})
        assert response.status_code == 200
        assert "records-hourly" in response.headers["ratelimit"]
        assert any(client.scan_iter(match="shield:{shield}:*", count=1000))
    client.close()


def test_shops_carry_sealed_ids_and_masked_contact_phones(protected: str) -> None:
    phones = {person["phone"] for person in users(1000)}
    listing = httpx.get(protected + "/shops?limit=5")
    assert listing.status_code == 200
    shops = listing.json()["items"]
    assert len(shops) == 5
    assert all(isinstance(shop["id"], str) and isinstance(shop["owner_id"], str) for shop in shops)
    assert not phones & set(PHONE.findall(listing.text))
    single = httpx.get(f"{protected}/shops/{shops[0]['id']}")
    assert single.status_code == 200
    assert single.json()["name"] == shops[0]["name"]
    assert httpx.get(protected + "/shops/300001").status_code == 400
