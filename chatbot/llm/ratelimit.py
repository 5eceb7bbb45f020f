"""Client-side rate limiting: wait for capacity here instead of collecting 429s from the API.

One `RateLimiter` per process, shared by every browser session (it is thread-safe):

    limiter = RateLimiter({"claude-sonnet-4-5": RateLimits(rpm=50, itpm=30_000, otpm=8_000)})
    reservation = limiter.acquire(model, input_tokens_estimate=1_200, max_wait=60, user="agent-7",
                                  on_wait=lambda s: show(f"Waiting for capacity… ~{s:.0f} s"))
    response = send(...)                                 # only after acquire returned
    limiter.observe_headers(model, response.headers)     # or observe_429(model, retry_after)
    reservation.settle(output_tokens=usage.output_tokens, input_tokens=usage.input_tokens)

Each model has a token bucket for requests (refilled at rpm/60 a second, holding `burst`) and,
when configured or announced by the server's headers, one for input and one for output tokens
(each holding a minute's worth). Callers queue first come, first served per model; a user over
their own, lower limit waits before joining that queue, so one noisy agent never holds up the
rest. The output bucket is debited only at `settle`, because output size is unknown up front.

Shared state: buckets and flagged users live behind `BucketStore` (`locked()`, `get`, `set`,
`flag`, `flagged`). `MemoryStore` is the in-process one; `redis_state.RedisBucketStore` shares
them between replicas, with the limiter given `clock=time.time`, since monotonic clocks differ
between processes. The first-come queue stays per process, so fairness across processes is
only approximate.

Pure apart from time: no I/O, no globals; `clock` and `sleep` are injected so tests never sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from .buckets import Bucket, BucketStore, MemoryStore  # noqa: F401  (re-exported)
from .errors import RateLimited

log = logging.getLogger("chatbot.llm.ratelimit")

SLICE = 0.25  # longest single sleep: a waiter notices pauses and Ctrl-C within a quarter second
WARN_EVERY = 3600.0  # a throttled user is logged at most once an hour
_EPSILON = 1e-9  # float refill arithmetic must not leave a waiter one rounding error short


class RateLimitWaitExceeded(RateLimited):
    """Capacity would come later than the caller is willing to wait; nothing was sent."""

    retryable = False

    def __init__(self, wait: float, *, user: str | None = None) -> None:
        who = f"user {user!r}" if user is not None else "the model"
        super().__init__(f"rate limit: {who} would wait {wait:.1f} s", retry_after=wait)
        self.wait, self.user, seconds = wait, user, max(1, round(wait))
        self.advice = (  # shadows the class's text, with the number filled in
            f"You are sending requests much faster than usual; the next one could go in about {seconds} s."
            if user is not None else f"The assistant is at its request limit; waiting would take "
            f"about {seconds} s. Try again in a minute."
        )


class RateLimitWaitCancelled(RateLimited):
    """The caller gave up while waiting for capacity (an agent pressed Stop); nothing was sent."""

    retryable = False
    advice = "Stopped while waiting for capacity: nothing was sent. Retry to send it."

    def __init__(self) -> None:
        super().__init__("rate limit: stopped while waiting for capacity")


@dataclass(frozen=True)
class RateLimits:
    """A model's limits per minute; `itpm`/`otpm` None means unlimited unless the server's
    headers announce a limit. `burst` is how many requests may go at once: the default 1
    paces requests evenly, which also satisfies servers that count a sliding 60 s window
    (the API warns that short bursts can hit a limit). `headroom` keeps a fraction of every
    limit unused, to absorb network jitter against a strict server."""

    rpm: float = 20
    burst: float = 1
    itpm: int | None = None
    otpm: int | None = None
    headroom: float = 0.0

    def __post_init__(self) -> None:
        if self.rpm <= 0 or not 1 <= self.burst <= max(1.0, 2 * self.rpm):
            raise ValueError("rpm must be positive and burst between 1 and 2 * rpm")
        if any(v is not None and v <= 0 for v in (self.itpm, self.otpm)) or not 0 <= self.headroom < 1:
            raise ValueError("itpm and otpm must be positive or None, headroom in [0, 1)")


@dataclass(frozen=True)
class UserLimits:
    """What one user (agent) may send before being slowed down and flagged."""

    rpm: float = 10
    burst: float = 3

    def __post_init__(self) -> None:
        if self.rpm <= 0 or self.burst < 1:
            raise ValueError("user rpm must be positive and burst at least 1")


class _Ticket:
    """A place in a model's queue (compared by identity)."""

    __slots__ = ("input_tokens",)

    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens


@dataclass
class Reservation:
    """Capacity taken for one request; `settle` it with the reply's usage once known."""

    model: str
    input_estimate: int
    admitted_at: float
    waited: float = 0.0
    _limiter: RateLimiter | None = field(default=None, repr=False)

    def settle(self, output_tokens: int = 0, *, input_tokens: int | None = None) -> None:
        """Debit the output tokens and correct the input estimate (idempotent)."""
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter._settle(self.model, self.input_estimate, input_tokens, output_tokens)


