"""A real, throwaway PostgreSQL cluster on a loopback port, for the tests that run the
store on PostgreSQL.

    with PostgresServer() as server:
        server.create_database("migrated")
        with server.database(template="migrated") as url:   # a fresh copy, dropped after
            engine = make_engine(url)

The cluster lives in a temp directory (removed on stop) with `fsync=off`: nothing in it
is meant to survive. Trust authentication, loopback only, user `postgres`. A missing
installation is an error, not a skip: CI installs Debian's `postgresql` (see `.ci/run`).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

# What `backend` is parametrized over for tests that run on both (see tests/conftest.py).
BACKENDS = ("sqlite", "postgresql")
USER = "postgres"
TIMEZONE = "Asia/Kolkata"
START_TIMEOUT = 30  # seconds, for pg_ctl start -w


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin_dir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's versioned directory (newest)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if debian:
        return Path(debian[-1]).parent
    raise RuntimeError(
        "PostgreSQL is not installed, and the PostgreSQL store tests need a real server: "
        "apt-get install postgresql (.ci/run does this in CI)"
    )


def _version(initdb: str) -> int:
    name = Path(initdb).parent.parent.name
    return int(name) if name.isdigit() else 0


class PostgresServer:
    """Runs initdb and starts the cluster on `__enter__`, stops and deletes it on `__exit__`."""

    def __init__(self) -> None:
        self.bin_dir = _bin_dir()
        # PostgreSQL refuses to run as root: as root, run its programs as the `postgres`
        # OS user (Debian's package creates it), in a directory that user owns.
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise RuntimeError("running as root needs runuser to start PostgreSQL as postgres")
            self._as_user = ["runuser", "-u", USER, "--"]
        self.directory: Path | None = None
        self.port = 0
        self.version = 0  # the server's major version, once started
        self._names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        # Not under pytest's tmp_path: its parents are 0700 root, out of reach of `postgres`.
        # In memory where there is a tmpfs: copying the template database for each test
        # takes ~15 ms there and ~250 ms on disk, even with fsync off.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
        self.directory = Path(tempfile.mkdtemp(prefix="chatbot-postgres-", dir=shm))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        assert self.directory is not None
        if self._as_user:
            shutil.chown(self.directory, USER)
        # A UTF-8 locale, so ILIKE folds the case of "É" as well as of "E".
        self._run("initdb", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "-U", USER, "-D", str(self.data_dir))
        log = self.directory / "postgres.log"
        # The free port can be taken between our probe and the server binding it: try a few.
        for _ in range(3):
            self.port = _free_port()
            # A zone far from UTC, with a half-hour offset: nothing may pass only because
            # the server happens to run in UTC.
            options = (f"-p {self.port} -c fsync=off -c listen_addresses=127.0.0.1 "
                       f"-c timezone={TIMEZONE} -k {self.directory}")
            started = self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT),
                                "-D", str(self.data_dir), "-l", str(log), "-o", options,
                                check=False)
            if started.returncode == 0:
                with self._connect() as connection:
                    self.version = connection.info.server_version // 10000
                return
        # The directory goes with stop(): say what the log said.
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
        raise RuntimeError(f"PostgreSQL did not start:\n{tail}")

    def stop(self) -> None:
        directory, self.directory = self.directory, None
        if directory is None:
            return
        try:
            if (directory / "data" / "postmaster.pid").exists():
                # immediate: nothing here is worth a shutdown checkpoint.
                self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(directory / "data"),
                          check=False)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def create_database(self, name: str, *, template: str = "template0") -> str:
        """A new database (a copy of `template`); returns its SQLAlchemy URL."""
        # FILE_COPY (PostgreSQL 15+; what older versions always do) copies a small
        # database faster than the default WAL_LOG, which writes every page to the WAL.
        strategy = " STRATEGY FILE_COPY" if self.version >= 15 else ""
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # FORCE: a pool a test forgot to dispose must not keep the database alive.
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def database(self, *, template: str = "template0") -> Iterator[str]:
        """A fresh database for one test, dropped after it."""
        name = f"t{next(self._names)}"
        url = self.create_database(name, template=template)
        try:
            yield url
        finally:
            self.drop_database(name)

    def _admin(self, statement: str) -> None:
        with self._connect() as connection:
            connection.execute(statement)

    def _connect(self) -> psycopg.Connection:
        # CREATE/DROP DATABASE cannot run in a transaction: autocommit.
        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                               autocommit=True)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*self._as_user, str(self.bin_dir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")
        return result
