"""Adversarial inputs that used to take quadratic time: each must now scale linearly.

Run: .venv/bin/python -m benchmarks.adversarial   (a few seconds)

Each case is timed at n and 2n; a linear algorithm roughly doubles, a quadratic one
quadruples. Timings live here, never in tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from shield import Policy, ShieldMiddleware, mask_json, mask_text


def colliding_keys(n: int) -> None:
    mask_json({f"user{i}@example.com": i for i in range(n)})


def emails_with_digits(n: int) -> None:
    mask_text(" ".join(f"u{i:05d}@ex.co" for i in range(n)))


def spaced_digits(n: int) -> None:
    mask_text(" ".join(str(i % 10) for i in range(n)))


def sse_event_in_many_chunks(n: int) -> None:
    chunks = [b"data: " + b"x" * 1000 + b"\r\n"] * n + [b"\r\n"]

    async def app(scope: object, receive: object, send: Callable[..., object]) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
        await send(start)  # type: ignore[misc]
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})  # type: ignore[misc]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[misc]

    async def run() -> None:
        async def receive() -> dict[str, str]:
            return {"type": "http.request"}

        async def send(message: object) -> None:
            return None

        scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
        await ShieldMiddleware(app, Policy.from_dict({}))(scope, receive, send)  # type: ignore[arg-type]

    asyncio.run(run())


CASES: dict[str, tuple[Callable[[int], None], int]] = {
    "4k..8k keys that mask alike (mask_json)": (colliding_keys, 4000),
    "6k..12k emails with digits in one text (mask_text)": (emails_with_digits, 6000),
    "one SSE event in 2k..4k chunks (middleware)": (sse_event_in_many_chunks, 2000),
    "20k..40k single digits separated by spaces (mask_text)": (spaced_digits, 20000),
}


def main() -> None:
    print(f"{'case':55} {'n s':>8} {'2n s':>8} {'ratio':>6}")
    for name, (case, n) in CASES.items():
        times = []
        for size in (n, 2 * n):
            began = time.perf_counter()
            case(size)
            times.append(time.perf_counter() - began)
        print(f"{name:55} {times[0]:8.3f} {times[1]:8.3f} {times[1] / times[0]:6.1f}")


if __name__ == "__main__":
    main()
