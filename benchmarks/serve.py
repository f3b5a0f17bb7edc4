"""Run one benchmark app under uvicorn in a subprocess on loopback.

A subprocess, not an in-process server: the load generator and the server must not share a GIL,
and the server is then exactly what a deployment runs (one worker, no access log).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self

from benchmarks.apps import FRAMEWORK_ENV, VARIANT_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


def default_loop() -> str:
    """uvloop when installed, as uvicorn's ``auto`` would pick, but named so it is recorded."""
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def default_http() -> str:
    """httptools when installed, else h11 (again what ``auto`` picks)."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


@dataclass(frozen=True)
class ServerSettings:
    """How every variant's server runs; identical across variants so ratios compare like with like.

    ``cpus`` pins the server (``taskset``) so it does not fight the load generator for a core.
    """

    loop: str
    http: str
    cpus: str | None = None

    def describe(self) -> dict[str, str | None]:
        return {"loop": self.loop, "http": self.http, "cpus": self.cpus, "workers": "1"}


def free_port() -> int:
    """A port the kernel says is free now (tiny race until uvicorn binds it, retried by caller)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One plain GET with the stdlib, used for readiness and response checks."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class ServerError(RuntimeError):
    """The server did not start, or died."""


class UvicornServer:
    """One ``framework``/``variant`` app served by uvicorn until :meth:`stop`.

    Use as a context manager; the log goes to a temp file so a full pipe can never stall it.
    """

    def __init__(self, framework: str, variant: str, settings: ServerSettings) -> None:
        self.framework = framework
        self.variant = variant
        self.settings = settings
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "uvicorn", "benchmarks.apps:create_app", "--factory",
            "--host", HOST, "--port", str(self.port),
            "--loop", self.settings.loop, "--http", self.settings.http,
            "--no-access-log", "--log-level", "warning", "--lifespan", "off",
        ]  # fmt: skip
        taskset = shutil.which("taskset")
        if self.settings.cpus is not None and taskset:
            cmd = [taskset, "-c", self.settings.cpus, *cmd]
        return cmd

    def start(self, attempts: int = 3) -> None:
        """Start and wait until ``GET /users/1`` answers; retries on a lost port race."""
        last = ""
        for _ in range(attempts):
            self.close()
            self.port = free_port()
            self._log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
            env = {**os.environ, FRAMEWORK_ENV: self.framework, VARIANT_ENV: self.variant}
            self._proc = subprocess.Popen(
                self._command(), cwd=PROJECT_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            if self._wait_ready():
                return
            last = self.log_tail()
            self.stop()
            if "address already in use" not in last.lower():
                break
        raise ServerError(f"{self.framework}/{self.variant} did not start: {last}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            with contextlib.suppress(OSError):
                get(self.port, "/users/1", timeout=1.0)
                return True
            time.sleep(0.05)
        return False

    @property
    def pid(self) -> int:
        """The uvicorn process (``taskset`` execs it, so the pid is the server's own)."""
        if self._proc is None:
            raise ServerError(f"{self.framework}/{self.variant} is not running")
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, limit: int = 300) -> str:
        """The last line of the server's log (a traceback's last line names the error)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1][-limit:] if lines else "(no output)"

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful stop), then kill if it lingers. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        """Stop the server and drop its log."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
