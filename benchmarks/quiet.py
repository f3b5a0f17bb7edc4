"""Was the machine quiet during a measurement? CPU used by anything but the benchmark itself.

On a 2-core machine a test suite running next door takes the server's core as well as the
other one (pinning keeps *our* processes apart, not everyone else's), and a single busy run can
swing a ratio by 30%. So each run measures the CPU time the whole machine spent (``/proc/stat``:
user, nice, system and steal; interrupts are left out because loopback traffic is ours) minus
what the server (and a Redis server it uses), the load generator and this process spent. What
is left is foreign load, in cores; the harness retries a run when it is high and leaves
disturbed rounds out of the medians.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_s() -> float | None:
    try:
        fields = (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, steal = int(fields[0]), int(fields[1]), int(fields[2]), int(fields[7])
    return (user + nice + system + steal) / _clock_ticks()


def _process_s(pid: int) -> float:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / _clock_ticks()


def _own_s() -> float:
    """This process plus its reaped children (wrk is one once ``subprocess.run`` returns)."""
    me, kids = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.user + me.system + kids.ru_utime + kids.ru_stime


@dataclass
class CpuMeter:
    """Foreign CPU load, in cores, between :meth:`start` and :meth:`stop`.

    ``None`` where ``/proc`` is missing (not Linux): runs then count as quiet.
    """

    pids: tuple[int, ...]  # the server's, and those of services it uses (redis-server)
    _busy: float | None = None
    _ours: float = 0.0
    _t0: float = 0.0

    def start(self) -> None:
        self._t0 = os.times().elapsed
        self._busy = _machine_busy_s()
        self._ours = self._ours_s()

    def _ours_s(self) -> float:
        return sum(_process_s(pid) for pid in self.pids) + _own_s()

    def stop(self) -> float | None:
        busy = _machine_busy_s()
        elapsed = os.times().elapsed - self._t0
        if busy is None or self._busy is None or elapsed <= 0:
            return None
        ours = self._ours_s() - self._ours
        return max(0.0, (busy - self._busy - ours) / elapsed)


def redis_server_pid(url: str) -> int | None:
    """The pid of the Redis server at ``url`` when it runs on this machine, else None."""
    try:
        import redis  # noqa: PLC0415  (only the Redis variants need it)

        client = redis.Redis.from_url(url, socket_timeout=1)
        try:
            pid = int(client.info("server")["process_id"])
        finally:
            client.close()
    except Exception:  # no Redis, or not a local one: nothing to count
        return None
    return pid if (_PROC / str(pid)).exists() else None
