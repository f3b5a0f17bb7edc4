"""How much throughput does shield cost? One command, variants interleaved, ratios to bare.

    .venv/bin/python -m benchmarks.overhead --duration 5 --rounds 3

Every variant's server runs for the whole measurement (one uvicorn subprocess each, idle ones cost
nothing); each round measures every variant of an endpoint back to back in a rotated order, so
slow drift of the machine hits bare and masking alike and cancels out of the per-round ratio.
Before any load, every variant's responses are checked (200, and for masking: really masked), so
a broken variant cannot post good numbers. Results go to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import fakedata
from benchmarks.apps import FRAMEWORKS, build_app
from benchmarks.loadgen import AsyncioLoad, LoadGenerator, Wrk
from benchmarks.quiet import CpuMeter, redis_server_pid
from benchmarks.report import Cell, markdown, write_chart, write_json
from benchmarks.serve import (
    ServerError,
    ServerSettings,
    UvicornServer,
    default_http,
    default_loop,
    get,
)
from benchmarks.variants import VARIANTS, VariantUnavailable, redis_url

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from benchmarks.fakedata import FakeUser

DEFAULT_VARIANTS = ("bare", "masking", "passthrough")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
_STARTUP_ESTIMATE_S = 1.5
_FIRST_WARMUP_S = 3.0


@dataclass(frozen=True)
class Endpoint:
    """A measured URL and the users its body must carry."""

    name: str
    path: str
    expected: Callable[[], Sequence[FakeUser]]


ENDPOINTS = {
    "list": Endpoint("list", "/users?offset=0&limit=50", lambda: fakedata.page(0, 50)),
    "single": Endpoint("single", "/users/42", lambda: fakedata.users()[41:42]),
}


def _names(value: str, known: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    return list(dict.fromkeys(names))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per run [5]")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each run [1]")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds [5]")
    p.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma list from: {', '.join(VARIANTS)} (bare is always added)",
    )
    p.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma list [list,single]")
    p.add_argument("--frameworks", default="fastapi", help=f"comma list from: {', '.join(FRAMEWORKS)}")
    p.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk, or the raw-asyncio Python client (auto: wrk when installed)",
    )
    p.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections [32]")
    p.add_argument("--loop", default=default_loop(), help="uvicorn --loop [uvloop if installed]")
    p.add_argument("--http", default=default_http(), help="uvicorn --http [httptools if installed]")
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin server (cpu 0) and wrk (cpu 1) to separate cores",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=1,
        help="measure a run again this often while other processes load the machine [1]",
    )
    p.add_argument(
        "--quiet-cores",
        type=float,
        default=0.15,
        help="foreign CPU load (in cores) above which a run counts as disturbed [0.15]",
    )
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a target is missed or a requested variant could not run",
    )
    args = p.parse_args(argv)
    try:
        variants = _names(args.variants, list(VARIANTS), "variants")
        args.variants = ["bare", *(v for v in variants if v != "bare")]
        args.endpoints = _names(args.endpoints, list(ENDPOINTS), "endpoints")
        args.frameworks = _names(args.frameworks, list(FRAMEWORKS), "frameworks")
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.retries < 0:
        p.error("need --rounds >= 1, --duration >= 1, --warmup >= 0, --retries >= 0")
    return args


def _pinning(no_pin: bool) -> tuple[str | None, str | None]:
    """Server on cpu 0, load generator on cpu 1: neither steals the other's core."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if no_pin or len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    first, second = sorted(cpus)[:2]
    return str(first), str(second)


def _loadgen(args: argparse.Namespace, cpus: str | None) -> LoadGenerator:
    wrk = Wrk.find()
    if args.loadgen == "wrk" and wrk is None:
        sys.exit("wrk not found on PATH (apt-get install wrk), or use --loadgen python")
    if args.loadgen != "python" and wrk is not None:
        return Wrk(threads=args.threads, connections=args.connections, cpus=cpus, binary=wrk)
    if args.loadgen == "auto":
        print("wrk not found: using the Python asyncio client (latencies include its own overhead)")
    if cpus is not None:  # the client runs in this process: keep it off the server's core
        os.sched_setaffinity(0, {int(cpus)})
    return AsyncioLoad(connections=args.connections, cpus=cpus)