_Buckets = tuple[Bucket, "Bucket | None", "Bucket | None"]  # requests, input, output


class RateLimiter:
    """Per-model and per-user rate limits for this process; create one and share it."""

    def __init__(
        self,
        limits: Mapping[str, RateLimits] | None = None,
        *,
        default: RateLimits | None = None,
        users: UserLimits | None = None,
        store: BucketStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._limits = dict(limits or {})
        self._default = default or RateLimits()
        self._users = users or UserLimits()
        self._store = store or MemoryStore()
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._lines: dict[str, deque[_Ticket]] = {}
        self._warned: dict[str, float] = {}

    def limits_for(self, model: str) -> RateLimits:
        return self._limits.get(model, self._default)

    def flagged_users(self) -> dict[str, int]:
        """Users who were slowed down, with how many of their requests were."""
        with self._store.locked():
            return self._store.flagged()

    # -- acquiring ----------------------------------------------------------------------

    def acquire(
        self,
        model: str,
        *,
        input_tokens_estimate: int = 0,
        max_wait: float = 60.0,
        user: str | None = None,
        on_wait: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Reservation:
        """Take capacity for one request now, or wait for it (calling `on_wait(expected)` once
        first). Raises `RateLimitWaitExceeded`, taking nothing, if the wait would exceed
        `max_wait`, and `RateLimitWaitCancelled`, taking nothing, if `cancel` is set while
        waiting (noticed within `SLICE`)."""
        started = self._clock()
        estimate = max(0, int(input_tokens_estimate))
        with self._store.locked():
            user_wait = self._user_bucket(user, started).time_for(1) if user is not None else 0.0
            model_wait = self._eta(self._buckets(model, started), self._line(model), estimate, started)
            # The model's buckets refill while the user waits, so the two waits overlap.
            expected = max(user_wait, model_wait)
            if user is not None and user_wait > 0:
                self._flag(user, started)
            if expected > max_wait + _EPSILON:
                raise RateLimitWaitExceeded(expected, user=user if user_wait >= model_wait else None)
            if user is not None:
                self._take_user(user, started, 1)
        if expected > 0 and on_wait is not None:
            on_wait(expected)
        try:
            self._sleep_until(started + user_wait, cancel)
            reservation = self._wait_in_line(model, estimate, deadline=started + max_wait, cancel=cancel)
        except BaseException:
            if user is not None:
                with self._store.locked():
                    self._take_user(user, self._clock(), -1)  # nothing was sent: give it back
            raise
        reservation.waited = reservation.admitted_at - started
        return reservation

    def _wait_in_line(
        self, model: str, estimate: int, *, deadline: float, cancel: threading.Event | None
    ) -> Reservation:
        ticket, line = _Ticket(estimate), self._line(model)
        try:
            while True:
                with self._store.locked():
                    now = self._clock()
                    buckets = self._buckets(model, now)
                    ahead = list(islice(line, line.index(ticket))) if ticket in line else list(line)
                    wait = self._eta(buckets, ahead, estimate, now)
                    if not ahead and wait <= _EPSILON:
                        requests, inputs, _ = buckets
                        requests.tokens -= 1
                        if inputs is not None:
                            inputs.tokens -= estimate
                        if ticket in line:
                            line.remove(ticket)
                        self._save(model, buckets)
                        return Reservation(model, estimate, now, _limiter=self)
                    # Exact for the first in line; for a newcomer, the check before joining.
                    if (not ahead or ticket not in line) and now + wait > deadline + _EPSILON:
                        raise RateLimitWaitExceeded(wait)
                    if ticket not in line:
                        line.append(ticket)
                    if ahead:  # sleep about until our turn; the first in line checks exactly
                        wait = max(wait, 0.005)
                self._nap(min(wait, SLICE), cancel)
        except BaseException:
            with self._store.locked():
                if ticket in line:
                    line.remove(ticket)
            raise

    def _sleep_until(self, when: float, cancel: threading.Event | None) -> None:
        while (left := when - self._clock()) > 0:
            self._nap(min(left, SLICE), cancel)

    def _nap(self, seconds: float, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise RateLimitWaitCancelled()
        self._sleep(seconds)
        if cancel is not None and cancel.is_set():
            raise RateLimitWaitCancelled()

    # -- learning from the server -------------------------------------------------------

    def observe_headers(self, model: str, headers: Mapping[str, str]) -> None:
        """Believe the server when it says less remains (or a lower limit) than we think."""
        lowered = {name.lower(): value for name, value in headers.items()}
        with self._store.locked():
            now, wall = self._clock(), self._wall()
            keep = 1 - self.limits_for(model).headroom
            buckets = list(self._buckets(model, now))
            for i, kind in enumerate(("requests", "input-tokens", "output-tokens")):
                prefix = f"anthropic-ratelimit-{kind}-"
                limit = _number(lowered.get(prefix + "limit"))
                remaining = _number(lowered.get(prefix + "remaining"))
                reset_in = _seconds_until(lowered.get(prefix + "reset"), wall)
                if buckets[i] is None and limit:  # a limit we were not told of
                    buckets[i] = Bucket(limit / 60 * keep, limit, limit, now)
                bucket = buckets[i]
                if bucket is None:
                    continue
                if limit and limit / 60 * keep < bucket.rate:
                    bucket.rate = limit / 60 * keep
                    bucket.capacity = min(bucket.capacity, limit)
                    bucket.tokens = min(bucket.tokens, bucket.capacity)
                if remaining is not None:
                    bucket.tokens = min(bucket.tokens, remaining)
                    if remaining < 1 and limit and reset_in:
                        # Empty: the server refills `limit` by `reset`, so one unit takes reset/limit.
                        bucket.tokens = min(bucket.tokens, 1 - bucket.rate * reset_in / limit)
            self._save(model, (buckets[0], buckets[1], buckets[2]))

    def observe_429(self, model: str, retry_after: float | None) -> None:
        """A 429 means the server's bucket is empty, and its retry-after holds for everyone."""
        with self._store.locked():
            requests = self._buckets(model, self._clock())[0]
            requests.tokens = min(requests.tokens, 0.0)
            self._store.set(f"{model}:requests", requests)
        if retry_after:
            self.pause(model, retry_after)

    def pause(self, model: str, seconds: float) -> None:
        """Admit nothing for `model` for `seconds`, across all sessions."""
        with self._store.locked():
            now = self._clock()
            requests = self._buckets(model, now)[0]
            requests.paused_until = max(requests.paused_until, now + seconds)
            self._store.set(f"{model}:requests", requests)
        log.warning("rate limit: pausing %s for %.1f s at the server's request", model, seconds)

    # -- bucket plumbing (callers hold the store lock) -----------------------------------

    def _line(self, model: str) -> deque[_Ticket]:
        return self._lines.setdefault(model, deque())

    def _buckets(self, model: str, now: float) -> _Buckets:
        limits = self.limits_for(model)
        keep = 1 - limits.headroom

        def bucket(key: str, per_minute: float | None, capacity: float | None) -> Bucket | None:
            found = self._store.get(f"{model}:{key}")
            if found is None and per_minute:
                found = Bucket(per_minute / 60 * keep, capacity or per_minute, capacity or per_minute, now)
            if found is not None:
                found.refill(now)
            return found

        requests = bucket("requests", limits.rpm, limits.burst)
        assert requests is not None
        return requests, bucket("input", limits.itpm, None), bucket("output", limits.otpm, None)

    def _save(self, model: str, buckets: _Buckets) -> None:
        for key, bucket in zip(("requests", "input", "output"), buckets):
            if bucket is not None:
                self._store.set(f"{model}:{key}", bucket)

    @staticmethod
    def _eta(buckets: _Buckets, ahead: list[_Ticket], estimate: int, now: float) -> float:
        """Seconds until one more request, behind the tickets `ahead`, could go. Those take
        all they asked for; this one needs at most a full bucket (a request bigger than a
        minute's budget goes when the bucket is full, leaving it in debt). Output debt, from
        earlier replies, must be repaid first."""
        requests, inputs, outputs = buckets
        waits = [requests.paused_until - now, requests.time_for(len(ahead) + 1)]
        if inputs is not None:
            waits.append(inputs.time_for(min(estimate, inputs.capacity) + sum(t.input_tokens for t in ahead)))
        if outputs is not None:
            waits.append(outputs.time_for(0))
        return max(0.0, *waits)

    def _settle(self, model: str, estimate: int, input_tokens: int | None, output_tokens: int) -> None:
        with self._store.locked():
            buckets = self._buckets(model, self._clock())
            _, inputs, outputs = buckets
            if inputs is not None and input_tokens is not None:
                inputs.tokens = min(inputs.capacity, inputs.tokens + estimate - input_tokens)
            if outputs is not None:
                outputs.tokens -= max(0, output_tokens)
            self._save(model, buckets)

    def _user_bucket(self, user: str, now: float) -> Bucket:
        key = f"user:{user}"
        bucket = self._store.get(key) or Bucket(self._users.rpm / 60, self._users.burst, self._users.burst, now)
        bucket.refill(now)
        return bucket

    def _take_user(self, user: str, now: float, amount: float) -> None:
        # Below zero is fine: it queues this user's concurrent requests behind each other.
        bucket = self._user_bucket(user, now)
        bucket.tokens = min(bucket.capacity, bucket.tokens - amount)
        self._store.set(f"user:{user}", bucket)

    def _flag(self, user: str, now: float) -> None:
        self._store.flag(user)
        last = self._warned.get(user)
        if last is None or now - last >= WARN_EVERY:
            self._warned[user] = now
            log.warning(
                "rate limit: user %s is sending more than %g requests a minute; slowing them down",
                user, self._users.rpm,
            )


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _seconds_until(raw: str | None, wall_now: float) -> float | None:
    """An RFC 3339 time (as the API sends resets) -> seconds from `wall_now`."""
    try:
        when = datetime.fromisoformat((raw or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - wall_now) if when.tzinfo else None
