"""Real servers on free loopback ports for the tests: uvicorn in a thread, throwaway Redis.

``serve`` runs an ASGI app under uvicorn; ``RedisServer`` is one ``redis-server`` process (no
persistence) that a test can kill, freeze and restart; ``RedisClusterServers`` is three of them
joined into a Redis Cluster by ``redis-cli --cluster create``. A missing ``redis-server`` or
``redis-cli`` is an error, never a skip: the Redis guarantees must be tested everywhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import redis
import uvicorn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from starlette.types import ASGIApp

STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def require(program: str) -> str:
    """The path of ``program``; a missing one fails the test (with the fix), it never skips it."""
    found = shutil.which(program)
    if found is None:
        raise RuntimeError(f"{program} is not on PATH: install Redis >= 7 (the Redis tests never skip)")
    return found


@contextlib.contextmanager
def serve(app: ASGIApp, on_exit: Callable[[], None] | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields its base URL. Always shut down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", http="h11", ws="none", loop="asyncio", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        if on_exit is not None:
            on_exit()  # e.g. release a streaming response that waits for the test
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not shut down"


class RedisServer:
    """A throwaway redis-server on a loopback port: start, kill, freeze, thaw.

    ``options`` are extra ``redis-server`` arguments (e.g. the cluster ones).
    """

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                require("redis-server"),
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def client(self, **options: Any) -> redis.Redis:
        """A synchronous client of this one server (for setup and inspection)."""
        return redis.Redis(host="127.0.0.1", port=self.port, **options)


class RedisClusterServers:
    """Three primaries, no replicas, every slot assigned: a real Redis Cluster on loopback.

    Each node gets a free client port and a free cluster-bus port (``--cluster-port``, Redis 7;
    the default, port + 10000, may be taken or past 65535), and its nodes file in ``directory``.
    Use it as a context manager: it is torn down however the block ends.
    """

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes = [
            RedisServer(
                *("--cluster-enabled", "yes", "--cluster-port", str(free_port())),
                *("--cluster-config-file", str(directory / f"nodes-{i}.conf"), "--dir", str(directory)),
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        """One node's URL: enough for a cluster client to discover the others."""
        return self.nodes[0].url

    def __enter__(self) -> RedisClusterServers:
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [
                    require("redis-cli"),
                    *("--cluster", "create", *(f"127.0.0.1:{node.port}" for node in self.nodes)),
                    *("--cluster-replicas", "0", "--cluster-yes"),
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_ok(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        pending = list(self.nodes)
        while pending:
            with pending[0].client() as client:
                if client.execute_command("CLUSTER INFO")["cluster_state"] == "ok":
                    pending.pop(0)
                    continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis Cluster on port {pending[0].port} never reached cluster_state:ok")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
