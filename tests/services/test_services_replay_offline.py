"""Offline replays through the Message Batches API (half price), against the loopback
sandbox: one batch per run, its id kept for resuming, progress while waiting, cancel,
expiry, budgets up front, and the poll interval setting."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from actors import QA
from replay_harness import STORY, VARS, WAIT, finish, history, sent

from chatbot import pricing, store
from chatbot.errors import InputError, StatedError
from chatbot.llm import Usage
from chatbot.services.replay import ReplayTarget
from chatbot.store import replays as rows

BATCHES = "/v1/messages/batches"


def batches_sent(sandbox) -> list[list[dict]]:
    """The `requests` of every batch created, oldest first."""
    return [r["body"]["requests"] for r in sandbox.state.requests() if r["path"] == BATCHES and r["body"]]


def polled(sandbox) -> list[str]:
    """The batch ids retrieved, in order (GETs of one batch)."""
    prefix = BATCHES + "/"
    return [r["path"][len(prefix):] for r in sandbox.state.requests()
            if r["path"].startswith(prefix) and "/" not in r["path"][len(prefix):]]


def batch_id_of(env, run_id: int) -> str | None:
    with store.read_session(env.engine) as session:
        return rows.get_run(session=session, run_id=run_id).provider_batch_id


class Died(Exception):
    """Stands in for the process dying while it waits on the batch."""


def die(seconds: float) -> None:
    raise Died


def test_an_offline_run_sends_one_batch_and_stores_each_turn_at_half_price(env, sandbox):
    ids = env.conversation(STORY)
    draft = env.draft("Globex")
    target = ReplayTarget("support", draft, "claude-haiku-5-5")
    service = env.service(batch_sleep=die)  # the batch ends on its first poll: no sleep at all
    live = service.preview(QA, [env.last_conversation], target)
    offline = service.preview(QA, [env.last_conversation], target, mode="offline")
    assert offline.cost_usd == pytest.approx(live.cost_usd / 2) and offline.turns == live.turns == 3

    run_id = service.start(QA, [env.last_conversation], target, mode="offline")
    finish(service, run_id)

    (batch,) = batches_sent(sandbox)
    assert sent(sandbox) == []  # nothing went through /v1/messages
    assert [item["custom_id"] for item in batch] == [f"m{ids[1]}", f"m{ids[3]}", f"m{ids[7]}"]
    system = env.personas.version("support", draft).spec.system_prompt(VARS)
    assert [history(item["params"]) for item in batch] == [
        [("user", "Hi, where is order 1042?")],
        [("user", "Hi, where is order 1042?"), ("assistant", "Let me check order 1042 for you."),
         ("user", "It was due yesterday.")],
        [("user", "Hi, where is order 1042?"), ("assistant", "Let me check order 1042 for you."),
         ("user", "It was due yesterday."), ("assistant", "Sorry for the wai"),
         ("user", "Hello?\n\nCan I get a refund instead?")],
    ]
    turns = service.plan([env.last_conversation], target, owner="qa")
    assert [item["params"] for item in batch] == [t.request.to_body(stream=False) for t in turns]
    assert all(item["params"]["system"] == system and item["params"]["model"] == "claude-haiku-5-5"
               and "stream" not in item["params"] for item in batch)

    results = env.results(run_id)
    assert [r.source_message_id for r in results] == [ids[1], ids[3], ids[7]]
    assert all(r.status == "complete" and "Globex" in r.text and r.total_ms is None for r in results)
    calls = env.calls()
    assert len(calls) == 3 and {(c.owner, c.outcome, c.total_ms) for c in calls} == {("qa", "ok", None)}
    for call in calls:
        full = pricing.cost_usd(call.model, Usage(input_tokens=call.input_tokens, output_tokens=call.output_tokens))
        assert call.cost_usd == pytest.approx(full / 2) and call.cost_usd > 0
    assert sorted(r.cost_usd for r in results) == pytest.approx(sorted(c.cost_usd for c in calls))

    progress = service.progress(QA, run_id)
    assert (progress.status, progress.done, progress.total, progress.mode) == ("done", 3, 3, "offline")
    assert progress.provider_batch_id == polled(sandbox)[0] and progress.batch.status == "ended"
    assert progress.estimated_cost_usd == pytest.approx(offline.cost_usd)
    assert progress.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))


def test_an_offline_run_shows_the_batch_progress_while_it_waits(env, sandbox):
    env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3  # one more turn answered at each poll
    seen: list[tuple] = []
    started = threading.Event()
    holder: dict[str, Any] = {}

    def sleep(seconds: float) -> None:
        assert started.wait(WAIT)
        progress = holder["service"].progress(QA, holder["run_id"])
        seen.append((seconds, progress.status, progress.done, progress.batch.status, progress.batch.counts.done))

    service = holder["service"] = env.service(batch_sleep=sleep, batch_poll_interval=5)
    holder["run_id"] = run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1),
                                              mode="offline")
    started.set()
    finish(service, run_id)
    assert seen == [(5, "running", 1, "in_progress", 1), (5, "running", 2, "in_progress", 2)]
    assert len(batches_sent(sandbox)) == 1 and len(polled(sandbox)) == 3
    assert service.progress(QA, run_id).done == 3 and len(env.results(run_id)) == 3


def test_cancel_cancels_the_batch_keeps_what_it_answered_and_resume_sends_only_the_rest(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3
    started = threading.Event()
    holder: dict[str, Any] = {}

    def sleep(seconds: float) -> None:  # the agent clicks Cancel after the first poll
        assert started.wait(WAIT)
        holder["service"].cancel(QA, holder["run_id"])

    service = holder["service"] = env.service(batch_sleep=sleep)
    holder["run_id"] = run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1),
                                              mode="offline")
    started.set()
    finish(service, run_id)
    batch_id = batch_id_of(env, run_id)
    cancels = [r for r in sandbox.state.requests() if r["path"] == f"{BATCHES}/{batch_id}/cancel"]
    assert len(cancels) == 1
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3]]  # answered before the cancel
    assert len(env.calls()) == 2  # the cancelled item was never processed: nothing billed
    progress = service.progress(QA, run_id)
    assert (progress.status, progress.done) == ("cancelled", 2)

    sandbox.state.clear_requests()
    sandbox.state.batches.polls_to_end = 1
    service.resume(QA, run_id)
    finish(service, run_id)
    (batch,) = batches_sent(sandbox)
    assert [item["custom_id"] for item in batch] == [f"m{ids[7]}"]
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert service.progress(QA, run_id).status == "done" and batch_id_of(env, run_id) != batch_id


def test_an_interrupted_offline_run_resumes_by_polling_the_same_batch(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 2
    stored_before_waiting: list[str | None] = []
    holder: dict[str, int] = {}
    started = threading.Event()

    def dies_waiting(seconds: float) -> None:
        assert started.wait(WAIT)
        stored_before_waiting.append(batch_id_of(env, holder["run_id"]))  # committed already
        raise Died

    first = env.service(batch_sleep=dies_waiting)
    holder["run_id"] = run_id = first.start(QA, [env.last_conversation], ReplayTarget("support", 1),
                                            mode="offline")
    started.set()
    finish(first, run_id)
    batch_id = batch_id_of(env, run_id)
    assert batch_id and stored_before_waiting == [batch_id] and polled(sandbox) == [batch_id]
    progress = first.progress(QA, run_id)
    assert (progress.status, progress.done) == ("failed", 0) and env.results(run_id) == []

    second = env.service(batch_sleep=die)  # a new process; the batch ends on its next poll
    second.resume(QA, run_id)
    finish(second, run_id)
    assert len(batches_sent(sandbox)) == 1  # never submitted again
    assert polled(sandbox) == [batch_id, batch_id]
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert len(env.calls()) == 3 and batch_id_of(env, run_id) == batch_id
    assert second.progress(QA, run_id).status == "done"


def test_an_expired_batch_is_resubmitted_for_the_missing_turns_only(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3
    first = env.service(batch_sleep=die)
    run_id = first.start(QA, [env.last_conversation], ReplayTarget("support", 1), mode="offline")
    finish(first, run_id)  # died after one poll: the first turn was answered
    expired = batch_id_of(env, run_id)
    sandbox.state.batches.expire(expired)  # 24 hours later the rest had not been processed

    second = env.service(batch_sleep=lambda seconds: None)
    second.resume(QA, run_id)
    finish(second, run_id)
    first_batch, again = batches_sent(sandbox)
    assert len(first_batch) == 3
    assert [item["custom_id"] for item in again] == [f"m{ids[3]}", f"m{ids[7]}"]
    assert [item["params"] for item in again] == [item["params"] for item in first_batch[1:]]
    results = env.results(run_id)
    assert [(r.source_message_id, r.status) for r in results] == [
        (ids[1], "complete"), (ids[3], "complete"), (ids[7], "complete")
    ]
    assert len(env.calls()) == 3  # the expired items were never billed
    progress = second.progress(QA, run_id)
    assert (progress.status, progress.done) == ("done", 3) and progress.provider_batch_id != expired


def test_closing_the_app_leaves_the_batch_going_and_cancel_stops_it_later(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3
    service = env.service(batch_sleep=die)
    with store.write_session(env.engine) as session:
        run = rows.create_run(session=session, status="pending", persona="support", persona_version=1,
                              conversation_ids=[env.last_conversation], check_ids=[], turns_total=3,
                              created_by="qa", mode="offline")
    turns = service.plan([env.last_conversation], ReplayTarget("support", 1), owner="qa")
    closing = threading.Event()
    closing.set()  # the app is stopping while the batch is processed
    status = service.offline.run(run, turns, [], cancel=threading.Event(), closing=closing, retry_errors=True)
    assert status == "running" and len(batches_sent(sandbox)) == 1
    batch_id = batch_id_of(env, run.id)
    assert sandbox.state.batches.get(batch_id).status == "in_progress"  # not cancelled
    progress = service.progress(QA, run.id)
    assert progress.interrupted and progress.done == 0

    service.cancel(QA, run.id)  # no worker here: the run is marked cancelled, its batch cancelled
    assert service.progress(QA, run.id).status == "cancelled"
    assert sandbox.state.batches.get(batch_id).status == "canceling"

    sandbox.state.batches.polls_to_end = 1  # the new batch ends on its first poll
    service.resume(QA, run.id)
    finish(service, run.id)
    first_batch, again = batches_sent(sandbox)
    assert [item["custom_id"] for item in again] == [f"m{ids[3]}", f"m{ids[7]}"]
    assert [r.source_message_id for r in env.results(run.id)] == [ids[1], ids[3], ids[7]]


class Upfront:
    """Budgets stub: refuses a batch expected to cost more than `left`."""

    def __init__(self, left: float) -> None:
        self.left = left
        self.checks: list[float] = []

    def check(self, purpose: str, owner: str, *, upfront_usd: float = 0.0) -> None:
        self.checks.append(upfront_usd)
        if upfront_usd > self.left:
            raise StatedError("This would cost more than is left of the budget.")

    def after_call(self, owner: str) -> None:
        return None


def test_an_offline_run_is_checked_against_the_budget_for_its_whole_half_price_estimate(env, sandbox):
    env.conversation(STORY)
    target = ReplayTarget("support", 1)
    cost = env.service().preview(QA, [env.last_conversation], target, mode="offline").cost_usd
    budget = Upfront(left=cost * 0.99)
    refusing = env.service(budgets=budget)
    with pytest.raises(StatedError, match="more than is left"):
        refusing.start(QA, [env.last_conversation], target, mode="offline")
    assert budget.checks == [0.0, pytest.approx(cost)] and refusing.runs(QA) == [] and batches_sent(sandbox) == []

    budget = Upfront(left=cost)
    service = env.service(budgets=budget, batch_sleep=die)
    run_id = service.start(QA, [env.last_conversation], target, mode="offline")
    finish(service, run_id)
    # at start, then again in the worker right before the batch is submitted
    assert budget.checks == [0.0, pytest.approx(cost), pytest.approx(cost)]
    assert service.progress(QA, run_id).status == "done"
    with pytest.raises(InputError, match="live or offline"):
        service.start(QA, [env.last_conversation], target, mode="later")


# -- the word diff -----------------------------------------------------------------------------


def test_the_offline_poll_interval_is_a_setting(tmp_path, sandbox):
    from chatbot.config import load_app_settings
    from chatbot.services.runtime import build_runtime

    env = {"CHATBOT_DATA_DIR": str(tmp_path / "data"), "ANTHROPIC_API_KEY": "sk-test",
           "ANTHROPIC_BASE_URL": sandbox.base_url, "CHATBOT_BATCH_POLL_SECONDS": "5"}
    assert load_app_settings(env, dotenv_path=None).batch_poll_seconds == 5
    runtime = build_runtime(env, dotenv_path=None)
    try:
        assert runtime.replays.offline.poll_interval == 5
    finally:
        runtime.close()
