"""Where rate-limit buckets live. In memory for one process; a shared store (Redis, in
`redis_state.py`: one hash per key, read and written under one short lock) lets several app
replicas share one budget without changing the limiter."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Bucket:
    """`tokens` as of `stamp`, refilled at `rate` a second up to `capacity`. Below zero is
    debt (a reply that cost more than was reserved); `paused_until` is a server's retry-after."""

    rate: float
    capacity: float
    tokens: float
    stamp: float
    paused_until: float = 0.0

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def time_for(self, amount: float) -> float:
        return max(0.0, (amount - self.tokens) / self.rate)


class BucketStore(Protocol):
    """Where bucket state lives; the limiter calls `get`/`set` only inside `locked()`."""

    def locked(self) -> AbstractContextManager[object]: ...
    def get(self, key: str) -> Bucket | None: ...
    def set(self, key: str, bucket: Bucket) -> None: ...
    # Who was slowed down lives here too, so admins see every replica's flagged users.
    def flag(self, user: str) -> None: ...
    def flagged(self) -> dict[str, int]: ...


class MemoryStore:
    """Buckets in a dict, for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}
        self._flagged: dict[str, int] = {}

    def locked(self) -> AbstractContextManager[object]:
        return self._lock

    def get(self, key: str) -> Bucket | None:
        return self._buckets.get(key)

    def set(self, key: str, bucket: Bucket) -> None:
        self._buckets[key] = bucket

    def flag(self, user: str) -> None:
        self._flagged[user] = self._flagged.get(user, 0) + 1

    def flagged(self) -> dict[str, int]:
        return dict(self._flagged)
