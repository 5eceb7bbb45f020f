"""The time the app adds before the first token: `python -m benchmarks.first_token [turns]`.

Target: under 5 ms. Side by side in one run, against one sandbox (in its own process, no
word delay), interleaved turn by turn:

  direct   `LLMClient.stream(request)` -> first text delta: the network and the server.
  app      `ChatService.send(text)` -> first text from the `Generation` a page watches
           (on another thread, as a page is):
           the access check, validation, committing the user's message and the reply row to SQLite,
           loading the persona version and rendering its prompt, fitting the history,
           the budget check, the limiter, the cache lookup, the hand-off to a worker
           thread, and the same request.

The difference of the medians is what the app adds. The sandbox paces words 20 ms apart,
as a live reply comes: with no pause the worker thread would parse the whole reply without
letting go of the GIL, and the page's thread would be timed waiting for it, which no live
reply causes. Both sides stop reading after the first text (the app's reply is stopped,
and kept as partial), so a turn takes milliseconds. The app runs through `build_runtime`,
so it has every component switched on as in production (cache, limiter, budgets); each
message is unique, so the cache always misses and the call is always made. Turns go into
a conversation that grows to `history` messages, then a new one starts, so both the first
message (creating a conversation) and later turns are in the sample.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from chatbot.auth import Actor, Role
from chatbot.llm import Turn
from chatbot.services.context import build_request
from chatbot.services.runtime import build_runtime

TARGET_MS = 5.0
BENCH_AGENT = Actor("bench", Role.AGENT, "Benchmark")
WORD_DELAY_MS = 20  # a live reply's pace between words


def _serve() -> tuple[subprocess.Popen, str]:
    """The sandbox in its own process, so it does not share the GIL with what we time."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.sandbox", "--port", "0", "--delay-ms", str(WORD_DELAY_MS)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    url = next((word for word in line.split() if word.startswith("http://")), None)
    if url is None:
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, url


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def run(turns: int = 200, history: int = 10) -> dict[str, Any]:
    process, url = _serve()
    data = tempfile.TemporaryDirectory(prefix="bench-first-token-")
    runtime = build_runtime(
        {
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": url,
            "CHATBOT_DATA_DIR": data.name,
            # A limit that never makes a turn wait: we time the limiter's bookkeeping only.
            "CHATBOT_RPM": "100000",
            "CHATBOT_BURST": "100000",
            "CHATBOT_USER_RPM": "100000",
        },
        dotenv_path=None,
    )
    direct_s: list[float] = []
    app_s: list[float] = []
    send_s: list[float] = []
    try:
        persona = runtime.personas.published("support").spec
        system = persona.system_prompt({})
        conversation: int | None = None
        history_turns: list[Turn] = []  # the conversation so far, as the app sends it
        for i in range(turns + 5):  # the first 5 warm up connections and caches
            text = f"Where is order #{100_000 + i}? It was due on Monday."
            # The same request the app is about to make (a different order number, so
            # neither side can be served from a cache).
            direct_text = f"Where is order #{900_000 + i}? It was due on Monday."
            request = build_request(persona, system=system,
                                    turns=[*history_turns, Turn("user", direct_text)],
                                    metadata={"user_id": "bench"})
            t0 = time.perf_counter()
            with runtime.client.stream(request, use_cache=False) as stream:
                next(iter(stream))
                t1 = time.perf_counter()

            t2 = time.perf_counter()
            generation = runtime.chat.send(BENCH_AGENT, conversation_id=conversation, text=text)
            t3 = time.perf_counter()
            next(iter(generation.deltas(poll=0.05)))
            t4 = time.perf_counter()
            generation.cancel()
            if not generation.wait(30) or generation.error is not None:
                raise RuntimeError(f"turn {i} failed: {generation.error}")
            conversation = generation.conversation_id
            history_turns += [Turn("user", text), Turn("assistant", generation.text)]
            if i % history == history - 1:
                conversation, history_turns = None, []
            if i >= 5:
                direct_s.append(t1 - t0)
                app_s.append(t4 - t2)
                send_s.append(t3 - t2)
    finally:
        runtime.close()
        process.kill()
        process.wait()
        data.cleanup()

    direct, app, send = _ms(direct_s), _ms(app_s), _ms(send_s)
    added = round(app["median_ms"] - direct["median_ms"], 3)
    result = {
        "benchmark": "time the app adds before the first token",
        "config": {"turns": turns, "history": history, "sandbox_delay_ms": WORD_DELAY_MS},
        "direct_client": direct,
        "app_send_to_first_text": app,
        "send_returns": send,
        "added_median_ms": added,
        "target_ms": TARGET_MS,
        "meets_target": added < TARGET_MS,
    }
    return result


def format_table(result: dict[str, Any]) -> str:
    rows = [
        ("direct: client.stream -> first delta", result["direct_client"]),
        ("app: chat.send -> first text on the page", result["app_send_to_first_text"]),
        ("  of which send() returning (stored, started)", result["send_returns"]),
    ]
    lines = [f"{'first token (' + str(result['config']['turns']) + ' turns)':<48} {'median':>9} {'p95':>9}"]
    for label, figures in rows:
        lines.append(f"{label:<48} {figures['median_ms']:>7.2f}ms {figures['p95_ms']:>7.2f}ms")
    lines.append(
        f"{'app adds (difference of medians)':<48} {result['added_median_ms']:>7.2f}ms"
        f"   target < {result['target_ms']:g} ms: {'met' if result['meets_target'] else 'NOT met'}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
