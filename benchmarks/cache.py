"""How long a cache hit takes in memory: `python -m benchmarks.cache [n]`.

The target is a hit served in under 2 ms. We time, per lookup, `get` alone on a warm
`MemoryCache` that is full (1,000 entries, so the dict is its real size), and `cache_key`
plus `get` together, since serving a hit means hashing the conversation first. The
conversation is a realistic one: a 2,000-character system prompt and ten turns.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from chatbot.llm import ChatRequest, Reply, Turn, Usage
from chatbot.llm.cache import MemoryCache, cache_key

TARGET_US = 2_000.0


def _request(i: int) -> ChatRequest:
    turns = tuple(
        Turn("user" if t % 2 == 0 else "assistant",
             f"Turn {t} about order #{1000 + i}: " + "details " * 20)
        for t in range(10)
    )
    return ChatRequest(model="claude-sonnet-4-5", system="You are Acme's support assistant. " * 60,
                       messages=turns, max_tokens=1024, temperature=0.2)


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered)
    return {"median_us": round(median / 1000, 2), "p99_us": round(p99 / 1000, 2)}


def run(n: int = 10_000) -> dict[str, Any]:
    """Time `n` hits; print one line per measurement and return the figures."""
    cache = MemoryCache(ttl_seconds=600, max_entries=1000)
    requests = [_request(i) for i in range(1000)]
    keys = [cache_key(r) for r in requests]
    reply = Reply(text="Your order ships tomorrow. " * 40, model="claude-sonnet-4-5",
                  stop_reason="end_turn", usage=Usage(1500, 300), complete=True)
    for key in keys:
        cache.put(key, reply)

    get_ns: list[int] = []
    served_ns: list[int] = []
    clock = time.perf_counter_ns
    for i in range(n):
        key, request = keys[i % len(keys)], requests[i % len(requests)]
        t0 = clock()
        hit = cache.get(key)
        t1 = clock()
        assert hit is not None
        get_ns.append(t1 - t0)
        t0 = clock()
        hit = cache.get(cache_key(request))
        t1 = clock()
        assert hit is not None
        served_ns.append(t1 - t0)

    result = {
        "n": n,
        "entries": len(cache),
        "get": _percentiles(get_ns),
        "key_and_get": _percentiles(served_ns),
        "target_us": TARGET_US,
    }
    result["meets_target"] = result["key_and_get"]["p99_us"] < TARGET_US
    for name in ("get", "key_and_get"):
        r = result[name]
        print(f"cache {name:<12} median {r['median_us']:>8.2f} µs   p99 {r['p99_us']:>8.2f} µs"
              f"   ({n:,} hits, target < {TARGET_US:,.0f} µs)")
    return result


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
