"""Four uvicorn worker processes sharing one Redis never admit more than a quota's limit.

A real server (``uvicorn --workers 4``) on loopback, hammered by concurrent clients over real
HTTP: the requests and the records it lets through are counted exactly.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent / "workers"))
from quota_app import PAGE, RECORDS_LIMIT, REQUESTS_LIMIT  # the workers' own module
from servers import free_port

WORKERS = 4
CLIENTS = 200
STARTUP_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    prefix = f"shield-workers-{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = {**os.environ, "SHIELD_TEST_PREFIX": prefix}
    command = [
        sys.executable, "-m", "uvicorn", "quota_app:create_app", "--factory",
        "--app-dir", str(Path(__file__).parent / "workers"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        pids: set[int] = set()
        while len(pids) < WORKERS:  # every worker up (/health has no quota)
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn workers did not start: {process.stderr.read() if process.stderr else ''}")
            try:
                pids.add(httpx.get(base + "/health", timeout=2).json()["pid"])
            except (httpx.TransportError, KeyError, ValueError):
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=20)
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


async def hammer(base: str, path: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        return list(await asyncio.gather(*(client.get(path) for _ in range(count))))


def test_requests_quota_holds_across_four_workers(server: str) -> None:
    responses = asyncio.run(hammer(server, "/ping", CLIENTS))
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}, [r.text for r in responses if r.status_code not in (200, 429)][:3]
    assert statuses.count(200) == REQUESTS_LIMIT
    assert statuses.count(429) == CLIENTS - REQUESTS_LIMIT
    served_by = {response.json()["pid"] for response in responses if response.status_code == 200}
    assert len(served_by) > 1  # really several processes deciding against one Redis


def test_records_quota_holds_across_four_workers(server: str) -> None:
    responses = asyncio.run(hammer(server, "/items", CLIENTS))
    pages = [response for response in responses if response.status_code == 200]
    assert {response.status_code for response in responses} <= {200, 429}, [r.text for r in responses][:3]
    assert sum(len(page.json()["items"]) for page in pages) == RECORDS_LIMIT  # to the record
    assert len(pages) == RECORDS_LIMIT // PAGE
    assert sum(response.status_code == 429 for response in responses) == CLIENTS - len(pages)
    assert len({page.json()["pid"] for page in pages}) > 1
