"""MessageBatches over real HTTP against the loopback sandbox: submit, wait (fake sleep),
results as replies or errors, cancel, retries under faults, and the half price."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chatbot.llm import BatchInfo, ChatRequest, MessageBatches, Turn, errors
from chatbot.llm.batch import BatchCancelled
from chatbot.llm.message_batches import BatchCounts, BatchItemExpired, BatchWaitTimeout, outcome_from_result
from chatbot.pricing import PriceFileError, load_prices, parse_prices

MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a customer support assistant for Globex Corp."


def request(text: str = "Where is my order #1042?", **kw) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", MODEL), messages=[Turn("user", text)], system=SYSTEM, max_tokens=300, **kw)


ITEMS = [("order", request()), ("refund", request("I want a refund")), ("thanks", request("Thanks a lot!"))]


@pytest.fixture
def batches(client):
    return MessageBatches(client)


def test_submit_sends_each_request_as_the_messages_api_body(batches, sandbox):
    info = batches.submit(ITEMS)
    assert info.id.startswith("msgbatch_") and info.status == "in_progress" and not info.ended
    assert info.counts == BatchCounts(processing=3)
    assert info.created_at is not None and info.expires_at is not None
    assert (info.expires_at - info.created_at).total_seconds() == 24 * 3600
    sent = sandbox.state.requests()[-1]
    assert sent["path"] == "/v1/messages/batches" and sent["has_key"] is True
    assert sent["body"] == {
        "requests": [{"custom_id": cid, "params": req.to_body(stream=False)} for cid, req in ITEMS]
    }
    assert "sk-test" not in json.dumps(sandbox.state.requests()) and "sk-test" not in repr(info)


def test_wait_polls_with_the_injected_sleep_and_reports_progress(batches, sandbox, sleeps):
    sandbox.state.batches.polls_to_end = 3
    info = batches.submit(ITEMS)
    seen: list[BatchInfo] = []
    ended = batches.wait(info.id, poll_interval=30, on_progress=seen.append)
    assert ended.ended and ended.ended_at is not None and ended.results_url
    assert [(i.status, i.counts.done) for i in seen] == [("in_progress", 1), ("in_progress", 2), ("ended", 3)]
    assert sleeps.calls == [30, 30]  # between polls only, never after the last
    other_sleep: list[float] = []
    batches.wait(batches.submit(ITEMS).id, poll_interval=5, sleep=other_sleep.append)
    assert other_sleep == [5, 5] and sleeps.calls == [30, 30]


def test_results_are_replies_with_usage_like_create(batches, client):
    info = batches.wait(batches.submit(ITEMS).id)
    outcomes = list(batches.results(info))
    assert [cid for cid, _ in outcomes] == ["order", "refund", "thanks"]  # the sandbox keeps order
    for (cid, reply), (_, req) in zip(outcomes, ITEMS):
        direct = client.create(req, use_cache=False)
        assert reply.complete and reply.status == "complete" and reply.error is None
        assert reply.text == direct.text and "Globex Corp" in reply.text
        assert (reply.model, reply.stop_reason) == (MODEL, "end_turn")
        assert reply.message_id.startswith("msg_")
        assert reply.usage == direct.usage and reply.usage.output_tokens > 0


def test_results_by_id_fetch_the_batch_first(batches):
    info = batches.submit(ITEMS[:1])  # one poll (the retrieve inside results) ends it
    [(cid, reply)] = list(batches.results(info.id))
    assert cid == "order" and reply.text


def test_errored_items_become_our_errors(batches, sandbox):
    items = [
        ("ok", request()),
        ("unknown-model", request(model="claude-0")),
        ("assistant-first", ChatRequest(model=MODEL, messages=[Turn("assistant", "Hello")])),
    ]
    outcomes = batches.run(items)
    assert not isinstance(outcomes["ok"], errors.LLMError)
    missing = outcomes["unknown-model"]
    assert isinstance(missing, errors.NotFound) and missing.error_type == "not_found_error"
    assert missing.message == "model: claude-0" and missing.request_id.startswith("req_")
    invalid = outcomes["assistant-first"]
    assert isinstance(invalid, errors.BadRequest) and not invalid.retryable
    assert "user" in invalid.message and invalid.user_message.startswith("The request was refused")


def test_outcome_mapping_covers_every_result_type():
    overloaded = outcome_from_result(
        {"type": "errored", "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}
    )
    assert isinstance(overloaded, errors.Overloaded) and overloaded.request_id is None
    assert isinstance(outcome_from_result({"type": "canceled"}), BatchCancelled)
    assert isinstance(outcome_from_result({"type": "expired"}), BatchItemExpired)
    unknown = outcome_from_result({"type": "vanished"})
    assert type(unknown) is errors.LLMError and "vanished" in str(unknown)


def test_cancel_turns_unprocessed_items_into_cancelled_errors(batches, sandbox):
    sandbox.state.batches.polls_to_end = 3
    info = batches.submit(ITEMS)
    assert batches.retrieve(info.id).counts.succeeded == 1
    canceling = batches.cancel(info.id)
    assert canceling.status == "canceling" and canceling.cancel_initiated_at is not None
    ended = batches.wait(info.id)
    assert ended.counts == BatchCounts(succeeded=1, canceled=2)
    outcomes = dict(batches.results(ended))
    assert not isinstance(outcomes["order"], errors.LLMError)
    assert all(isinstance(outcomes[cid], BatchCancelled) for cid in ("refund", "thanks"))
    with pytest.raises(errors.BadRequest, match="already ended"):
        batches.cancel(info.id)


def test_expired_items(batches, sandbox):
    sandbox.state.batches.polls_to_end = 5
    info = batches.submit(ITEMS)
    sandbox.state.batches.expire(info.id)
    outcomes = dict(batches.results(info.id))
    assert all(isinstance(outcome, BatchItemExpired) for outcome in outcomes.values())
    assert "Submit it again" in outcomes["order"].user_message


@pytest.mark.parametrize("statuses", [[529], [500], [529, 500]])
def test_retrieve_is_retried_on_transient_failures(batches, sandbox, sleeps, statuses):
    info = batches.submit(ITEMS)
    sandbox.state.add_faults([{"kind": "status", "status": status} for status in statuses])
    assert batches.retrieve(info.id).ended  # the refused polls did not count
    assert len(sleeps.calls) == len(statuses)
    polls = [r for r in sandbox.state.requests() if r["path"] == f"/v1/messages/batches/{info.id}"]
    assert len(polls) == len(statuses) + 1


def test_retries_give_up_after_max_attempts_with_our_error(batches, sandbox, sleeps):
    info = batches.submit(ITEMS)
    sandbox.state.add_faults([{"kind": "status", "status": 529}] * 3)
    with pytest.raises(errors.Overloaded) as caught:
        batches.retrieve(info.id)
    assert caught.value.attempts == 3 and len(sleeps.calls) == 2
    assert "sk-test" not in str(caught.value) and "sk-test" not in caught.value.user_message


def test_submit_honours_retry_after_and_never_retries_a_400(batches, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 429, "retry_after": "4"}])
    assert batches.submit(ITEMS).status == "in_progress"
    assert sleeps.calls == [4.0]
    sandbox.state.add_faults([{"kind": "status", "status": 400}])
    with pytest.raises(errors.BadRequest):
        batches.submit(ITEMS)
    assert sleeps.calls == [4.0]


def test_results_before_the_end_are_refused(batches, sandbox):
    sandbox.state.batches.polls_to_end = 5
    info = batches.submit(ITEMS)
    with pytest.raises(errors.BadRequest, match="has not finished processing"):
        list(batches.results(info.id))


def test_wait_gives_up_after_its_timeout(batches, sandbox, sleeps):
    sandbox.state.batches.polls_to_end = 10
    info = batches.submit(ITEMS)
    with pytest.raises(BatchWaitTimeout, match="still in_progress after 120 s") as caught:
        batches.wait(info.id, poll_interval=60, timeout=150)
    assert sleeps.calls == [60, 60]
    assert "Check again later" in caught.value.user_message
    with pytest.raises(ValueError):
        batches.wait(info.id, poll_interval=0)


@pytest.mark.parametrize(
    "items",
    [[], [("has space", request())], [("x" * 65, request())], [("a", request()), ("a", request())]],
)
def test_a_batch_the_api_would_refuse_is_not_sent(batches, sandbox, items):
    with pytest.raises(ValueError):
        batches.submit(items)
    assert sandbox.state.requests() == []


def test_a_results_url_on_another_host_is_never_followed(batches, sandbox):
    foreign = BatchInfo("msgbatch_x", "ended", BatchCounts(succeeded=1), results_url="https://evil.example/r")
    with pytest.raises(errors.ConfigurationError, match="not on the API host"):
        list(batches.results(foreign))
    assert sandbox.state.requests() == []
    with pytest.raises(ValueError):
        batches.retrieve("../models")


def test_list_pages_newest_first_and_delete(batches, sandbox):
    ids = [batches.submit(ITEMS[:1]).id for _ in range(3)]
    assert [info.id for info in batches.list(page_size=2)] == ids[::-1]
    pages = [r for r in sandbox.state.requests() if r["path"] == "/v1/messages/batches" and r["body"] is None]
    assert len(pages) == 2
    sandbox.state.batches.finish()
    batches.delete(ids[0])
    assert [info.id for info in batches.list()] == ids[:0:-1]
    with pytest.raises(errors.NotFound):
        batches.retrieve(ids[0])


# -- half price --------------------------------------------------------------------------


def test_batch_replies_cost_half(batches):
    prices = load_prices({}, dotenv_path=None)
    reply = batches.run(ITEMS[:1])["order"]
    full = prices.cost(MODEL, reply.usage)
    half = prices.cost(MODEL, reply.usage, batch=True)
    assert full.priced and half.priced and full.usd > 0
    assert half.usd == pytest.approx(full.usd / 2)
    usage = reply.usage
    expected = (usage.input_tokens * Decimal(3) + usage.output_tokens * Decimal(15)) / Decimal(2_000_000)
    assert half.usd == pytest.approx(float(expected))
    assert prices.cost(MODEL, usage, batch=True, cache_hit=True).usd == 0.0
    assert not prices.cost("claude-next-9", usage, batch=True).priced


def test_batch_multiplier_is_data():
    entry = {"input": 10, "output": 20, "cache_write": 0, "cache_read": 0}
    table = parse_prices({"models": {"m": {**entry, "batch_multiplier": Decimal("0.25")}, "n": entry}})
    assert table["m"].batch_multiplier == Decimal("0.25") and table["n"].batch_multiplier == Decimal("0.5")
    for bad in (Decimal("1.5"), -1, True, "half"):
        with pytest.raises(PriceFileError, match="batch_multiplier"):
            parse_prices({"models": {"m": {**entry, "batch_multiplier": bad}}})
