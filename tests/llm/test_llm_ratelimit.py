"""The rate limiter, on a fake clock whose sleep advances it: no test here really waits."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime, timezone

import pytest

from chatbot.llm import errors
from chatbot.llm.ratelimit import (
    SLICE,
    MemoryStore,
    RateLimiter,
    RateLimits,
    RateLimitWaitExceeded,
    UserLimits,
)
from chatbot.llm.retry import is_retryable
from chatbot.llm.settings import ClientSettings

MODEL = "claude-haiku-4-5"
WALL = 1_750_000_000.0  # the fake wall clock, for RFC 3339 reset headers


class FakeClock:
    """A monotonic clock shared by threads; sleeping moves it forward instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.sleeps.append(seconds)
        if self.on_sleep is not None:
            hook, self.on_sleep = self.on_sleep, None
            hook()


@pytest.fixture
def clock():
    return FakeClock()


def limiter(clock: FakeClock, users: UserLimits | None = None, **limits) -> RateLimiter:
    return RateLimiter(
        default=RateLimits(**limits), users=users, clock=clock, sleep=clock.sleep,
        wall=lambda: WALL + clock(),
    )


def reset_at(seconds_from_now: float, clock: FakeClock) -> str:
    when = datetime.fromtimestamp(WALL + clock() + seconds_from_now, tz=timezone.utc)
    return when.isoformat().replace("+00:00", "Z")


def admissions(rl: RateLimiter, n: int, **kw) -> list[float]:
    return [rl.acquire(MODEL, **kw).admitted_at for _ in range(n)]


# -- requests per minute --------------------------------------------------------------------


def test_a_burst_goes_at_once_then_requests_are_paced_at_the_rate(clock):
    rl = limiter(clock, rpm=60, burst=3)
    assert admissions(rl, 6) == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]


def test_the_default_paces_evenly_at_20_rpm(clock):
    assert admissions(limiter(clock), 4) == pytest.approx([0.0, 3.0, 6.0, 9.0])


def test_the_wait_is_computed_exactly_and_announced_once(clock):
    rl = limiter(clock, rpm=20)
    rl.acquire(MODEL)
    clock.now = 1.0
    announced: list[float] = []
    reservation = rl.acquire(MODEL, on_wait=announced.append)
    assert announced == [pytest.approx(2.0)]
    assert reservation.admitted_at == pytest.approx(3.0) and reservation.waited == pytest.approx(2.0)
    assert max(clock.sleeps) <= SLICE  # slices, so a waiting thread stays interruptible


def test_no_wait_announces_nothing(clock):
    announced: list[float] = []
    limiter(clock).acquire(MODEL, on_wait=announced.append)
    assert announced == [] and clock.sleeps == []


def test_headroom_keeps_part_of_the_limit_unused(clock):
    rl = limiter(clock, rpm=60, headroom=0.2)
    assert admissions(rl, 3) == pytest.approx([0.0, 1.25, 2.5])


def test_models_have_separate_limits(clock):
    rl = RateLimiter({"big": RateLimits(rpm=6)}, default=RateLimits(rpm=60), clock=clock, sleep=clock.sleep)
    assert rl.limits_for("big").rpm == 6 and rl.limits_for("other").rpm == 60
    assert [rl.acquire("big").admitted_at for _ in range(2)] == pytest.approx([0.0, 10.0])
    assert rl.acquire("other").admitted_at == pytest.approx(10.0)  # its bucket was full all along


# -- max_wait -------------------------------------------------------------------------------


def test_a_wait_beyond_max_wait_raises_without_sending_or_consuming(clock):
    rl = limiter(clock, rpm=6)
    rl.acquire(MODEL)
    with pytest.raises(RateLimitWaitExceeded) as info:
        rl.acquire(MODEL, max_wait=5, on_wait=lambda s: pytest.fail("must not announce a wait"))
    error = info.value
    assert clock.sleeps == [] and error.wait == pytest.approx(10.0)
    assert isinstance(error, errors.RateLimited) and not error.retryable
    assert not is_retryable(error, ClientSettings())
    assert error.user_message.startswith("The assistant is at its request limit; waiting would take about 10 s.")
    # Nothing was taken: the next caller gets the slot the refused one would have had.
    assert rl.acquire(MODEL, max_wait=10).admitted_at == pytest.approx(10.0)


def test_max_wait_counts_the_queue_ahead(clock):
    rl = limiter(clock, rpm=60)
    rl.acquire(MODEL)
    clock.on_sleep = lambda: pytest.raises(RateLimitWaitExceeded, rl.acquire, MODEL, max_wait=1.5)
    # While one caller waits its 1 s, a second would need 2 s: refused at once.
    assert rl.acquire(MODEL).admitted_at == pytest.approx(1.0)


# -- input and output tokens ----------------------------------------------------------------


