"""What each client costs to read one long streamed reply, side by side.

Every contender reads the same recorded stream from the same loopback server. Rounds are
interleaved (each round runs every contender once, in a rotating order) so that a noisy
neighbour or a CPU frequency change hits them all alike; we report the median and the min.

The baseline is the smallest correct client: httpx line iteration plus `json.loads` of each
`data:` line. The floor (the same without JSON) shows how much of that is parsing at all.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from chatbot.llm import ChatRequest, ClientSettings, LLMClient, Secret, Turn

from .stream_server import MODEL, RecordedStream, StreamServer, build_stream

BASELINE = "httpx_json"
MAX_TOKENS = 64_000
PROMPT = "Where is my order #1042?"


@dataclass
class Contender:
    """One client under test. `run` makes one whole request and returns what it received:
    the full text, or (for the floor, which parses nothing) the number of `data:` lines."""

    name: str
    label: str
    run: Callable[[], str | int]
    close: Callable[[], None]


# -- the contenders -------------------------------------------------------------------------


def _httpx_client(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        timeout=httpx.Timeout(60.0),
    )


def _body() -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "stream": True,
        "messages": [{"role": "user", "content": PROMPT}],
    }


def httpx_lines_floor(base_url: str) -> Contender:
    http = _httpx_client(base_url)

    def run() -> int:
        count = 0
        with http.stream("POST", "/v1/messages", json=_body()) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    count += 1
        return count

    return Contender("httpx_lines", "httpx iter_lines, no JSON (floor)", run, http.close)


def httpx_json_baseline(base_url: str) -> Contender:
    http = _httpx_client(base_url)

    def run() -> str:
        parts: list[str] = []
        with http.stream("POST", "/v1/messages", json=_body()) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                    parts.append(event["delta"]["text"])
        return "".join(parts)

    return Contender(BASELINE, "httpx iter_lines + json.loads (baseline)", run, http.close)


def ours(base_url: str) -> Contender:
    client = LLMClient(ClientSettings(api_key=Secret("k"), base_url=base_url))
    request = ChatRequest(model=MODEL, messages=[Turn("user", PROMPT)], max_tokens=MAX_TOKENS)

    def run() -> str:
        with client.stream(request) as reply:
            parts = list(reply)
        text = "".join(parts)
        # `.result` is part of the job (the app stores it), so it is inside the timing.
        result = reply.result
        assert result.complete and result.stop_reason == "end_turn", result
        assert result.text == text, "ours: the final reply differs from its deltas"
        return text

    return Contender("ours", "ours: LLMClient.stream", run, client.close)


def _sdk(base_url: str):
    import anthropic  # a test extra, imported only when the SDK contenders are wanted

    return anthropic.Anthropic(api_key="k", base_url=base_url, max_retries=0)


def sdk_stream_helper(base_url: str) -> Contender:
    sdk = _sdk(base_url)
    messages = [{"role": "user", "content": PROMPT}]

    def run() -> str:
        with sdk.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=messages) as stream:
            parts = list(stream.text_stream)
            final = stream.get_final_message()
        text = "".join(parts)
        assert final.stop_reason == "end_turn", final.stop_reason
        assert final.content[0].text == text, "SDK: the final message differs from its deltas"
        return text

    return Contender("sdk_stream", "SDK messages.stream().text_stream", run, sdk.close)


def sdk_raw_events(base_url: str) -> Contender:
    sdk = _sdk(base_url)
    messages = [{"role": "user", "content": PROMPT}]

    def run() -> str:
        parts: list[str] = []
        stream = sdk.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=messages, stream=True)
        with stream:
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    parts.append(event.delta.text)
        return "".join(parts)

    return Contender("sdk_raw", "SDK messages.create(stream=True)", run, sdk.close)


FACTORIES: dict[str, Callable[[str], Contender]] = {
    "httpx_lines": httpx_lines_floor,
    BASELINE: httpx_json_baseline,
    "ours": ours,
    "sdk_stream": sdk_stream_helper,
    "sdk_raw": sdk_raw_events,
}


# -- measuring ------------------------------------------------------------------------------


def _check(contender: Contender, got: str | int, stream: RecordedStream) -> None:
    """Nobody is timed on a broken stream: every run must have received all of it."""
    if isinstance(got, int):
        expected = stream.deltas + 6  # every event has one data line; six are not deltas
        assert got == expected, f"{contender.name}: {got} data lines, expected {expected}"
    else:
        assert got == stream.text, (
            f"{contender.name}: received {len(got)} chars, expected {len(stream.text)}"
        )


def _timed(contender: Contender, stream: RecordedStream) -> float:
    gc.collect()  # garbage left by the previous contender must not be collected on our clock
    start = time.perf_counter()
    got = contender.run()
    elapsed = time.perf_counter() - start
    _check(contender, got, stream)
    return elapsed


def _available(names: list[str]) -> list[str]:
    try:
        import anthropic  # noqa: F401
    except ImportError:
        return [n for n in names if not n.startswith("sdk_")]
    return names


def run(
    deltas: int = 20_000,
    rounds: int = 5,
    *,
    clients: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Serve one stream of `deltas` text deltas and time every client on it; returns the
    results as a JSON-ready dict."""
    names = _available(clients or list(FACTORIES))
    if BASELINE not in names:
        names.insert(0, BASELINE)  # the ratios need it
    stream = build_stream(deltas)
    with StreamServer(stream) as server:
        contenders = [FACTORIES[name](server.base_url) for name in names]
        try:
            # Warm-up: imports, first connection, pydantic's lazy model building.
            for c in contenders:
                _timed(c, stream)
            times: dict[str, list[float]] = {c.name: [] for c in contenders}
            for r in range(rounds):
                shift = r % len(contenders)
                for c in contenders[shift:] + contenders[:shift]:
                    times[c.name].append(_timed(c, stream))
                progress(f"round {r + 1}/{rounds} done")
        finally:
            for c in contenders:
                c.close()
    return _summary(stream, rounds, contenders, times)


