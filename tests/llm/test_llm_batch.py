"""Batches: bounded concurrency, input order, per-item errors, progress, cancellation."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatbot.llm import ChatRequest, ClientSettings, LLMClient, Secret, Turn, errors
from chatbot.llm.batch import BatchCancelled, run_batch


def ask(text: str, model: str = "claude-haiku-4-5") -> ChatRequest:
    return ChatRequest(model=model, messages=[Turn("user", text)], max_tokens=200)


@pytest.fixture
def client(sandbox):
    client = LLMClient(ClientSettings(api_key=Secret("k"), base_url=sandbox.base_url, max_attempts=1))
    yield client
    client.close()


def test_results_come_back_in_input_order_with_per_item_errors(client):
    requests = [ask(f"question number {i}") for i in range(12)]
    requests[5] = ask("to a model that does not exist", model="claude-nonexistent")
    progress: list[int] = []
    results = run_batch(client, requests, concurrency=4, on_progress=lambda d, t: progress.append(d))
    assert [r.index for r in results] == list(range(12))
    assert sorted(progress) == list(range(1, 13))
    for i, result in enumerate(results):
        if i == 5:
            assert not result.ok and isinstance(result.error, errors.NotFound)
        else:
            assert result.ok and f"question number {i}" in result.reply.text


def test_cancel_stops_items_not_yet_sent(client, sandbox):
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 3:
            cancel.set()

    results = run_batch(client, [ask(f"q{i}") for i in range(10)], concurrency=1,
                        on_progress=progress, cancel=cancel)
    assert [r.ok for r in results[:3]] == [True] * 3
    assert all(isinstance(r.error, BatchCancelled) for r in results[3:])
    assert len(sandbox.state.requests()) == 3


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        server = self.server
        self.rfile.read(int(self.headers["content-length"]))
        with server.lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
        time.sleep(0.05)  # the server's latency, so that calls overlap
        with server.lock:
            server.in_flight -= 1
        body = json.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_concurrency_is_bounded():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.lock, server.in_flight, server.peak = threading.Lock(), 0, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = LLMClient(ClientSettings(api_key=Secret("k"), base_url=f"http://127.0.0.1:{server.server_port}"))
    try:
        results = run_batch(client, [ask(str(i)) for i in range(24)], concurrency=6)
    finally:
        client.close()
        server.shutdown()
    assert all(r.ok for r in results)
    assert 2 <= server.peak <= 6


def test_empty_batch_and_bad_concurrency(client):
    assert run_batch(client, []) == []
    with pytest.raises(ValueError):
        run_batch(client, [ask("x")], concurrency=0)