def test_input_estimate_is_reserved_and_settle_corrects_it(clock):
    rl = limiter(clock, rpm=600, burst=10, itpm=600)  # 10 input tokens a second
    first = rl.acquire(MODEL, input_tokens_estimate=500)
    first.settle(output_tokens=0, input_tokens=100)  # it was smaller than feared: 400 back
    assert rl.acquire(MODEL, input_tokens_estimate=500).admitted_at == 0.0
    # 600 - 500 + 400 - 500 = 0 left: the next 300 take 30 s.
    assert rl.acquire(MODEL, input_tokens_estimate=300).admitted_at == pytest.approx(30.0)


def test_an_underestimate_is_debited_at_settle(clock):
    rl = limiter(clock, rpm=600, burst=10, itpm=600)
    rl.acquire(MODEL, input_tokens_estimate=100).settle(input_tokens=400)
    # 600 - 100 - 300 more than estimated = 200 left: 300 more takes 10 s.
    assert rl.acquire(MODEL, input_tokens_estimate=300).admitted_at == pytest.approx(10.0)


def test_a_request_larger_than_a_minutes_budget_goes_when_the_bucket_is_full(clock):
    rl = limiter(clock, rpm=600, burst=10, itpm=600)
    assert rl.acquire(MODEL, input_tokens_estimate=900).admitted_at == 0.0
    # 300 tokens of debt, then 600 more to refill: 90 s.
    assert rl.acquire(MODEL, input_tokens_estimate=900, max_wait=90).admitted_at == pytest.approx(90.0)


def test_output_tokens_are_debited_after_the_reply_so_later_requests_wait(clock):
    rl = limiter(clock, rpm=600, burst=10, otpm=600)
    reservation = rl.acquire(MODEL)
    assert rl.acquire(MODEL).admitted_at == 0.0  # nothing reserved for output up front
    reservation.settle(output_tokens=1_200)
    reservation.settle(output_tokens=1_200)  # settling twice changes nothing
    assert rl.acquire(MODEL).admitted_at == pytest.approx(60.0)  # 600 in debt at 10 a second


# -- learning from the server ---------------------------------------------------------------


def test_fewer_remaining_than_we_think_lowers_our_tokens(clock):
    rl = limiter(clock, rpm=60, burst=5)
    rl.observe_headers(MODEL, {"anthropic-ratelimit-requests-remaining": "2"})
    assert admissions(rl, 3) == [0.0, 0.0, 1.0]


def test_more_remaining_than_we_think_changes_nothing(clock):
    rl = limiter(clock, rpm=60, burst=2)
    rl.acquire(MODEL)
    rl.acquire(MODEL)
    rl.observe_headers(MODEL, {"Anthropic-RateLimit-Requests-Remaining": "40"})
    assert rl.acquire(MODEL).admitted_at == 1.0


def test_a_lower_server_limit_is_adopted(clock):
    rl = limiter(clock, rpm=60)
    rl.observe_headers(MODEL, {"anthropic-ratelimit-requests-limit": "30"})
    assert admissions(rl, 3) == pytest.approx([0.0, 2.0, 4.0])


def test_none_remaining_waits_for_the_servers_next_unit(clock):
    rl = limiter(clock, rpm=60)
    rl.observe_headers(MODEL, {
        "anthropic-ratelimit-requests-limit": "60",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset_at(120, clock),  # refilling 60 takes 120 s
    })
    assert rl.acquire(MODEL).admitted_at == pytest.approx(2.0)  # the server's pace, not ours


def test_token_limits_announced_by_the_server_are_enforced(clock):
    rl = limiter(clock, rpm=600, burst=10)  # no token limits configured
    rl.observe_headers(MODEL, {
        "anthropic-ratelimit-input-tokens-limit": "600",
        "anthropic-ratelimit-input-tokens-remaining": "100",
        "anthropic-ratelimit-output-tokens-limit": "not a number",
    })
    assert rl.acquire(MODEL, input_tokens_estimate=300).admitted_at == pytest.approx(20.0)


def test_a_429_pauses_every_caller_of_that_model(clock):
    rl = limiter(clock, rpm=60)
    rl.acquire(MODEL)
    # A caller is already waiting its 1 s when, 0.25 s in, another session gets a 429 with
    # retry-after 10.
    clock.on_sleep = lambda: rl.observe_429(MODEL, 10)
    assert rl.acquire(MODEL).admitted_at == pytest.approx(10.25)
    assert rl.acquire("another-model").admitted_at == pytest.approx(10.25)  # it waits for nothing


def test_a_429_without_retry_after_empties_the_bucket(clock):
    rl = limiter(clock, rpm=60, burst=5)
    rl.observe_429(MODEL, None)
    assert rl.acquire(MODEL).admitted_at == pytest.approx(1.0)


def test_a_pause_beyond_max_wait_fails_the_waiting_caller(clock):
    rl = limiter(clock, rpm=60)
    rl.acquire(MODEL)
    clock.on_sleep = lambda: rl.pause(MODEL, 120)
    with pytest.raises(RateLimitWaitExceeded):
        rl.acquire(MODEL, max_wait=60)