def _verify(server: UvicornServer, endpoint: Endpoint) -> tuple[str, int, list[str]]:
    """The path to load, the body size and the problems with one response of ``server`` there."""
    variant = VARIANTS[server.variant]
    path = endpoint.path
    try:
        if variant.locate is not None:
            path = variant.locate(endpoint.name, path, lambda p: get(server.port, p))
        status, body = get(server.port, path)
    except (OSError, VariantUnavailable) as exc:
        return path, 0, [f"GET {path} failed: {exc}"]
    if status != 200:
        return path, len(body), [f"GET {path} answered {status}: {body[:200]!r}"]
    problems = variant.check(body, endpoint.expected())
    return path, len(body), [f"{endpoint.name}: {p}" for p in problems]


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("uvicorn", "fastapi", "starlette", "pydantic", "asgi-shield"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


def estimate_s(args: argparse.Namespace, cells: int | None = None) -> float:
    """Wall time of a run: server start-ups plus every warm-up and measurement."""
    servers = len(args.frameworks) * len(args.variants)
    cells = servers * len(args.endpoints) if cells is None else cells
    per_run = max(1, round(args.duration)) + max(1, round(args.warmup)) * (args.warmup > 0) + 0.2
    return servers * _STARTUP_ESTIMATE_S + cells * (args.rounds * per_run + _FIRST_WARMUP_S + 0.2)


class Run:
    """One invocation: start servers, verify, measure in interleaved rounds, summarise."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        server_cpus, load_cpus = _pinning(args.no_pin)
        self.settings = ServerSettings(loop=args.loop, http=args.http, cpus=server_cpus)
        self.loadgen = _loadgen(args, load_cpus)
        self.servers: dict[tuple[str, str], UvicornServer] = {}
        self.cells: dict[tuple[str, str, str], Cell] = {}
        self.skipped: list[str] = []
        self.retry_budget = 0
        self.redis_pid: int | None = None  # found on first use; 0 when no local redis-server answers
        self.paths: dict[tuple[str, str, str], str] = {}

    def _drop(self, framework: str, variant: str, why: str) -> None:
        self.skipped.append(f"`{variant}` ({framework}): {why}")
        print(f"  {framework}/{variant}: {why}", flush=True)
        server = self.servers.pop((framework, variant), None)
        if server is not None:
            server.close()
        for key in [k for k in self.cells if k[0] == framework and k[2] == variant]:
            del self.cells[key]

    def prepare(self) -> None:
        """Build each app in-process first (cheap, clear errors), then serve and verify it."""
        for framework in self.args.frameworks:
            for variant in self.args.variants:
                try:
                    build_app(framework, variant)
                except VariantUnavailable as exc:
                    self._drop(framework, variant, f"variant unavailable: {exc}")
                    continue
                except Exception as exc:  # any build error skips just this variant
                    self._drop(framework, variant, f"variant unavailable: {type(exc).__name__}: {exc}")
                    continue
                server = UvicornServer(framework, variant, self.settings)
                try:
                    server.start()
                except ServerError as exc:
                    self._drop(framework, variant, f"server failed: {exc}")
                    continue
                self.servers[framework, variant] = server
                self._verify_variant(framework, variant, record=True)

    def _verify_variant(self, framework: str, variant: str, *, record: bool) -> bool:
        server = self.servers[framework, variant]
        target_of = VARIANTS[variant].targets
        for name in self.args.endpoints:
            path, size, problems = _verify(server, ENDPOINTS[name])
            self.paths[framework, name, variant] = path
            if problems:
                self._drop(framework, variant, "invalid response, not measured: " + "; ".join(problems[:3]))
                return False
            if record:
                cell = Cell(framework, name, variant, size, target_of.get(name))
                self.cells[framework, name, variant] = cell
        return True

    def measure(self) -> None:
        args = self.args
        # A first, longer warm-up per cell: fresh processes still fill caches and import lazily,
        # which otherwise lands on round 1 of whichever variant happens to go first.
        for framework, endpoint, variant in list(self.cells):
            server = self.servers[framework, variant]
            with contextlib.suppress(RuntimeError, OSError):
                self.loadgen.run(server.base_url + self.paths[framework, endpoint, variant], _FIRST_WARMUP_S)
        # Retries stretch the run at most by a quarter, however busy the machine stays.
        self.retry_budget = len(self.cells) * args.rounds * args.retries // 4
        for rnd in range(args.rounds):
            for framework in args.frameworks:
                for endpoint in args.endpoints:
                    variants = [v for v in args.variants if (framework, endpoint, v) in self.cells]
                    shift = rnd % max(1, len(variants))
                    for variant in variants[shift:] + variants[:shift]:
                        self._measure_one(rnd, framework, endpoint, variant)
            print(f"  round {rnd + 1}/{args.rounds} done", flush=True)

    def _services_of(self, variant: str) -> tuple[int, ...]:
        """The pids of what the variant runs on besides its server (redis-server), found once."""
        if not VARIANTS[variant].uses_redis:
            return ()
        if self.redis_pid is None:
            self.redis_pid = redis_server_pid(redis_url()) or 0
        return (self.redis_pid,) if self.redis_pid else ()

    def _measure_one(self, rnd: int, framework: str, endpoint: str, variant: str) -> None:
        """Warm up, measure; measure again (up to ``--retries``) while the machine is busy."""
        server = self.servers.get((framework, variant))
        if server is None:
            return
        if VARIANTS[variant].locate is not None:  # tokens expire: follow a fresh link each time, as clients do
            path, _, problems = _verify(server, ENDPOINTS[endpoint])
            if problems:
                self._drop(framework, variant, "invalid response, not measured: " + "; ".join(problems[:3]))
                return
            self.paths[framework, endpoint, variant] = path
        url = server.base_url + self.paths[framework, endpoint, variant]
        for attempt in range(self.args.retries + 1):
            meter = CpuMeter((server.pid, *self._services_of(variant)))
            try:
                if self.args.warmup > 0:
                    self.loadgen.run(url, self.args.warmup)
                meter.start()
                result = self.loadgen.run(url, self.args.duration)
            except (RuntimeError, OSError) as exc:
                self._drop(framework, variant, f"load run failed: {exc}")
                return
            foreign = meter.stop()
            if foreign is None or foreign <= self.args.quiet_cores or attempt == self.args.retries:
                break
            if self.retry_budget <= 0:
                break
            self.retry_budget -= 1
            print(f"  r{rnd + 1} {framework:9} {endpoint:6} {variant:12} busy machine "
                  f"({foreign:.2f} foreign cores): measuring again", flush=True)  # fmt: skip
        if not server.alive():
            self._drop(framework, variant, f"server died under load: {server.log_tail()}")
            return
        if result.errors:
            self._drop(framework, variant, f"{result.errors} failed/non-2xx responses under load")
            return
        cell = self.cells[framework, endpoint, variant]
        cell.runs[rnd], cell.foreign[rnd] = result, foreign
        busy = "" if foreign is None or foreign <= self.args.quiet_cores else f"  BUSY {foreign:.2f}"
        print(f"  r{rnd + 1} {framework:9} {endpoint:6} {variant:12} {result.rps:8.0f} req/s  "
              f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms{busy}", flush=True)  # fmt: skip

    def finish(self) -> None:
        """Check every response once more after the load, then stop all servers."""
        for framework, variant in list(self.servers):
            self._verify_variant(framework, variant, record=False)
        for server in self.servers.values():
            server.close()
        self.servers.clear()

    def meta(self, started: datetime, elapsed_s: float) -> dict[str, Any]:
        return {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed_s, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
            "versions": _versions(),
            "server": self.settings.describe(),
            "loadgen": self.loadgen.describe(),
            "duration_s": self.args.duration,
            "warmup_s": self.args.warmup,
            "rounds": self.args.rounds,
            "retries": self.args.retries,
            "quiet_cores": self.args.quiet_cores,
            "frameworks": self.args.frameworks,
            "variants": self.args.variants,
            "endpoints": {n: ENDPOINTS[n].path for n in self.args.endpoints},
            "order": "per round, variants of one endpoint back to back, order rotated each round",
        }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, t0 = datetime.now(UTC), time.monotonic()
    run = Run(args)
    server = run.settings
    print(f"server: uvicorn loop={server.loop} http={server.http} cpus={server.cpus or 'any'}; "
          f"load: {run.loadgen.describe()}", flush=True)  # fmt: skip
    print(f"estimated run time: {estimate_s(args) / 60:.1f} min on a quiet machine "
          "(retries on a busy machine add at most a quarter)", flush=True)  # fmt: skip
    try:
        run.prepare()
        if not any(v == "bare" for _, _, v in run.cells):
            print("bare app could not be served or verified: nothing to compare against")
            return 2
        print(f"measuring {len(run.cells)} endpoint/variant cells x {args.rounds} rounds: "
              f"~{estimate_s(args, len(run.cells)) / 60:.1f} min", flush=True)  # fmt: skip
        run.measure()
        run.finish()
    finally:
        for server in run.servers.values():
            server.close()
    meta = run.meta(started, time.monotonic() - t0)
    rank = {name: i for i, name in enumerate([*args.frameworks, *args.endpoints, *args.variants])}
    cells = sorted(run.cells.values(), key=lambda c: [rank[c.framework], rank[c.endpoint], rank[c.variant]])
    rows = [
        cell.summary(run.cells.get((cell.framework, cell.endpoint, "bare")), args.quiet_cores)
        for cell in cells
        if cell.runs
    ]
    text = markdown(meta, rows, run.skipped)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "overhead.json", meta, rows, run.skipped)
    (args.out / "overhead.md").write_text(text)
    why_not = write_chart(args.out / "overhead.png", rows)
    print(f"wrote {args.out}/overhead.json, overhead.md" + (f" ({why_not})" if why_not else ", overhead.png"))
    missed = any(row["passed"] is False for row in rows)
    return 1 if args.check and (missed or run.skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
