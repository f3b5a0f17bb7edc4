"""Load generators: wrk when installed, a bounded raw-asyncio HTTP/1.1 client otherwise.

wrk is the real instrument: a C client with keep-alive connections that costs the server's
neighbour core little. The Python fallback keeps the harness usable without it and, pinned to
its own core, still saturates one uvicorn worker; its latency figures include Python's own
scheduling, so compare them only with each other. The report names which generator ran.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

_LUA_REPORT = Path(__file__).with_name("wrk_report.lua")
_MARKER = "WRK_JSON "


@dataclass(frozen=True)
class LoadResult:
    """One measurement. ``errors`` counts failed requests and non-2xx/3xx answers."""

    requests: int
    duration_s: float
    bytes: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


class LoadGenerator(Protocol):
    """Drives ``url`` for ``duration_s`` seconds and reports what it saw."""

    name: str

    def describe(self) -> dict[str, object]: ...

    def run(self, url: str, duration_s: float) -> LoadResult: ...


@dataclass(frozen=True)
class Wrk:
    """wrk with a Lua ``done`` hook printing JSON; optionally pinned to ``cpus``."""

    threads: int
    connections: int
    cpus: str | None = None
    binary: str = "wrk"
    name: str = "wrk"

    @staticmethod
    def find() -> str | None:
        return shutil.which("wrk")

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip() if out.stdout or out.stderr else ""

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version(),
            "threads": self.threads,
            "connections": self.connections,
            "cpus": self.cpus,
        }

    def run(self, url: str, duration_s: float) -> LoadResult:
        seconds = max(1, round(duration_s))
        cmd = [
            self.binary, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
            "--timeout", "5s", "-s", str(_LUA_REPORT), url,
        ]  # fmt: skip
        taskset = shutil.which("taskset")
        if self.cpus is not None and taskset:
            cmd = [taskset, "-c", self.cpus, *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith(_MARKER)), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
        data = json.loads(line.removeprefix(_MARKER))
        latency = data["latency_us"]
        return LoadResult(
            requests=data["requests"],
            duration_s=data["duration_us"] / 1e6,
            bytes=data["bytes"],
            errors=sum(data["errors"].values()),
            p50_ms=latency["p50"] / 1000,
            p99_ms=latency["p99"] / 1000,
        )


class _Http1Connection:
    """Just enough HTTP/1.1 keep-alive client for GETs to our own loopback server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Http1Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def get(self, request: bytes) -> tuple[int, int]:
        """Send one request; return (status, body bytes)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        if (at := headers.find(b"\r\ncontent-length:")) >= 0:
            length = int(headers[at + 17 : headers.index(b"\r\n", at + 2)])
            await self.reader.readexactly(length)
            return status, length
        if b"\r\ntransfer-encoding: chunked" not in headers:
            raise ConnectionError("response has neither Content-Length nor chunked encoding")
        total = 0
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await self.reader.readexactly(size + 2)
            total += size
        await self.reader.readuntil(b"\r\n")  # the empty line after the last chunk
        return status, total

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class AsyncioLoad:
    """Fallback: ``connections`` asyncio workers, each on one raw keep-alive HTTP/1.1 socket.

    Not httpx: its connection pool collapses under concurrency (about 200 req/s at 32
    connections here, against the server's 3,000+), so it would measure itself. This raw client
    keeps up with a single uvicorn worker. Bounded by time and by ``max_requests``.
    """

    connections: int
    cpus: str | None = None
    max_requests: int = 1_000_000
    name: str = "python-asyncio"

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "connections": self.connections, "cpus": self.cpus}

    def run(self, url: str, duration_s: float) -> LoadResult:
        return asyncio.run(self._run(url, duration_s))

    async def _run(self, url: str, duration_s: float) -> LoadResult:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        latencies: list[float] = []
        counts = {"bytes": 0, "errors": 0}
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker() -> None:
            conn: _Http1Connection | None = None
            while time.perf_counter() < deadline and len(latencies) < self.max_requests:
                t0 = time.perf_counter()
                try:
                    conn = conn or await _Http1Connection.open(host, port)
                    status, size = await asyncio.wait_for(conn.get(request), timeout=5.0)
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                    counts["errors"] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    continue
                latencies.append(time.perf_counter() - t0)
                counts["bytes"] += size
                if status >= 400:
                    counts["errors"] += 1
            if conn is not None:
                conn.close()

        await asyncio.gather(*(worker() for _ in range(self.connections)))
        elapsed = time.perf_counter() - start
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return LoadResult(
            requests=len(latencies),
            duration_s=elapsed,
            bytes=counts["bytes"],
            errors=counts["errors"],
            p50_ms=cuts[49] * 1000,
            p99_ms=cuts[98] * 1000,
        )
