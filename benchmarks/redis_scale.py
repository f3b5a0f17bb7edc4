"""Redis scale: decisions per second and over-admission with 1, 2 and 4 workers sharing one Redis.

For each worker count, uvicorn serves ``scale_app`` (one requests quota of ``--limit`` per hour
on Redis, a fresh key prefix per run) and wrk hammers it for ``--duration`` seconds, far past the
limit. Every request is one atomic Redis decision; the quota must admit exactly ``--limit``
requests however many workers race for it (over-admission must be zero).

    .venv/bin/python -m benchmarks.redis_scale                 # ~1 min
    .venv/bin/python -m benchmarks.redis_scale --workers 1,2,4 --duration 8 --limit 5000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis

from benchmarks.loadgen import Wrk
from benchmarks.scale_app import LIMIT_ENV, PREFIX_ENV

RESULTS = Path(__file__).resolve().parent / "results" / "redis_scale.json"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def measure(workers: int, limit: int, duration: float, connections: int) -> dict[str, float | int]:
    prefix = f"shield-scale-{uuid.uuid4().hex[:10]}"
    port = free_port()
    env = {**os.environ, PREFIX_ENV: prefix, LIMIT_ENV: str(limit)}
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.scale_app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        wrk = Wrk(threads=1, connections=connections, binary=Wrk.find() or "wrk")
        result = wrk.run(base + "/ping", duration)
    finally:
        server.terminate()
        server.wait(timeout=20)
        _purge(prefix)
    admitted = result.requests - result.errors
    return {
        "workers": workers,
        "limit": limit,
        "requests": result.requests,
        "decisions_per_s": round(result.rps),
        "admitted": admitted,
        "over_admitted": max(0, admitted - limit),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
    }


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    import httpx  # noqa: PLC0415  # only for the readiness probe

    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/health", timeout=1)
            time.sleep(1.0)  # let every worker finish starting
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start") from None
            time.sleep(0.2)


def _purge(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_scale", description=__doc__)
    parser.add_argument("--workers", default="1,2,4", help="comma list of worker counts [1,2,4]")
    parser.add_argument("--limit", type=int, default=3000, help="requests the quota admits [3000]")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per worker count [6]")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections [64]")
    args = parser.parse_args(argv)
    if Wrk.find() is None:
        sys.exit("wrk not found on PATH (apt-get install wrk)")
    rows = [measure(int(n), args.limit, args.duration, args.connections) for n in args.workers.split(",")]
    print(f"{'workers':>7} {'decisions/s':>12} {'requests':>9} {'admitted':>9} {'limit':>7} {'over':>5} {'p99 ms':>7}")
    for row in rows:
        print(
            f"{row['workers']:>7} {row['decisions_per_s']:>12} {row['requests']:>9} {row['admitted']:>9} "
            f"{row['limit']:>7} {row['over_admitted']:>5} {row['p99_ms']:>7.1f}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "duration_s": args.duration, "rows": rows}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 1 if any(row["over_admitted"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
