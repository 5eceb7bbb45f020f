"""The call log: a Message Batch item is recorded at the batch price (half the list price)
and without latency figures; everything else as any call."""

from __future__ import annotations

import pytest

from chatbot import pricing, store
from chatbot.llm import Reply, Usage
from chatbot.llm.errors import Overloaded
from chatbot.services.call_log import record_call

MODEL = "claude-sonnet-4-5"
USAGE = Usage(input_tokens=1_000, output_tokens=400)


def reply() -> Reply:
    return Reply(text="Hello", model=MODEL, usage=USAGE, complete=True, total=1.5, ttft=0.25)


def test_a_batch_call_costs_half_and_has_no_latency_of_its_own(engine):
    with store.write_session(engine) as session:
        live = record_call(session, purpose="replay", owner="qa", model=MODEL, reply=reply())
        batched = record_call(session, purpose="replay", owner="qa", model=MODEL, reply=reply(), batch=True)
    full = pricing.cost_usd(MODEL, USAGE)
    assert full and live.cost_usd == pytest.approx(full)
    assert batched.cost_usd == pytest.approx(full / 2)
    assert (live.ttft_ms, live.total_ms) == (250.0, 1500.0)
    assert (batched.ttft_ms, batched.total_ms) == (None, None)
    assert (batched.outcome, batched.input_tokens, batched.output_tokens) == ("ok", 1_000, 400)


def test_a_failed_batch_item_is_an_error_billed_nothing(engine):
    error = Overloaded("Overloaded", error_type="overloaded_error")
    with store.write_session(engine) as session:
        call = record_call(session, purpose="replay", owner="qa", model=MODEL, error=error, batch=True)
    assert (call.outcome, call.error_type, call.cost_usd, call.total_ms) == ("error", "overloaded_error", 0.0, None)
