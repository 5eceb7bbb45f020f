"""The response cache: what makes two requests the same, what is stored, how long, and that
a hit replays exactly the text. Time is a fake clock; nothing sleeps."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from chatbot.llm import ChatRequest, Reply, Turn, Usage
from chatbot.llm.cache import (
    CachedReply,
    CachedReplyStream,
    MemoryCache,
    cache_key,
    is_cacheable,
    should_cache,
)
from chatbot.llm.errors import StreamInterrupted

REQUEST = ChatRequest(
    model="claude-sonnet-4-5",
    system="You are Acme's support assistant.",
    messages=(Turn("user", "Where is my order #1042?"),),
    max_tokens=512,
    temperature=0.2,
    stop_sequences=("\n\nCustomer:",),
    metadata={"user_id": "agent-1"},
)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def complete(text: str = "It ships **tomorrow**.") -> Reply:
    return Reply(text=text, model="claude-sonnet-4-5-20250929", stop_reason="end_turn",
                 usage=Usage(input_tokens=120, output_tokens=9), complete=True)


# -- the key -------------------------------------------------------------------------


def test_key_is_a_sha256_hex_digest_and_repeatable():
    key = cache_key(REQUEST)
    assert len(key) == 64 and int(key, 16) >= 0
    assert cache_key(replace(REQUEST, messages=list(REQUEST.messages))) == key


def test_key_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from chatbot.llm import ChatRequest, Turn\n"
        "from chatbot.llm.cache import cache_key\n"
        f"print(cache_key(ChatRequest(model={REQUEST.model!r}, system={REQUEST.system!r},"
        f" messages=(Turn('user', {REQUEST.messages[0].content!r}),), max_tokens=512,"
        " temperature=0.2, stop_sequences=('\\n\\nCustomer:',))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == cache_key(REQUEST)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "claude-haiku-4-5"},
        {"system": "You are Acme's billing assistant."},
        {"system": None},
        {"messages": (Turn("user", "Where is my order #1043?"),)},
        {"messages": (Turn("assistant", "Where is my order #1042?"),)},
        {"messages": REQUEST.messages + (Turn("assistant", "Let me check"),)},
        {"max_tokens": 513},
        {"temperature": 0.3},
        {"temperature": None},
        {"stop_sequences": ()},
        {"stop_sequences": ("\n\nCustomer: ",)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_field_that_decides_the_answer_changes_the_key(change):
    assert cache_key(replace(REQUEST, **change)) != cache_key(REQUEST)


def test_turn_boundaries_are_part_of_the_key():
    one = replace(REQUEST, messages=(Turn("user", "a"), Turn("assistant", "b")))
    other = replace(REQUEST, messages=(Turn("user", "ab"),))
    assert cache_key(one) != cache_key(other)


def test_metadata_and_forms_the_api_cannot_tell_apart_share_a_key():
    assert cache_key(replace(REQUEST, metadata={"user_id": "agent-2"})) == cache_key(REQUEST)
    assert cache_key(replace(REQUEST, metadata=None)) == cache_key(REQUEST)
    assert cache_key(replace(REQUEST, system="")) == cache_key(replace(REQUEST, system=None))
    zero, zero_float = replace(REQUEST, temperature=0), replace(REQUEST, temperature=0.0)
    assert cache_key(zero) == cache_key(zero_float)


def test_should_cache_follows_the_switch_not_the_temperature():
    assert should_cache(replace(REQUEST, temperature=1.0), enabled=True)
    assert should_cache(replace(REQUEST, temperature=None), enabled=True)
    assert not should_cache(REQUEST, enabled=False)
    assert not should_cache(replace(REQUEST, messages=()), enabled=True)


# -- the store -----------------------------------------------------------------------


def test_miss_then_hit_keeps_what_the_api_said():
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    key = cache_key(REQUEST)
    assert cache.get(key) is None
    cache.put(key, complete())
    hit = cache.get(key)
    assert hit is not None and hit.text == "It ships **tomorrow**."
    assert hit.model == "claude-sonnet-4-5-20250929" and hit.stop_reason == "end_turn"
    assert hit.usage == Usage(input_tokens=120, output_tokens=9)
    assert hit.created_at == clock.now
    assert cache.get(cache_key(replace(REQUEST, max_tokens=1))) is None


def test_stored_usage_is_a_copy():
    cache = MemoryCache(clock=FakeClock())
    reply = complete()
    cache.put("k", reply)
    reply.usage.output_tokens = 999
    assert cache.get("k").usage.output_tokens == 9


def test_entries_expire_after_ttl_and_a_hit_does_not_extend_them():
    clock = FakeClock()
    cache = MemoryCache(ttl_seconds=300, clock=clock)
    cache.put("k", complete())
    clock.now += 299.9
    assert cache.get("k") is not None
    clock.now += 0.1
    assert cache.get("k") is None
    assert len(cache) == 0  # expired entries are dropped when found


def test_a_clock_that_steps_back_misses_rather_than_serving_stale():
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    cache.put("k", complete())
    clock.now -= 5
    assert cache.get("k") is None


def test_least_recently_used_is_evicted_first():
    cache = MemoryCache(max_entries=2, clock=FakeClock())
    cache.put("a", complete("A"))
    cache.put("b", complete("B"))
    assert cache.get("a").text == "A"  # now "b" is the least recently used
    cache.put("c", complete("C"))
    assert cache.get("b") is None
    assert cache.get("a").text == "A" and cache.get("c").text == "C"
    assert len(cache) == 2


def test_putting_again_replaces_the_entry():
    clock = FakeClock()
    cache = MemoryCache(ttl_seconds=60, clock=clock)
    cache.put("k", complete("old"))
    clock.now += 50
    cache.put("k", complete("new"))
    clock.now += 50
    assert cache.get("k").text == "new"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="", error=StreamInterrupted("boom")),  # error
        Reply(text="It ships", error=StreamInterrupted("broke off")),  # partial
        Reply(text="It ships tomorrow.", complete=True, error=StreamInterrupted("late")),
        Reply(text="It ships tomorrow.", complete=False),  # never saw message_stop
        Reply(text="", complete=True),  # complete but empty
        Reply(text=" \n\t", complete=True),  # nothing a customer could read
    ],
    ids=["error", "partial", "complete-with-error", "incomplete", "empty", "blank"],
)
def test_errors_partials_and_empty_replies_are_never_stored(reply):
    assert not is_cacheable(reply)
    cache = MemoryCache(clock=FakeClock())
    cache.put("k", reply)
    assert cache.get("k") is None and len(cache) == 0


@pytest.mark.parametrize("kwargs", [{"ttl_seconds": 0}, {"max_entries": 0}])
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        MemoryCache(**kwargs)


def test_many_threads_putting_and_getting():
    cache = MemoryCache(max_entries=50, clock=FakeClock())
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(500):
                key = f"k{rng.randrange(80)}"
                if rng.random() < 0.5:
                    cache.put(key, complete(f"answer for {key}"))
                else:
                    hit = cache.get(key)
                    assert hit is None or hit.text == f"answer for {key}"
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert 0 < len(cache) <= 50


# -- replay and serialisation --------------------------------------------------------

TEXTS = [
    "It ships tomorrow.",
    "Grüße aus Köln — Ihre Bestellung ist unterwegs 🚚📦, ETA: 2 Tage.",
    "Line one\nLine two\n\n\nAfter blank lines\r\nwindows line\n",
    "  leading and trailing spaces  ",
    "## Steps\n\n1. Open **Settings**\n2. Click `Reset`\n\n"
    "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "您的订单已经发货了预计明天送达如有问题请随时联系我们的客服团队"
    "谢谢您的耐心等待",
    "see https://example.com/orders/1042?token=abcdefghijklmnopqrstuvwxyz0123456789 now",
    "e\u0301 combining, zero\u200bwidth, tab\there",
    " \n ",
    "x",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("chunk_words", [1, 3, 7])
def test_replay_reassembles_exactly(text, chunk_words):
    pieces = list(CachedReply(text, None, None, None, Usage(), 0.0).replay(chunk_words))
    assert "".join(pieces) == text
    assert all(pieces)


def test_replay_streams_in_small_pieces():
    text = " ".join(f"word{i}" for i in range(30))
    pieces = list(CachedReply(text, None, None, None, Usage(), 0.0).replay(3))
    assert len(pieces) == 10 and pieces[0] == "word0 word1 word2 "
    cjk = list(CachedReply(TEXTS[5], None, None, None, Usage(), 0.0).replay(1))
    assert len(cjk) > 1 and max(map(len, cjk)) <= 20  # text without spaces still streams
    with pytest.raises(ValueError):
        next(CachedReply("x", None, None, None, Usage(), 0.0).replay(0))


def test_replay_of_random_text_reassembles():
    rng = random.Random(7)
    alphabet = "ab é中🚚 \n\t\r*`#|-"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
        cached = CachedReply(text, None, None, None, Usage(), 0.0)
        assert "".join(cached.replay(rng.randrange(1, 5))) == text


def test_json_round_trip():
    cached = CachedReply.from_reply(complete(TEXTS[4] + " 🚚"), now=1_700_000_123.5)
    data = cached.to_json()
    assert isinstance(data, str)
    assert CachedReply.from_json(data) == cached
    assert CachedReply.from_json(data.encode("utf-8")) == cached


@pytest.mark.parametrize(
    "data",
    ["not json", "[]", "{}", '{"format": 99, "text": "x"}',
     '{"format": 1, "text": "x", "model": null, "stop_reason": null, "stop_sequence": null,'
     ' "usage": {"bogus": 1}, "created_at": 0}'],
)
def test_anything_else_is_a_value_error(data):
    with pytest.raises(ValueError):
        CachedReply.from_json(data)


def test_a_hit_streams_like_a_reply_and_costs_nothing():
    cached = CachedReply.from_reply(complete("Your refund of $20 was sent today."), now=0.0)
    with CachedReplyStream(cached, chunk_words=2) as stream:
        pieces = list(stream)
    assert stream.cache_hit is True
    assert pieces == ["Your refund ", "of $20 ", "was sent ", "today."]
    result = stream.result
    assert result.status == "complete" and result.text == cached.text
    assert result.usage == Usage() and result.attempts == 0
    assert result.model == cached.model and result.stop_reason == "end_turn"
    with pytest.raises(RuntimeError):
        iter(stream)
    assert CachedReplyStream(cached).text() == cached.text
