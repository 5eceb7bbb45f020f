"""Running the sandbox on a loopback port, in a background thread of this process.

    with SandboxServer() as sandbox:
        client = anthropic.Anthropic(api_key="sk-test", base_url=sandbox.base_url)
"""

from __future__ import annotations

import socket
import threading

import uvicorn

from .app import DEFAULT_MAX_BODY_BYTES, SandboxConfig, create_app
from .limits import RequestWindow
from .state import SandboxState


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind ourselves so that port 0 still tells us which port we got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it, a response's first body chunk waits
    # for the client to acknowledge the headers (Nagle), and the client's delayed ACK made
    # every streamed reply after the first on a connection start ~40 ms late.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        # Listening at once means connections queue from the moment the URL is known,
        # even before uvicorn starts accepting (a client is never refused on start-up).
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_config(config: SandboxConfig) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config),
        # h11 everywhere: the drop fault relies on how the protocol closes a broken response.
        http="h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        # Streams in flight (a stall fault, a slow demo reply) must not hold up stop().
        timeout_graceful_shutdown=1,
    )


class ReadyServer(uvicorn.Server):
    """A uvicorn server that reports when it is listening, without polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class SandboxServer:
    """An Anthropic-compatible API on 127.0.0.1, served from a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_ms: float = 0.0,
        api_key: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        rpm_limit: int | None = None,
        rate_window: float = 60.0,
    ) -> None:
        """`rpm_limit`: answer 429 to /v1/messages beyond that many requests in any sliding
        `rate_window` seconds (a shorter window runs a rate-limit experiment faster)."""
        self.host = host
        self.port = port
        self.state = SandboxState()
        self.rate_limit = RequestWindow(rpm_limit, rate_window) if rpm_limit is not None else None
        self._config = SandboxConfig(self.state, api_key, delay_ms, max_body_bytes, self.rate_limit)
        self._server: ReadyServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("SandboxServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        if self._thread is not None:
            return self
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = ReadyServer(uvicorn_config(self._config))
        # uvicorn only installs signal handlers on the main thread, so none here.
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="anthropic-sandbox", daemon=True
        )
        self._thread.start()
        self._server.ready.wait()
        if not self._server.started:
            self.stop()
            raise RuntimeError("the sandbox server failed to start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
        self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_background_lock = threading.Lock()
_background: SandboxServer | None = None


def ensure_background_sandbox(delay_ms: float = 15.0) -> str:
    """Start this process's one sandbox on first call; every call returns its base URL."""
    global _background
    with _background_lock:
        if _background is None:
            _background = SandboxServer(delay_ms=delay_ms).start()
        return _background.base_url
