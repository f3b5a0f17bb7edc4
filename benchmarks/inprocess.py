"""In-process cost per request: what each variant adds to the bare app, without server or network.

``overhead.py`` measures what counts (the share of bare req/s kept through uvicorn), but on a
shared 2-core machine neighbours move those ratios by 10-30 %. Here the same apps and variants
are called directly as ASGI apps on one event loop, the same paths as ``overhead.py`` loads,
best of interleaved rounds: a steadier figure of what shield costs per request, fit for
comparing two commits (run it in a worktree of each). Variants on Redis include the loopback
round trips; no response body is checked here (``overhead.py`` does that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.apps import FRAMEWORKS, build_app
from benchmarks.overhead import ENDPOINTS, _names
from benchmarks.variants import VARIANTS

RESULTS = Path(__file__).parent / "results" / "inprocess.json"
DEFAULT_VARIANTS = ("masking", "pagination", "tokens", "quotas-memory", "quotas-redis", "full-memory", "full-redis")


def _scope(path_and_query: str) -> dict[str, Any]:
    path, _, query = path_and_query.partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"inprocess"), (b"accept", b"*/*")]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _get(app: Any, path: str) -> tuple[int, bytes]:
    status, body = 0, bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(_scope(path), receive, send)
    return status, bytes(body)


async def _time_us(app: Any, path: str, requests: int) -> float:
    """Wall-clock µs per request over ``requests`` sequential requests (each checked for a 200)."""
    started = time.perf_counter()
    for _ in range(requests):
        status, _ = await _get(app, path)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    return (time.perf_counter() - started) / requests * 1e6


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    loop = asyncio.new_event_loop()
    cells: dict[tuple[str, str, str], tuple[Any, str]] = {}
    for framework in args.frameworks:
        for variant in ("bare", *args.variants):
            app = build_app(framework, variant)
            for endpoint in args.endpoints:
                path = ENDPOINTS[endpoint].path
                locate = VARIANTS[variant].locate
                if locate is not None:  # the same page or record through its token, as overhead.py loads
                    path = locate(endpoint, path, lambda p, app=app: loop.run_until_complete(_get(app, p)))
                loop.run_until_complete(_time_us(app, path, max(1, args.requests // 10)))  # warm-up
                cells[framework, endpoint, variant] = (app, path)
    best: dict[tuple[str, str, str], float] = {}
    for round_ in range(args.rounds):
        order = list(cells)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]  # rotated: drift cancels
        for key in order:
            app, path = cells[key]
            us = loop.run_until_complete(_time_us(app, path, args.requests))
            best[key] = min(best.get(key, us), us)
    loop.close()
    rows = []
    for (framework, endpoint, variant), us in best.items():
        bare = best[framework, endpoint, "bare"]
        rows.append(
            {
                "framework": framework,
                "endpoint": endpoint,
                "variant": variant,
                "path": cells[framework, endpoint, variant][1],
                "us_per_request": round(us, 1),
                "overhead_us": round(us - bare, 1),
            }
        )
    return sorted(rows, key=lambda r: (r["framework"], r["endpoint"], r["variant"] != "bare"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inprocess", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma list from: {', '.join(VARIANTS)}")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma list [list,single]")
    p.add_argument("--frameworks", default="fastapi", help=f"comma list from: {', '.join(FRAMEWORKS)}")
    p.add_argument("--requests", type=int, default=1000, help="requests per measurement [1000]")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best counts [5]")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output [{RESULTS}]")
    args = p.parse_args(argv)
    args.variants = [v for v in _names(args.variants, list(VARIANTS), "variants") if v != "bare"]
    args.endpoints = _names(args.endpoints, list(ENDPOINTS), "endpoints")
    args.frameworks = _names(args.frameworks, list(FRAMEWORKS), "frameworks")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = measure(args)
    print("| framework | endpoint | variant | µs per request | added to bare |")
    print("|---|---|---|--:|--:|")
    for r in rows:
        added = "" if r["variant"] == "bare" else f"{r['overhead_us']:.0f}"
        print(f"| {r['framework']} | {r['endpoint']} | {r['variant']} | {r['us_per_request']:.0f} | {added} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "requests": args.requests,
        "rounds": args.rounds,
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
