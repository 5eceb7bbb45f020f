"""A reply queued behind the rate limit tells its watchers so, with the expected wait."""

from __future__ import annotations

import threading

import pytest

from chatbot import store
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.llm.ratelimit import RateLimiter, RateLimits
from chatbot.services.generation import CapacityWait, Generation

from actors import AGENT, AGENT2
from test_services_chat import WAIT, build_service, transcript


class GatedClock:
    """The limiter's clock and sleep: time moves only when the test opens the gate."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.gate = threading.Event()
        self.sleeping = threading.Event()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        assert self.gate.wait(WAIT), "the test never let the limiter go on"
        self.now += seconds


@pytest.fixture
def limited(tmp_path, sandbox):
    time = GatedClock()
    service = build_service(tmp_path, sandbox.base_url)
    service.client.close()
    service.client = LLMClient(
        ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1),
        limiter=RateLimiter(
            default=RateLimits(rpm=20, burst=1), clock=time.clock, sleep=time.sleep
        ),
    )
    yield service, time
    time.gate.set()
    service.close()
    service.generations.shutdown()
    service.client.close()
    service.engine.dispose()


def test_a_reply_waiting_for_capacity_says_how_long_then_streams(limited):
    service, time = limited
    first = service.send(AGENT, conversation_id=None, text="Where is order 1042?")
    assert first.wait(WAIT) and first.error is None

    second = service.send(AGENT2, conversation_id=None, text="And order 1043?")
    assert time.sleeping.wait(WAIT), "the second request should queue behind the limit"
    # on_wait runs before the limiter's first sleep, so the notice is already there.
    assert second.waiting is not None, "the page would not know why nothing comes"
    updates = second.updates()
    wait = next(updates)
    assert isinstance(wait, CapacityWait)
    assert 2.0 < wait.seconds_left() <= 3.0  # 20 a minute: the next slot is 3 s away
    assert second.waiting == wait and second.text == ""

    time.gate.set()
    text = "".join(u for u in updates if isinstance(u, str))
    assert second.wait(WAIT) and second.error is None
    assert text and second.waiting is None
    assert transcript(service, second.conversation_id)[-1].content == text


def test_a_watcher_arriving_during_the_wait_is_told_too():
    generation = Generation(conversation_id=1, message_id=2)
    generation.waiting_for_capacity(5)
    updates = generation.updates(poll=0.01)
    assert isinstance(next(updates), CapacityWait)
    generation.push("Hello")
    assert next(updates) == "Hello" and generation.waiting is None
    generation.finish()
    assert list(updates) == [] and list(generation.deltas()) == ["Hello"]


def test_stop_while_waiting_for_capacity_ends_the_wait_and_sends_nothing(limited, sandbox):
    service, time = limited
    first = service.send(AGENT, conversation_id=None, text="Where is order 1042?")
    assert first.wait(WAIT) and first.error is None
    sent = len(sandbox.state.requests())

    second = service.send(AGENT2, conversation_id=None, text="And order 1043?")
    assert time.sleeping.wait(WAIT) and second.waiting is not None
    second.cancel()  # the agent presses Stop while the reply waits for capacity
    time.gate.set()  # the limiter's nap ends; it must notice the stop, not send

    assert second.wait(WAIT)
    assert len(sandbox.state.requests()) == sent
    user, reply = transcript(service, second.conversation_id)
    assert (reply.status, reply.content) == ("error", "")
    assert reply.error == "Stopped while waiting for capacity: nothing was sent. Retry to send it."
    with store.read_session(service.engine) as session:  # no call was made, none recorded
        assert [c.message_id for c in store.list_api_calls(session=session)] == [first.message_id]
