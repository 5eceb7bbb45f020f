"""A real, throwaway `redis-server` on a loopback port, for the shared-state tests.

    with RedisServer(tmp_dir) as server:
        client = redis.Redis.from_url(server.url)

Nothing is persisted (`--save ''`, no AOF) and its files stay in `tmp_dir`. A missing
binary is an error, not a skip: CI installs Debian's `redis-server` (see `.ci/run`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

# The test server requires this password, so every client in those tests really sends it,
# and the tests can check it never shows up in a repr, a log line or an error.
PASSWORD = "hunter2-s3cret-pw"
START_TIMEOUT = 10.0
POLL = 0.01


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """Starts on `__enter__` (waiting until it answers PING), stops on `__exit__`."""

    def __init__(self, directory: Path, *, password: str | None = None, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed, and the shared-state tests need a real one: "
                "apt-get install redis-server (.ci/run does this in CI)"
            )
        self.binary, self.directory, self.password = binary, Path(directory), password
        self.port, self._fixed_port = port or 0, port is not None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        # The free port can be taken between our probe and redis binding it: try a few.
        for _ in range(1 if self._fixed_port else 3):
            self.port = self.port if self._fixed_port else _free_port()
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", str(self.directory)]
            if self.password:
                args += ["--requirepass", self.password]
            log = (self.directory / f"redis-{self.port}.log").open("wb")
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait_until_ready():
                return
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.directory}/redis-*.log")

    def _wait_until_ready(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    return False  # exited, most likely because the port was taken
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(POLL)  # polling the server until it answers, not a fixed wait
            return False
        finally:
            client.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
