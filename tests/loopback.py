"""Any ASGI app served for real on a loopback port, from a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from chatbot.sandbox.server import ReadyServer, bind_socket


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", *, name: str = "loopback-server") -> Iterator[str]:
    """Serve `app` (HTTP and websockets) on a free port of `host`; yields its base URL
    once it accepts connections."""
    sock = bind_socket(host, 0)
    server = ReadyServer(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                        timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    server.ready.wait()
    try:
        if not server.started:
            raise RuntimeError(f"{name} failed to start")
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
