"""A response cache: the same question within minutes gets the same answer without a call.

Agents often send a customer's exact question twice (a retry, a colleague on the same case,
a canned opener). A hit costs no tokens and starts at once; it still streams word by word
so the page behaves as for a live reply.

    cache = MemoryCache(ttl_seconds=600)
    key = cache_key(request)
    hit = cache.get(key)            # None on a miss, after expiry, or after eviction
    ...
    cache.put(key, reply)           # a no-op unless the reply is complete and has text

Everything here is pure apart from the clock, which tests inject. A store is two methods
over JSON strings (`ResponseCache`), so a shared Redis store can be added later without
touching callers; this module has only the in-process `MemoryCache`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from .types import ChatRequest, Reply, Usage

# Bump when the key's recipe or the stored JSON changes, so old shared entries just miss.
_FORMAT = 1
# A "word" for replay: optional leading space, up to 20 non-space characters, trailing space.
# The cap keeps text without spaces (Chinese, Japanese, long URLs) streaming in pieces too.
_WORD = re.compile(r"\s*\S{1,20}\s*|\s+")


def cache_key(request: ChatRequest) -> str:
    """A sha256 hex digest of everything that decides the answer, stable across processes.

    `metadata` (the user id) is left out on purpose: two agents asking the same thing share
    the answer. Values are normalised the way `to_body` sends them (no system == empty
    system; temperature 0 == 0.0) so requests the API cannot tell apart share a key.
    """
    canonical = {
        "format": _FORMAT,
        "model": request.model,
        "system": request.system or None,
        "messages": [[t.role, t.to_wire()["content"]] for t in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": None if request.temperature is None else float(request.temperature),
        "stop_sequences": list(request.stop_sequences),
    }
    # Tools decide the answer too. Added only when present, so every key of a request
    # without tools is unchanged and `_FORMAT` needs no bump.
    if request.tools:
        canonical["tools"] = [dict(tool) for tool in request.tools]
    if request.tool_choice is not None:
        canonical["tool_choice"] = dict(request.tool_choice)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def should_cache(request: ChatRequest, *, enabled: bool) -> bool:
    """Whether to look up and store this request at all.

    Temperature is deliberately ignored: a sampled answer is one valid answer, and serving
    it again for an exact repeat within minutes is the point of the cache. A persona that
    must vary (or must always see live data) turns caching off, which is `enabled`.
    """
    return enabled and bool(request.messages)


@dataclass(frozen=True, slots=True)
class CachedReply:
    """A complete reply as stored: its text and what the API said about it."""

    text: str
    model: str | None
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage  # what the original call cost; a hit itself costs nothing
    created_at: float  # seconds since the epoch, so it means the same in another process

    @classmethod
    def from_reply(cls, reply: Reply, *, now: float) -> CachedReply:
        # Copy the usage: the caller's Reply is mutable and may be reused.
        return cls(reply.text, reply.model, reply.stop_reason, reply.stop_sequence,
                   replace(reply.usage), now)

    def replay(self, chunk_words: int = 3) -> Iterator[str]:
        """The text in pieces of `chunk_words` words (spacing kept), with no delay: joined
        they give back the text exactly, so a hit streams to the page like a live reply."""
        if chunk_words < 1:
            raise ValueError("chunk_words must be at least 1")
        words = _WORD.findall(self.text)
        for i in range(0, len(words), chunk_words):
            yield "".join(words[i : i + chunk_words])

    def to_reply(self) -> Reply:
        """A complete `Reply` for a hit: zero usage (nothing was billed), zero attempts."""
        return Reply(text=self.text, model=self.model, stop_reason=self.stop_reason,
                     stop_sequence=self.stop_sequence, usage=Usage(), ttft=0.0,
                     attempts=0, complete=True, cache_hit=True)

    def to_json(self) -> str:
        return json.dumps({"format": _FORMAT, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | bytes) -> CachedReply:
        """Raises ValueError for anything this version did not write; a store treats that
        as a miss."""
        try:
            raw = json.loads(data)
            if raw.pop("format") != _FORMAT:
                raise ValueError("cached reply from another format")
            raw["usage"] = Usage(**raw["usage"])
            return cls(**raw)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a cached reply: {exc}") from exc


class CachedReplyStream:
    """A hit, shaped like `ReplyStream`: iterate once for pieces, then read `result`
    (complete, zero usage). Nothing to close; the context manager is there for symmetry."""

    cache_hit = True

    def __init__(self, cached: CachedReply, *, chunk_words: int = 3) -> None:
        self.cached = cached
        self._chunk_words = chunk_words
        self._iterated = False
        self.result = cached.to_reply()

    def __enter__(self) -> CachedReplyStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[str]:
        if self._iterated:
            raise RuntimeError("a reply stream can be iterated only once")
        self._iterated = True
        return self.cached.replay(self._chunk_words)

    def text(self) -> str:
        for _ in self:
            pass
        return self.result.text


class ResponseCache(Protocol):
    """Where cached replies live. Keep it to these two methods so a shared store (Redis:
    SET key value.to_json() EX ttl / GET key then from_json) is a small class. A store that
    can fail should log and miss rather than raise: a cache must never fail a reply."""

    def get(self, key: str) -> CachedReply | None: ...

    def put(self, key: str, reply: Reply) -> None: ...


def is_cacheable(reply: Reply) -> bool:
    """Only whole text answers: an error or a reply cut short must be asked again, not
    replayed. A reply with tool calls is not kept: a stored reply holds text only, and a
    hit without its tool input would be a wrong answer, not a cheaper one."""
    return (
        reply.status == "complete"
        and reply.error is None
        and not reply.tool_uses
        and bool(reply.text.strip())
    )


class MemoryCache:
    """A thread-safe, per-process LRU of replies that expire `ttl_seconds` after they were
    stored (a hit does not extend them).

    The useful TTL is 5-30 minutes: exact repeats cluster within minutes (retries, handing
    a case over), and a short life bounds how long a poor answer keeps being served. The
    key covers the whole prompt, so a persona edit or a new message misses by itself.
    """

    def __init__(self, ttl_seconds: float = 600, max_entries: int = 1000, *,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, CachedReply] = OrderedDict()
        # Streamlit serves each session on its own thread; one lock keeps the order sane.
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedReply | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            # A clock that stepped backwards also expires the entry: rather a miss than stale.
            if not 0 <= now - entry.created_at < self.ttl_seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, reply: Reply) -> None:
        if not is_cacheable(reply):
            return
        entry = CachedReply.from_reply(reply, now=self._clock())
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