# -- per-user limits ------------------------------------------------------------------------


def test_a_user_far_above_usual_is_slowed_and_flagged(clock, caplog):
    rl = limiter(clock, users=UserLimits(rpm=6, burst=2), rpm=600, burst=10)
    caplog.set_level(logging.WARNING, "chatbot.llm.ratelimit")
    assert [rl.acquire(MODEL, user="alice").admitted_at for _ in range(4)] == pytest.approx([0, 0, 10, 20])
    assert rl.acquire(MODEL, user="bob").admitted_at == pytest.approx(20.0)  # bob is not slowed
    assert rl.flagged_users() == {"alice": 2}
    assert len([r for r in caplog.records if "alice" in r.getMessage()]) == 1  # once an hour
    clock.now += 3_600
    for _ in range(4):
        rl.acquire(MODEL, user="alice")
    assert rl.flagged_users() == {"alice": 4}
    assert len([r for r in caplog.records if "alice" in r.getMessage()]) == 2


def test_a_users_wait_beyond_max_wait_names_the_user_and_takes_nothing(clock):
    rl = limiter(clock, users=UserLimits(rpm=1, burst=1), rpm=600, burst=10)
    rl.acquire(MODEL, user="alice")
    with pytest.raises(RateLimitWaitExceeded) as info:
        rl.acquire(MODEL, user="alice", max_wait=30)
    assert info.value.user == "alice" and "faster than usual" in info.value.user_message
    assert rl.flagged_users() == {"alice": 1}
    assert rl.acquire(MODEL, user="alice").admitted_at == pytest.approx(60.0)


def test_an_interrupted_wait_gives_its_place_and_user_token_back(clock):
    rl = limiter(clock, users=UserLimits(rpm=60, burst=1), rpm=60)
    rl.acquire(MODEL)

    def interrupt():
        raise KeyboardInterrupt

    clock.on_sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        rl.acquire(MODEL, user="alice")
    # Alice's user token and her place in the line were returned: she goes when the model can.
    assert rl.acquire(MODEL, user="alice").admitted_at == pytest.approx(1.0)


def test_a_cancelled_wait_ends_at_once_taking_nothing(clock):
    from chatbot.llm.ratelimit import RateLimitWaitCancelled

    rl = limiter(clock, users=UserLimits(rpm=60, burst=1), rpm=60)
    rl.acquire(MODEL)
    cancel = threading.Event()
    clock.on_sleep = cancel.set  # the agent presses Stop during the first nap
    with pytest.raises(RateLimitWaitCancelled) as stopped:
        rl.acquire(MODEL, user="alice", cancel=cancel)
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 0.25  # noticed within one slice
    assert "nothing was sent" in stopped.value.user_message
    assert not is_retryable(stopped.value, ClientSettings())
    # Nothing was taken: her token and her place are back, as for any interrupted wait.
    assert rl.acquire(MODEL, user="alice").admitted_at == pytest.approx(1.0)
    naps = len(clock.sleeps)
    with pytest.raises(RateLimitWaitCancelled):  # already cancelled: not even one nap
        rl.acquire(MODEL, cancel=cancel)
    assert len(clock.sleeps) == naps


# -- many sessions at once ------------------------------------------------------------------


def test_twenty_threads_never_over_admit(clock):
    rpm, burst = 30, 5
    rl = limiter(clock, rpm=rpm, burst=burst)
    admitted: list[float] = []
    lock = threading.Lock()

    def session() -> None:
        for _ in range(6):
            at = rl.acquire(MODEL, max_wait=1e9).admitted_at
            with lock:
                admitted.append(at)

    threads = [threading.Thread(target=session) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert len(admitted) == 120
    per_minute = Counter(int(at // 60) for at in admitted)
    assert max(per_minute.values()) <= rpm + burst
    admitted.sort()
    # A token bucket admits at most burst + rate * T in any span T, not just calendar minutes.
    for i, start in enumerate(admitted):
        in_window = sum(1 for at in admitted[i:] if at < start + 60)
        assert in_window <= burst + rpm
    assert admitted[-1] >= (120 - burst) * 60 / rpm - 1e-6


def test_the_store_is_pluggable(clock):
    store = MemoryStore()
    first = RateLimiter(default=RateLimits(rpm=60), store=store, clock=clock, sleep=clock.sleep)
    second = RateLimiter(default=RateLimits(rpm=60), store=store, clock=clock, sleep=clock.sleep)
    first.acquire(MODEL)
    assert second.acquire(MODEL).admitted_at == pytest.approx(1.0)  # the bucket is shared


@pytest.mark.parametrize("bad", [dict(rpm=0), dict(burst=0.5), dict(rpm=2, burst=5), dict(itpm=0), dict(headroom=1)])
def test_invalid_limits_are_refused(bad):
    with pytest.raises(ValueError):
        RateLimits(**bad)
