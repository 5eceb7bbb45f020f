"""Rate-limit buckets and cached replies in Redis, so several app replicas share one budget
and one cache. Without `CHATBOT_REDIS_URL` the app keeps both in memory instead.

    client = connect(url)                       # pings; RedisUnavailable names the setting
    limiter = RateLimiter(..., store=RedisBucketStore(client), clock=time.time)
    cache = RedisCache(client, ttl_seconds=600)

Keys live under a prefix (`chatbot:` by default) so the app can share a Redis server with
other programs; deployments that must not share a budget use another database number
(`redis://host:6379/1`) or another prefix.

When Redis fails at run time, chat keeps working:
- the cache misses (and stores nothing), as a cache must never fail a reply;
- the limiter fails open to an in-process `MemoryStore`, i.e. limits per replica. Refusing
  every request because the limiter's bookkeeping is down would turn a Redis outage into a
  chat outage, and the API's own 429s (which the limiter still honours) remain the real
  ceiling. Each replica starts the outage from its own last view of the buckets.
Both log a warning once per outage, then skip Redis for `cooldown` seconds rather than pay a
connection timeout on every request, and say so when Redis answers again.

The Redis URL's password never appears in a repr, a log line or an error (`redact_url`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import LockNotOwnedError, RedisError
from redis.lock import Lock
from redis.retry import Retry

from .buckets import Bucket, MemoryStore
from .cache import CachedReply, is_cacheable
from .types import Reply

log = logging.getLogger("chatbot.llm.redis")

PREFIX = "chatbot:"
_FIELDS = tuple(f.name for f in fields(Bucket))
# Flag counts are for admins to look at, not for enforcement: a week without new flags and
# they go, so a shared Redis does not keep every user ever flagged.
FLAG_TTL = 7 * 24 * 3600


class RedisUnavailable(ValueError):
    """Redis could not be used at start. A ValueError because to the app it is a bad setting:
    the start page shows it like any other, naming the variable to fix."""


def redact_url(url: str) -> str:
    """`url` with any password (in the user info or a `password=` query) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        # Without a colon redis-py reads the user info as a user name, but people do write
        # redis://secret@host, so it is hidden too.
        user = userinfo.split(":", 1)[0] + ":" if ":" in userinfo else ""
        netloc = f"{user}***@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets_in(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        found = [parts.password, parts.username if parts.password is None else None]
    except ValueError:
        found = []
    found += re.findall(r"(?i)(?:^|[?&])password=([^&]*)", url)
    return [s for raw in found if raw for s in {raw, unquote(raw)}]


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` replaced by ***, longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def connect(url: str, *, setting: str = "CHATBOT_REDIS_URL", timeout: float = 2.0) -> redis.Redis:
    """A client for `url` that has answered PING; `RedisUnavailable` (naming `setting`, never
    the password) if it cannot be built or reached: a shared store that is misconfigured
    should stop the app at start, not quietly turn into per-replica limits."""
    where = redact_url(url)
    client = None
    try:
        client = redis.Redis.from_url(
            url,
            # Short timeouts and one quick retry (for a pooled connection that went stale
            # across a Redis restart): a request must not hang on its bookkeeping.
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        client.ping()
    except (RedisError, ValueError, OSError) as exc:
        if client is not None:
            client.close()
        # `from None`: the chained original could carry the URL into a traceback.
        detail = _scrub(str(exc), _secrets_in(url)).rstrip(".") or type(exc).__name__
        raise RedisUnavailable(
            f"{setting}: cannot use Redis at {where}: {detail}. "
            f"Check the URL and that the server is running, or unset {setting} to keep the "
            "rate limiter and response cache in memory."
        ) from None
    return client


def _where(client: redis.Redis) -> str:
    """host:port/db (or the socket path) of a client, for reprs: never its password."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class _Breaker:
    """Remembers that Redis just failed: one warning per outage, then `cooldown` seconds of
    not trying, so an unreachable server costs one timeout, not one per request."""

    def __init__(self, what: str, meanwhile: str, cooldown: float, client: redis.Redis,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._what, self._meanwhile, self._cooldown = what, meanwhile, cooldown
        self._secrets = [str(client.connection_pool.connection_kwargs.get("password") or "")]
        self._clock = clock
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def available(self) -> bool:
        with self._lock:
            return not self._down or self._clock() >= self._retry_at

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down, self._retry_at = True, self._clock() + self._cooldown
        if first:
            log.warning("redis: %s unavailable (%s: %s); %s", self._what, type(exc).__name__,
                        _scrub(str(exc), self._secrets), self._meanwhile)

    def succeeded(self) -> None:
        with self._lock:
            recovered, self._down = self._down, False
        if recovered:
            log.info("redis: %s reachable again", self._what)


class RedisBucketStore:
    """Rate-limit buckets shared by every replica: one hash per bucket (`{prefix}ratelimit:{key}`,
    expiring once idle), updated under one short Redis lock. Give the limiter `clock=time.time`:
    bucket stamps are compared across processes, and monotonic clocks are per process."""

    def __init__(self, client: redis.Redis, *, prefix: str = PREFIX, idle_ttl: float = 600.0,
                 lock_timeout: float = 3.0, cooldown: float = 30.0) -> None:
        if idle_ttl <= 0 or lock_timeout <= 0:
            raise ValueError("idle_ttl and lock_timeout must be positive")
        self._redis = client
        self._prefix = f"{prefix}ratelimit:"
        self.idle_ttl, self.lock_timeout = idle_ttl, lock_timeout
        self._breaker = _Breaker("rate limiter", "limiting per replica, in memory, meanwhile",
                                 cooldown, client)
        # Threads of one process queue here, so only one per process polls the Redis lock.
        self._local = threading.Lock()
        # A copy of everything written, so an outage starts from this replica's last view;
        # also the store while Redis is down. Only touched under `_local`.
        self._fallback = MemoryStore()
        self._offline = False  # whether the section in progress uses `_fallback`

    def __repr__(self) -> str:
        return f"RedisBucketStore({_where(self._redis)}, prefix={self._prefix!r})"

    @contextmanager
    def locked(self) -> Iterator[object]:
        with self._local:
            lock = self._acquire() if self._breaker.available() else None
            self._offline = lock is None
            try:
                yield self
            finally:
                if lock is not None:
                    self._release(lock)

    def _acquire(self) -> Lock | None:
        lock = self._redis.lock(
            f"{self._prefix}lock", timeout=self.lock_timeout, sleep=0.002,
            # Longer than the lock lives, so a holder that died cannot make us give up.
            blocking_timeout=self.lock_timeout + 1, thread_local=False,
        )
        try:
            if lock.acquire():
                self._breaker.succeeded()
                return lock
        except RedisError as exc:
            self._breaker.failed(exc)
            return None
        # Redis answers but the lock stayed taken: this once, count on this replica alone.
        log.warning("redis: rate-limit lock busy for %.1f s; using local state once",
                    self.lock_timeout + 1)
        return None

    def _release(self, lock: Lock) -> None:
        try:
            lock.release()  # a compare-and-delete script: never frees another holder's lock
        except LockNotOwnedError:
            log.warning("redis: a rate-limit update outlived its %.1f s lock; another replica may "
                        "have overlapped it", self.lock_timeout)
        except RedisError as exc:
            self._breaker.failed(exc)

    def _went_down(self, exc: RedisError) -> None:
        self._breaker.failed(exc)
        self._offline = True

    def get(self, key: str) -> Bucket | None:
        if not self._offline:
            try:
                raw = self._redis.hgetall(self._prefix + key)
            except RedisError as exc:
                self._went_down(exc)
            else:
                return _bucket(raw, key)
        return replace(b) if (b := self._fallback.get(key)) is not None else None

    def set(self, key: str, bucket: Bucket) -> None:
        self._fallback.set(key, replace(bucket))
        if self._offline:
            return
        # A bucket left alone until it is full again is the same as a new one, so it may go
        # then (plus a margin that keeps limits learned from headers); a pause must outlive its end.
        refill = max(0.0, bucket.capacity - bucket.tokens) / bucket.rate if bucket.rate > 0 else 0.0
        ttl = max(refill, bucket.paused_until - bucket.stamp, 0.0) + self.idle_ttl
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                # repr() round-trips a float exactly, so a bucket reads back as it was written.
                pipe.hset(self._prefix + key, mapping={f: repr(float(getattr(bucket, f))) for f in _FIELDS})
                pipe.pexpire(self._prefix + key, math.ceil(ttl * 1000))
                pipe.execute()
        except RedisError as exc:
            self._went_down(exc)

    def flag(self, user: str) -> None:
        self._fallback.flag(user)
        if self._offline:
            return
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(f"{self._prefix}flagged", user, 1)
                pipe.expire(f"{self._prefix}flagged", FLAG_TTL)
                pipe.execute()
        except RedisError as exc:
            self._went_down(exc)

    def flagged(self) -> dict[str, int]:
        if not self._offline:
            try:
                raw = self._redis.hgetall(f"{self._prefix}flagged")
            except RedisError as exc:
                self._went_down(exc)
            else:
                return {user.decode(): int(count) for user, count in raw.items()}
        return self._fallback.flagged()


def _bucket(raw: dict[bytes, bytes], key: str) -> Bucket | None:
    if not raw:
        return None
    try:
        return Bucket(**{f: float(raw[f.encode()]) for f in _FIELDS})
    except (KeyError, ValueError):
        # Written by something else (or an older version): start that bucket afresh.
        log.warning("redis: rate-limit bucket %s unreadable; starting it afresh", key)
        return None


class RedisCache:
    """The response cache shared by every replica: `SET {prefix}cache:{key} json PX ttl`, read
    back with GET. Expiry is Redis's own, counted from the store (a hit does not extend it).
    Any failure, or an entry this version cannot read, is a miss: a cache never fails a reply."""

    def __init__(self, client: redis.Redis, ttl_seconds: float = 600, *, prefix: str = PREFIX,
                 clock: Callable[[], float] = time.time, cooldown: float = 30.0) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.ttl_seconds = ttl_seconds
        self._redis = client
        self._prefix = f"{prefix}cache:"
        self._clock = clock
        self._breaker = _Breaker("response cache", "answering every request live meanwhile",
                                 cooldown, client)

    def __repr__(self) -> str:
        return f"RedisCache({_where(self._redis)}, prefix={self._prefix!r}, ttl={self.ttl_seconds:g}s)"

    def get(self, key: str) -> CachedReply | None:
        if not self._breaker.available():
            return None
        try:
            raw = self._redis.get(self._prefix + key)
        except RedisError as exc:
            self._breaker.failed(exc)
            return None
        self._breaker.succeeded()
        if raw is None:
            return None
        try:
            return CachedReply.from_json(raw)
        except ValueError as exc:
            # Deleted so it is reported once, not on every repeat of the question.
            log.warning("redis: cached reply %s… unreadable (%s); dropping it", key[:12], exc)
            try:
                self._redis.delete(self._prefix + key)
            except RedisError:
                pass
            return None

    def put(self, key: str, reply: Reply) -> None:
        if not is_cacheable(reply) or not self._breaker.available():
            return
        entry = CachedReply.from_reply(reply, now=self._clock())
        try:
            ttl_ms = max(1, math.ceil(self.ttl_seconds * 1000))  # PX: a TTL like 0.5 s is kept
            self._redis.set(self._prefix + key, entry.to_json(), px=ttl_ms)
        except RedisError as exc:
            self._breaker.failed(exc)
        else:
            self._breaker.succeeded()
