"""Shared state in a real Redis: two limiters or two clients stand for two app replicas, each
with its own connection. The limiter runs on a fake clock, so nothing here really waits."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from redis_server import PASSWORD as REDIS_PASSWORD
from redis_server import RedisServer, _free_port
from test_llm_cache import complete
from test_llm_client import drain, request
from test_llm_ratelimit import MODEL, WALL, FakeClock, reset_at

from chatbot.config import load_app_settings
from chatbot.llm import Reply, Usage
from chatbot.llm.cache import CachedReply, MemoryCache, cache_key
from chatbot.llm.ratelimit import MemoryStore, RateLimiter, RateLimits, RateLimitWaitExceeded, UserLimits
from chatbot.llm.redis_state import (
    RedisBucketStore,
    RedisCache,
    RedisUnavailable,
    connect,
    redact_url,
)
from chatbot.services.runtime import build_runtime


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def raw(redis_url):
    """A plain client for looking at what the app wrote."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def connections(redis_url):
    """`connect()` clients (the app's own settings), one per replica, closed at the end."""
    made: list[redis.Redis] = []

    def make(url: str = redis_url) -> redis.Redis:
        made.append(connect(url))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def replica(connections, clock):
    """A limiter with its own connection and store, as another app process would have."""

    def make(users: UserLimits | None = None, *, prefix: str = "chatbot:", **limits) -> RateLimiter:
        store = RedisBucketStore(connections(), prefix=prefix, idle_ttl=100)
        return RateLimiter(default=RateLimits(**limits), users=users, store=store, clock=clock,
                           sleep=clock.sleep, wall=lambda: WALL + clock())

    return make


# -- the limiter: one budget for every replica -------------------------------------------


def test_capacity_taken_by_one_replica_is_gone_for_the_other(replica):
    a, b = replica(rpm=60, burst=2), replica(rpm=60, burst=2)
    times = [a.acquire(MODEL).admitted_at, b.acquire(MODEL).admitted_at,
             a.acquire(MODEL).admitted_at, b.acquire(MODEL).admitted_at]
    assert times == pytest.approx([0.0, 0.0, 1.0, 2.0])  # in memory each would have had 2 at once
    assert replica(rpm=60, burst=2).acquire(MODEL).admitted_at == pytest.approx(3.0)  # a newcomer too


def test_a_refused_wait_on_one_replica_takes_nothing_from_the_other(replica):
    a, b = replica(rpm=60), replica(rpm=60)
    a.acquire(MODEL)
    with pytest.raises(RateLimitWaitExceeded):
        b.acquire(MODEL, max_wait=0.5)
    assert a.acquire(MODEL).admitted_at == pytest.approx(1.0)


def test_a_429_seen_by_one_replica_pauses_the_other(replica):
    a, b = replica(rpm=600, burst=10), replica(rpm=600, burst=10)
    a.observe_429(MODEL, retry_after=30)
    with pytest.raises(RateLimitWaitExceeded):
        b.acquire(MODEL, max_wait=10)
    assert b.acquire(MODEL).admitted_at == pytest.approx(30.0)


def test_a_pause_on_one_replica_holds_for_the_other(replica):
    a, b = replica(rpm=600, burst=10), replica(rpm=600, burst=10)
    a.pause(MODEL, 12)
    assert b.acquire(MODEL).admitted_at == pytest.approx(12.0)


def test_header_observations_are_shared(replica, clock):
    a, b = replica(rpm=600, burst=10), replica(rpm=600, burst=10)
    a.observe_headers(MODEL, {
        "anthropic-ratelimit-requests-limit": "60",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset_at(120, clock),  # refilling 60 takes 120 s
        "anthropic-ratelimit-input-tokens-limit": "600",  # a limit b was never told of
        "anthropic-ratelimit-input-tokens-remaining": "600",
    })
    # b paces at the server's 1 request a second (debt of one at first), not its own 10...
    assert b.acquire(MODEL, input_tokens_estimate=100).admitted_at == pytest.approx(2.0)
    # ...and waits for 550 input tokens: 500 left at 2 s, refilled at 10 a second.
    assert b.acquire(MODEL, input_tokens_estimate=550).admitted_at == pytest.approx(7.0)


def test_output_debt_settled_on_one_replica_delays_the_other(replica):
    a, b = replica(rpm=600, burst=10, otpm=600), replica(rpm=600, burst=10, otpm=600)
    a.acquire(MODEL).settle(output_tokens=700)  # 100 over a full bucket, refilled at 10/s
    assert b.acquire(MODEL).admitted_at == pytest.approx(10.0)


