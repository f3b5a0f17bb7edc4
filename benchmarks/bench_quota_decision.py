"""What one quota decision costs: MemoryStore µs, RedisStore decisions/s, memory per identity.

    .venv/bin/python -m benchmarks.bench_quota_decision                  # ~30 s, Redis on 127.0.0.1:6379
    .venv/bin/python -m benchmarks.bench_quota_decision --identities 1000000   # the 1M figure (~1 min)

The request is a typical list call: 3 quotas over 2 identities — a per-user Rate, a per-IP Rate
and a peek at the per-user record Budget — spread over 2,000 users and IPs. MemoryStore figures
are the best of several rounds of CPU time (``decide_now``, and ``decide`` driven without an
event loop to show the coroutine's toll); the target is <= 10 µs per decision. RedisStore runs
against a real server on loopback: one task awaiting each decision in turn, then 32 tasks at
once (a worker under load). Memory: tracemalloc around N identities with one Rate and one
Budget each, all live (``len(store) == 2 N``). Results go to ``results/quota_decision.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import platform
import time
import tracemalloc
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks.bench_mask_text import calibrate
from benchmarks.timing import per_item_us
from shield.quotas import Budget, Charge, Decision, MemoryStore, Rate, RedisStore

TARGET_US = 10.0
USERS = 2000
BUDGET_S = 1.5  # per CPU measurement
REDIS_S = 3.0  # per Redis measurement
RESULTS = Path(__file__).parent / "results" / "quota_decision.json"

USER_RATE = Rate(10_000, 1.0)
IP_RATE = Rate(50_000, 1.0)
RECORDS = Budget(10_000_000, 3600.0)


def requests(n: int, salt: str = "") -> list[list[Charge]]:
    """The charges of one list call for each of ``n`` users (and their IPs)."""
    out = []
    for i in range(n):
        user = hashlib.sha256(f"user{salt}{i}".encode()).hexdigest()[:16]
        ip = hashlib.sha256(f"ip{salt}{i}".encode()).hexdigest()[:16]
        out.append(
            [
                Charge(f"q:list-rate:user:{user}", USER_RATE),
                Charge(f"q:ip-rate:ip:{ip}", IP_RATE),
                Charge(f"q:list-records:user:{user}", RECORDS, cost=50, peek=True),
            ]
        )
    return out


def per_call_us(fn: Callable[[Any], object], items: list[Any]) -> float:
    return per_item_us(fn, items, BUDGET_S)


def drive(coroutine: Coroutine[Any, Any, Decision]) -> Decision:
    """Run a coroutine that never suspends (MemoryStore.decide) without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise RuntimeError("MemoryStore.decide suspended")


def memory_figures() -> dict[str, float]:
    clock = [1_700_000_000.0]

    def tick() -> float:
        clock[0] += 1e-4
        return clock[0]

    store = MemoryStore(clock=tick)
    items = requests(USERS)
    assert all(store.decide_now(item).allowed for item in items)
    refused_store = MemoryStore(clock=tick)
    tight = [[Charge(c.key, Rate(1, 3600.0), peek=c.peek) for c in item] for item in items]
    for item in tight:
        refused_store.decide_now(item)
    assert not any(refused_store.decide_now(item).allowed for item in tight)
    return {
        "decide_now_us": per_call_us(store.decide_now, items),
        "decide_async_us": per_call_us(lambda item: drive(store.decide(item)), items),
        "decide_now_refused_us": per_call_us(refused_store.decide_now, tight),
    }


def footprint(identities: int) -> dict[str, float]:
    """Bytes per identity with one live Rate and one live Budget each."""
    rate, budget = Rate(100, 60.0), Budget(10_000, 3600.0)
    store = MemoryStore(clock=lambda: 1_700_000_000.0, max_keys=2 * identities)
    digests = (hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(identities))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for d in digests:
        # The caller's key strings are built per request and dropped: only what the store keeps counts.
        store.decide_now([Charge(f"q:list-rate:user:{d}", rate), Charge(f"q:list-records:user:{d}", budget, cost=50)])
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(store) == 2 * identities
    return {"identities": identities, "bytes_per_identity": used / identities, "mib_per_million": used / identities}


async def redis_figures(url: str) -> dict[str, float]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    store = RedisStore(url=url, prefix=prefix, max_connections=64)
    items = requests(USERS, salt=prefix)
    try:
        assert (await store.decide(items[0])).allowed  # loads the script

        async def run(tasks: int) -> float:
            done = 0
            deadline = time.perf_counter() + REDIS_S

            async def worker(offset: int) -> None:
                nonlocal done
                i = offset
                while time.perf_counter() < deadline:
                    await store.decide(items[i % USERS])
                    i += tasks
                    done += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(tasks)))
            return done / (time.perf_counter() - started)

        return {"sequential_per_s": await run(1), "concurrent32_per_s": await run(32)}
    finally:
        client = store._client
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=200_000, help="for the memory footprint")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    calibration = calibrate()
    memory = memory_figures()
    redis = asyncio.run(redis_figures(args.redis_url))
    size = footprint(args.identities)
    size["mib_per_million"] = size["bytes_per_identity"] * 1_000_000 / 2**20

    print(f"calibration (10 x str(int)): {calibration:.2f} µs  (idle laptop: ~0.7)")
    print("3 quotas over 2 identities (user Rate, IP Rate, peek at the user's record Budget)")
    print(f"{'store':<34} {'figure':>14}")
    flag = "" if memory["decide_now_us"] <= TARGET_US else "  (over target)"
    print(f"{'memory decide_now':<34} {memory['decide_now_us']:11.2f} µs{flag}")
    print(f"{'memory decide (coroutine)':<34} {memory['decide_async_us']:11.2f} µs")
    print(f"{'memory decide_now, all refused':<34} {memory['decide_now_refused_us']:11.2f} µs")
    print(f"{'redis, 1 task (sequential)':<34} {redis['sequential_per_s']:9.0f} dec/s")
    print(f"{'redis, 32 concurrent tasks':<34} {redis['concurrent32_per_s']:9.0f} dec/s")
    print(
        f"{'memory per identity (Rate+Budget)':<34} {size['bytes_per_identity']:9.0f} B    "
        f"({size['mib_per_million']:.0f} MiB per million, measured on {size['identities']:,})"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "calibration_us": calibration,
                "target_us": TARGET_US,
                "memory": memory,
                "redis": redis,
                "footprint": size,
                "python": platform.python_version(),
                "machine": platform.machine(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