def _summary(
    stream: RecordedStream, rounds: int, contenders: list[Contender], times: dict[str, list[float]]
) -> dict[str, Any]:
    base = statistics.median(times[BASELINE])
    results = {}
    for c in contenders:
        median = statistics.median(times[c.name])
        results[c.name] = {
            "label": c.label,
            "median_s": round(median, 5),
            "min_s": round(min(times[c.name]), 5),
            "runs_s": [round(t, 5) for t in times[c.name]],
            "deltas_per_s": round(stream.deltas / median),
            "ratio_to_baseline": round(median / base, 2),
        }
    ours_vs_sdk = None
    if "ours" in results and "sdk_stream" in results:
        ours_vs_sdk = round(results["ours"]["median_s"] / results["sdk_stream"]["median_s"], 3)
    return {
        "benchmark": "stream_overhead",
        "config": {
            "deltas": stream.deltas,
            "rounds": rounds,
            "body_bytes": stream.body_size,
            "writes": len(stream.frames),
            "write_bytes": "4096-16384",
            "python": platform.python_version(),
            "httpx": httpx.__version__,
            "anthropic": _sdk_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
        "baseline": BASELINE,
        "clients": results,
        "ours_vs_sdk_stream": ours_vs_sdk,
    }


def _sdk_version() -> str | None:
    try:
        import anthropic
    except ImportError:
        return None
    return anthropic.__version__


def format_table(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"stream: {cfg['deltas']:,} text deltas, {cfg['body_bytes']:,} bytes in {cfg['writes']} writes; "
        f"{cfg['rounds']} interleaved rounds; Python {cfg['python']}, httpx {cfg['httpx']}, "
        f"anthropic {cfg['anthropic']}",
        "",
        f"{'client':<42} {'median s':>9} {'min s':>9} {'deltas/s':>10} {'vs baseline':>12}",
    ]
    for r in result["clients"].values():
        lines.append(
            f"{r['label']:<42} {r['median_s']:>9.4f} {r['min_s']:>9.4f} "
            f"{r['deltas_per_s']:>10,} {r['ratio_to_baseline']:>11.2f}x"
        )
    if result["ours_vs_sdk_stream"] is not None:
        ratio = result["ours_vs_sdk_stream"]
        lines += ["", f"ours / SDK stream helper: {ratio:.3f} (ours is {1 / ratio:.1f}x faster)"]
    return "\n".join(lines)


def profile_ours(deltas: int = 20_000, top: int = 25) -> str:
    """cProfile of our client reading the stream once (after a warm-up); the hot functions."""
    stream = build_stream(deltas)
    with StreamServer(stream) as server:
        contender = ours(server.base_url)
        try:
            _timed(contender, stream)
            profiler = cProfile.Profile()
            profiler.enable()
            got = contender.run()
            profiler.disable()
            _check(contender, got, stream)
        finally:
            contender.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
