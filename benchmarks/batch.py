"""Batches against a server with a fixed latency: how close to the ideal wall time?

200 requests of 100 ms each at concurrency 20 can at best take 200 / 20 * 0.1 = 1.0 s.
Ours (`run_batch` over `LLMClient.create`, with its retry policy and parsing) is measured
beside plain httpx posts on the same thread pool size, in one run.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from chatbot.llm import ChatRequest, ClientSettings, LLMClient, Secret, Turn
from chatbot.llm.batch import run_batch

BODY = json.dumps({
    "id": "msg_b", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Your order ships today."}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 6},
}).encode()


async def _messages(request):
    # An asyncio server: 20 overlapping 100 ms waits cost it nothing, unlike a
    # thread-per-connection server, which on 2 cores would itself be the bottleneck.
    await request.body()
    await asyncio.sleep(request.app.state.latency)
    return Response(BODY, media_type="application/json", headers={"request-id": "req_bench"})


def app(latency: float) -> Starlette:
    application = Starlette(routes=[Route("/v1/messages", _messages, methods=["POST"])])
    application.state.latency = latency
    return application


def _serve(latency: float) -> tuple[subprocess.Popen, str]:
    """The server runs in its own process: in ours it would share the GIL with the client
    threads on a 2-core machine and the benchmark would time the server, not the client."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.batch", str(port), str(latency)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    transport = httpx.HTTPTransport(retries=100)  # connect retries while it starts
    with httpx.Client(transport=transport) as probe_client:
        for _ in range(100):
            try:
                probe_client.post(f"{base}/v1/messages", content=b"{}")
                break
            except httpx.TransportError:
                continue
    return process, base


def run(n: int = 200, concurrency: int = 20, latency: float = 0.1, rounds: int = 3) -> dict:
    server, base = _serve(latency)
    ideal = n / concurrency * latency
    request = ChatRequest(model="claude-haiku-4-5", messages=[Turn("user", "Where is my order?")])
    client = LLMClient(ClientSettings(api_key=Secret("k"), base_url=base))
    plain = httpx.Client(base_url=base, limits=httpx.Limits(max_connections=50))

    def ours() -> None:
        results = run_batch(client, [request] * n, concurrency=concurrency)
        assert all(r.ok for r in results)

    def baseline() -> None:
        body = request.to_body(stream=False)
        with ThreadPoolExecutor(concurrency) as pool:
            replies = list(pool.map(lambda _: plain.post("/v1/messages", json=body).json(), range(n)))
        assert all(r["content"][0]["text"] for r in replies)

    timings: dict[str, list[float]] = {"ours: run_batch": [], "plain httpx + threads": []}
    try:
        for _ in range(rounds):
            for name, fn in (("ours: run_batch", ours), ("plain httpx + threads", baseline)):
                started = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - started)
    finally:
        client.close()
        plain.close()
        server.terminate()
        server.wait(timeout=10)
    return {
        "requests": n, "concurrency": concurrency, "latency_s": latency, "ideal_s": ideal,
        "clients": {
            name: {"median_s": statistics.median(t), "vs_ideal": statistics.median(t) / ideal}
            for name, t in timings.items()
        },
    }


def format_table(result: dict) -> str:
    lines = [
        f"batch: {result['requests']} requests x {result['latency_s'] * 1000:.0f} ms at "
        f"concurrency {result['concurrency']}; ideal {result['ideal_s']:.2f} s",
        f"{'client':<26}{'median s':>10}{'vs ideal':>10}",
    ]
    for name, row in result["clients"].items():
        lines.append(f"{name:<26}{row['median_s']:>10.3f}{row['vs_ideal']:>9.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":  # the server process started by _serve
    uvicorn.run(app(float(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]),
                log_level="warning", access_log=False)
