"""A similarity cache for first questions: the same question worded differently ("Where's
my order?" / "where is my order") gets the answer already given, without a call.

For FAQ-style personas only (a persona opts in). No embedding model and no network: a
question is normalised lexically (`wording.py`: Unicode, case, punctuation, contractions,
light stemming, a small support-vocabulary synonym table) into a `Signature`. A wrong
answer shown to a customer is far worse than a miss (which costs one call), so before any
score is looked at, HARD GUARDS veto a match:

- the literals differ: numbers, amounts, percentages, dates, times, order or ticket ids,
  codes, e-mail addresses, URLs ("order #1234" is never "order #1235");
- one question is negated and the other is not ("I can log in" / "I can't log in");
- a word from `FLIP_WORDS` is in one and not the other (cancel/renew, before/after ...);
- each side has a content word the other lacks: a substitution ("reset my password" /
  "reset my username", "delivery to UK" / "delivery to US"), how a different question
  usually looks.

What the score then weighs is what is left: word order (ignored), filler words ("please",
"possible", "know": `FILLER_WEIGHT` each) and content words present on one side only.

    cache = SimilarityCache(ttl_seconds=600)
    scope = similarity_scope(request)               # everything that decides the answer
    cache.put(scope, "How do I reset my password?", reply)
    cache.get(scope, "password reset - how?")       # SimilarHit(reply, score=1.0)
    cache.get(scope, "How do I reset my username?") # None
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from .cache import CachedReply, cache_key, is_cacheable
from .types import ChatRequest, Reply
from .wording import FLIP_WORDS, Signature, normalise, signature

__all__ = ["DEFAULT_THRESHOLD", "FILLER_WEIGHT", "SimilarHit", "SimilarityCache", "Signature",
           "first_question", "matches", "normalise", "signature", "similarity",
           "similarity_scope", "veto"]

log = logging.getLogger("chatbot.llm")

# 0.9: a filler word may differ for each content word, but a content word added on one side
# needs 9 shared ones (9/10) to pass, and eligible questions have at most 12, so one extra
# word is tolerated only in long questions and two never are. Lower it and more rewordings
# hit, never past the guards; raise it to 1.0 and only rewordings of the same words hit.
DEFAULT_THRESHOLD = 0.9
FILLER_WEIGHT = 0.1


def _sig(question: Signature | str) -> Signature:
    return question if isinstance(question, Signature) else signature(question)


def veto(a: Signature | str, b: Signature | str) -> str | None:
    """Why two questions must never share an answer, whatever their score; None if no
    guard objects."""
    a, b = _sig(a), _sig(b)
    if a.literals != b.literals:
        return "different numbers, ids, dates or addresses"
    if a.negated != b.negated:
        return "negated in one question only"
    only_a, only_b = a.content - b.content, b.content - a.content
    if (only_a | only_b) & FLIP_WORDS:
        return "a word that flips the meaning: " + ", ".join(sorted((only_a | only_b) & FLIP_WORDS))
    if only_a and only_b:
        return "different content words: " + ", ".join(sorted(only_a)) + " / " + ", ".join(sorted(only_b))
    return None


def similarity(a: Signature | str, b: Signature | str) -> float:
    """From 0 to 1: weighted overlap of the two questions' words; 0 when a guard vetoes."""
    a, b = _sig(a), _sig(b)
    if veto(a, b) is not None:
        return 0.0
    shared = len(a.content & b.content) + FILLER_WEIGHT * len(a.filler & b.filler)
    total = len(a.content | b.content) + FILLER_WEIGHT * len(a.filler | b.filler)
    return shared / total if total else 0.0


def matches(a: Signature | str, b: Signature | str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether `b`'s answer may be given to `a`: both eligible and similar enough."""
    a, b = _sig(a), _sig(b)
    return a.eligible and b.eligible and similarity(a, b) >= threshold


def similarity_scope(request: ChatRequest) -> str:
    """Everything but the question that decides the answer (model, rendered system prompt,
    sampling settings): answers never cross personas, case details or models."""
    return cache_key(replace(request, messages=()))


def first_question(request: ChatRequest) -> str | None:
    """The question when the request is a conversation's first turn, else None: later turns
    depend on the history, which a similar question does not share."""
    messages = list(request.messages)
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    return None


class SimilarHit(NamedTuple):
    reply: CachedReply
    score: float


@dataclass(slots=True)
class _Entry:
    scope: str
    signature: Signature
    reply: CachedReply


class SimilarityCache:
    """A thread-safe, per-process LRU of first-question answers, matched by `similarity`.

    Entries live in buckets by scope, literals and negation (two guards cost nothing that
    way), and a lookup scores only its bucket. Expiry and eviction are as in `MemoryCache`.
    """

    def __init__(self, ttl_seconds: float = 600, max_entries: int = 1000, *,
                 threshold: float = DEFAULT_THRESHOLD,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be above 0 and at most 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.threshold = threshold
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._buckets: dict[tuple[str, frozenset[str], bool], dict[str, _Entry]] = {}
        self._lock = threading.Lock()

    def get(self, scope: str, question: str) -> SimilarHit | None:
        """The best answer at or above the threshold, or None."""
        query = signature(question)
        if not query.eligible:
            return None
        now = self._clock()
        best: _Entry | None = None
        best_score = 0.0
        with self._lock:
            bucket = self._buckets.get((scope, query.literals, query.negated))
            if not bucket:
                return None
            expired = []
            for entry in bucket.values():
                if not 0 <= now - entry.reply.created_at < self.ttl_seconds:
                    expired.append(entry)
                    continue
                other = entry.signature.content
                # The substitution guard first: it rejects most entries with one compare.
                if other != query.content and not (other < query.content or query.content < other):
                    continue
                score = similarity(query, entry.signature)
                if score >= self.threshold and score > best_score:
                    best, best_score = entry, score
            for entry in expired:
                self._remove(entry)
            if best is None:
                return None
            self._entries.move_to_end((scope, best.signature.key))
            return SimilarHit(best.reply, best_score)

    def put(self, scope: str, question: str, reply: Reply) -> None:
        """Store a complete reply to a first question (anything else is ignored)."""
        if not is_cacheable(reply):
            return
        sig = signature(question)
        if not sig.eligible:
            return
        entry = _Entry(scope, sig, CachedReply.from_reply(reply, now=self._clock()))
        with self._lock:
            old = self._entries.get((scope, sig.key))
            if old is not None:
                self._remove(old)
            self._entries[(scope, sig.key)] = entry
            self._buckets.setdefault((scope, sig.literals, sig.negated), {})[sig.key] = entry
            while len(self._entries) > self.max_entries:
                self._remove(next(iter(self._entries.values())))

    def lookup(self, request: ChatRequest) -> SimilarHit | None:
        """`get` for a request that is a conversation's first turn; None for any other."""
        question = first_question(request)
        hit = None if question is None else self.get(similarity_scope(request), question)
        if hit is not None:
            log.info("a reworded first question was answered from the cache (score %.2f)", hit.score)
        return hit

    def remember(self, request: ChatRequest, reply: Reply) -> None:
        """`put` for a request that is a conversation's first turn; ignores any other."""
        question = first_question(request)
        if question is not None:
            self.put(similarity_scope(request), question, reply)

    def _remove(self, entry: _Entry) -> None:
        sig = entry.signature
        self._entries.pop((entry.scope, sig.key), None)
        bucket_key = (entry.scope, sig.literals, sig.negated)
        bucket = self._buckets.get(bucket_key)
        if bucket is not None:
            bucket.pop(sig.key, None)
            if not bucket:
                del self._buckets[bucket_key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