def test_a_user_is_limited_and_flagged_across_replicas(replica):
    users = UserLimits(rpm=6, burst=1)
    a, b = replica(users, rpm=600, burst=10), replica(users, rpm=600, burst=10)
    assert a.acquire(MODEL, user="alice").admitted_at == 0.0
    assert b.acquire(MODEL, user="alice").admitted_at == pytest.approx(10.0)  # her budget is shared
    assert b.acquire(MODEL, user="bob").admitted_at == pytest.approx(10.0)  # bob is not slowed
    assert a.flagged_users() == b.flagged_users() == {"alice": 1}


def test_deployments_with_other_prefixes_keep_separate_budgets(replica):
    ours, theirs = replica(rpm=60), replica(prefix="other-app:", rpm=60)
    ours.acquire(MODEL)
    assert theirs.acquire(MODEL).admitted_at == 0.0


def test_buckets_expire_once_idle_and_pauses_outlive_their_end(replica, raw, clock):
    a = replica(UserLimits(rpm=6, burst=3), rpm=60, burst=1)
    a.acquire(MODEL)
    key = f"chatbot:ratelimit:{MODEL}:requests"
    # Empty, refilled at 1/s: full again after 1 s, then kept for idle_ttl (100 s) more.
    assert 100_000 < raw.pttl(key) <= 101_000
    a.acquire(MODEL, user="alice")
    # Two of three left, refilled at 0.1/s: full after 10 s, plus the 100.
    assert 109_000 < raw.pttl("chatbot:ratelimit:user:alice") <= 110_000
    a.pause(MODEL, 5_000)
    assert 5_000_000 < raw.pttl(key) <= 5_101_000
    assert set(raw.keys("chatbot:*")) == {key.encode(), b"chatbot:ratelimit:user:alice"}  # lock released
    raw.delete(key)  # what expiry does: the next caller starts from a full bucket
    assert replica(rpm=60, burst=1).acquire(MODEL, max_wait=0).admitted_at == clock()


def test_flag_counts_expire_after_a_quiet_week(replica, raw):
    a = replica(UserLimits(rpm=6, burst=1), rpm=600, burst=10)
    a.acquire(MODEL, user="alice")
    a.acquire(MODEL, user="alice")
    assert 0 < raw.ttl("chatbot:ratelimit:flagged") <= 7 * 24 * 3600


def test_an_unreadable_bucket_starts_afresh(replica, raw, caplog):
    raw.hset(f"chatbot:ratelimit:{MODEL}:requests", mapping={"tokens": "lots"})
    assert replica(rpm=60).acquire(MODEL).admitted_at == 0.0
    assert "unreadable" in caplog.text


