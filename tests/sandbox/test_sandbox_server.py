"""Starting and stopping the sandbox: ports, the per-process singleton, the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
from sandbox_helpers import HEADERS, message_request

from chatbot.sandbox import SandboxServer, ensure_background_sandbox
from chatbot.sandbox.__main__ import parse_args


def test_port_zero_picks_a_free_port_and_stop_frees_it():
    server = SandboxServer().start()
    try:
        assert server.port != 0 and server.base_url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.base_url}/v1/models", headers=HEADERS).status_code == 200
    finally:
        server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0


def test_two_servers_have_separate_state(sandbox):
    with SandboxServer() as other:
        other.state.add_faults([{"kind": "status", "status": 529}])
        assert httpx.post(f"{sandbox.base_url}/v1/messages", json=message_request(), headers=HEADERS).status_code == 200
        assert httpx.post(f"{other.base_url}/v1/messages", json=message_request(), headers=HEADERS).status_code == 529


def test_ensure_background_sandbox_starts_one_per_process():
    url = ensure_background_sandbox(delay_ms=0)
    assert ensure_background_sandbox() == url
    assert httpx.get(f"{url}/v1/models", headers=HEADERS).status_code == 200


def test_cli_arguments():
    args = parse_args(["--port", "9001", "--api-key", "k"])
    assert (args.host, args.port, args.delay_ms, args.api_key) == ("127.0.0.1", 9001, 15.0, "k")


def test_cli_serves_in_the_foreground():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.sandbox", "--port", str(port), "--delay-ms", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        # The URL is printed after the socket is bound, and a bound socket queues connections.
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        response = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=message_request(), headers=HEADERS)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=5)