def test_many_threads_on_two_replicas_never_over_admit(replica, clock):
    import threading

    rpm, burst = 60, 4
    limiters = [replica(rpm=rpm, burst=burst), replica(rpm=rpm, burst=burst)]
    admitted: list[float] = []
    lock = threading.Lock()

    def session(rl: RateLimiter) -> None:
        for _ in range(5):
            at = rl.acquire(MODEL, max_wait=1e9).admitted_at
            with lock:
                admitted.append(at)

    threads = [threading.Thread(target=session, args=(limiters[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and len(admitted) == 40
    admitted.sort()
    for i, start in enumerate(admitted):  # a token bucket: at most burst + rate * T in any T
        assert sum(1 for at in admitted[i:] if at < start + 10) <= burst + 10


# -- the response cache ---------------------------------------------------------------------


def test_a_reply_stored_by_one_replica_is_a_hit_for_the_other(connections, raw):
    writer, reader = RedisCache(connections(), ttl_seconds=300), RedisCache(connections(), ttl_seconds=300)
    reply = complete("Grüße — your parcel 🚚 ships tomorrow.")
    writer.put("k1", reply)
    hit = reader.get("k1")
    assert hit == CachedReply.from_reply(reply, now=hit.created_at)
    assert abs(hit.created_at - time.time()) < 60  # wall-clock seconds, meaningful to any replica
    assert reader.get("k2") is None


def test_entries_expire_with_the_ttl_and_a_hit_does_not_extend_it(connections, raw):
    cache = RedisCache(connections(), ttl_seconds=120.5)
    cache.put("k", complete())
    assert 119_500 < raw.pttl("chatbot:cache:k") <= 120_500
    raw.pexpire("chatbot:cache:k", 5_000)  # as if most of the TTL had passed
    assert cache.get("k") is not None
    assert raw.pttl("chatbot:cache:k") <= 5_000


@pytest.mark.parametrize("reply", [
    Reply(text="It ships", usage=Usage(output_tokens=2), complete=False),  # cut short
    Reply(text="   ", complete=True),  # nothing to say
    Reply(text="It ships.", complete=True, error=RuntimeError("boom")),
], ids=["partial", "blank", "error"])
def test_replies_that_are_not_whole_answers_are_not_stored(connections, raw, reply):
    RedisCache(connections()).put("k", reply)
    assert raw.exists("chatbot:cache:k") == 0


@pytest.mark.parametrize("stored", [b"not json", b"\xff\xfe", b'{"format": 99, "text": "x"}'])
def test_an_unreadable_entry_is_a_miss_and_is_dropped(connections, raw, caplog, stored):
    raw.set("chatbot:cache:k", stored)
    cache = RedisCache(connections())
    assert cache.get("k") is None
    assert raw.exists("chatbot:cache:k") == 0  # so it is reported once
    assert cache.get("k") is None
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1


@pytest.mark.parametrize("ttl", [0, -5])
def test_ttl_must_be_positive_as_for_the_memory_cache(connections, ttl):
    for make in (lambda: RedisCache(connections(), ttl_seconds=ttl), lambda: MemoryCache(ttl_seconds=ttl)):
        with pytest.raises(ValueError, match="ttl_seconds must be positive"):
            make()


def test_two_clients_share_a_hit_through_redis(make_client, connections, sandbox):
    first, second = make_client(), make_client()
    first.cache, second.cache = RedisCache(connections()), RedisCache(connections())
    text = "".join(drain(first.stream(request())))
    stream = second.stream(request())
    assert "".join(drain(stream)) == text and stream.cache_hit
    assert len(sandbox.state.requests()) == 1  # the second replica never called the API


# -- Redis going away -------------------------------------------------------------------------


@pytest.fixture
def doomed(tmp_path):
    """A server of its own, for a test to stop."""
    with RedisServer(tmp_path, password=REDIS_PASSWORD) as server:
        yield server


def test_with_redis_gone_the_cache_misses_and_stores_nothing_without_raising(doomed, caplog):
    client = connect(doomed.url)
    cache = RedisCache(client, cooldown=0)
    cache.put("k", complete())
    assert cache.get("k") is not None
    doomed.stop()
    started = time.monotonic()
    for _ in range(3):
        cache.put("k2", complete())
        assert cache.get("k") is None
    assert time.monotonic() - started < 5  # refused connections fail fast
    warnings = [r for r in caplog.records if r.name == "chatbot.llm.redis"]
    assert len(warnings) == 1 and "response cache unavailable" in warnings[0].getMessage()
    client.close()


def test_with_redis_gone_the_limiter_limits_each_replica_in_memory(doomed, clock, caplog):
    client = connect(doomed.url)
    rl = RateLimiter(default=RateLimits(rpm=60), store=RedisBucketStore(client), clock=clock,
                     sleep=clock.sleep, users=UserLimits(rpm=6, burst=1))
    rl.acquire(MODEL)
    doomed.stop()
    # Fail open to this replica's own bookkeeping, starting from its last view of the bucket.
    assert rl.acquire(MODEL).admitted_at == pytest.approx(1.0)
    assert rl.acquire(MODEL, user="alice").admitted_at == pytest.approx(2.0)  # her token taken at 1
    assert rl.acquire(MODEL, user="alice").admitted_at == pytest.approx(11.0)  # the next, 10 s later
    assert rl.flagged_users() == {"alice": 1}
    warnings = [r.getMessage() for r in caplog.records if r.name == "chatbot.llm.redis"]
    assert len(warnings) == 1 and "limiting per replica" in warnings[0]
    client.close()


def test_the_limiter_goes_back_to_redis_when_it_returns(tmp_path, clock, caplog):
    caplog.set_level(logging.INFO, "chatbot.llm.redis")
    port = _free_port()
    with RedisServer(tmp_path, password=REDIS_PASSWORD, port=port) as server:
        client = connect(server.url)
    store = RedisBucketStore(client, cooldown=0)
    rl = RateLimiter(default=RateLimits(rpm=60), store=store, clock=clock, sleep=clock.sleep)
    assert rl.acquire(MODEL).admitted_at == 0.0  # server stopped: in memory
    with RedisServer(tmp_path, password=REDIS_PASSWORD, port=port) as server:
        # A restarted Redis without persistence has fresh buckets; this replica uses them...
        assert rl.acquire(MODEL).admitted_at == 0.0
        other = connect(server.url)
        rl2 = RateLimiter(default=RateLimits(rpm=60), store=RedisBucketStore(other), clock=clock,
                          sleep=clock.sleep)
        assert rl2.acquire(MODEL).admitted_at == pytest.approx(1.0)  # ...and shares them again
        other.close()
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    client.close()


# -- the password stays secret ----------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw123@h:6379/0", "redis://:***@h:6379/0"),
    ("redis://user:pw123@h/1", "redis://user:***@h/1"),
    ("redis://pw123@h", "redis://***@h"),
    ("rediss://h:6380/0?password=pw123&ssl_cert_reqs=none",
     "rediss://h:6380/0?password=***&ssl_cert_reqs=none"),
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_urls_are_shown_without_their_password(url, shown):
    assert redact_url(url) == shown


def test_the_password_never_shows_in_reprs_logs_or_errors(redis_url, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(redis_url)
    shown = [repr(client), repr(RedisCache(client)), repr(RedisBucketStore(client)),
             repr(load_app_settings({"CHATBOT_REDIS_URL": redis_url}, dotenv_path=None))]
    wrong = redis_url.replace(REDIS_PASSWORD, "wr0ng-" + REDIS_PASSWORD)
    with pytest.raises(RedisUnavailable) as info:
        connect(wrong)
    shown.append(str(info.value))
    assert "CHATBOT_REDIS_URL" in str(info.value) and "***" in str(info.value)
    with RedisServer(tmp_path, password=REDIS_PASSWORD) as server:  # one that goes away
        doomed = connect(server.url)
    RedisCache(doomed).get("k")
    RateLimiter(store=RedisBucketStore(doomed), clock=clock, sleep=clock.sleep).acquire(MODEL)
    shown.append(caplog.text)
    assert "unavailable" in caplog.text
    for text in shown:
        assert REDIS_PASSWORD not in text
    client.close()
    doomed.close()


# -- wiring ---------------------------------------------------------------------------------


@pytest.fixture
def environ(tmp_path, sandbox):
    return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": sandbox.base_url,
            "CHATBOT_DATA_DIR": str(tmp_path / "data")}


def test_the_runtime_shares_limiter_and_cache_through_redis_when_configured(environ, redis_url, raw, caplog):
    caplog.set_level(logging.INFO, "chatbot")
    runtime = build_runtime({**environ, "CHATBOT_REDIS_URL": redis_url}, dotenv_path=None)
    try:
        assert isinstance(runtime.client.cache, RedisCache)
        limiter = runtime.client.limiter
        assert isinstance(limiter._store, RedisBucketStore) and limiter._clock is time.time
        assert runtime.client.create(request()).complete
        assert raw.exists(f"chatbot:cache:{cache_key(request())}") == 1
        assert raw.exists("chatbot:ratelimit:claude-sonnet-4-5:requests") == 1
        assert REDIS_PASSWORD not in caplog.text and "shared through Redis" in caplog.text
    finally:
        runtime.close()


def test_without_redis_the_runtime_keeps_both_in_memory(environ):
    runtime = build_runtime(environ, dotenv_path=None)
    try:
        assert isinstance(runtime.client.cache, MemoryCache)
        assert isinstance(runtime.client.limiter._store, MemoryStore)
        assert runtime.client.limiter._clock is time.monotonic
    finally:
        runtime.close()


@pytest.mark.parametrize("bad", [
    "redis://:{pw}@127.0.0.1:{closed}/0",  # nothing listening
    "{url_wrong_pw}",  # wrong password
    "http://:{pw}@127.0.0.1:{closed}/0",  # not a Redis URL
])
def test_a_redis_that_cannot_be_used_stops_the_start_with_a_clear_error(environ, redis_url, bad):
    url = bad.format(pw=REDIS_PASSWORD, closed=_free_port(),
                     url_wrong_pw=redis_url.replace(REDIS_PASSWORD, "nope-" + REDIS_PASSWORD))
    with pytest.raises(RedisUnavailable) as info:
        build_runtime({**environ, "CHATBOT_REDIS_URL": url}, dotenv_path=None)
    message = str(info.value)
    assert message.startswith("CHATBOT_REDIS_URL: cannot use Redis at ") and "***" in message
    assert REDIS_PASSWORD not in message and isinstance(info.value, ValueError)
