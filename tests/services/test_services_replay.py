"""Replay runs against a real SQLite file and the loopback sandbox: which history each
replayed turn sees, stored results and api_calls, per-turn errors, cancel and resume,
estimates, budgets, checks and pass rates. Plus the word diff."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from chatbot import pricing, store
from chatbot.errors import InputError, NotFoundError, StatedError
from chatbot.llm import ClientSettings, LLMClient, Secret, Usage
from chatbot.services.call_log import opaque_user
from chatbot.services.checks import RubricVerdict
from chatbot.services.checks_service import ChecksService
from chatbot.services.judge import JudgeService
from chatbot.services.personas import PersonaService
from chatbot.services.replay import ReplayService, ReplayTarget
from chatbot.services.replay_views import baseline
from chatbot.services.word_diff import changed_words, side, word_diff
from chatbot.store import replays as rows

WAIT = 20  # seconds: an upper bound for a run to finish, never slept
VARS = {"company_name": "Acme", "agent_name": "Alex", "customer_name": "Dana", "ticket_id": "T-7"}


class Env:
    def __init__(self, tmp_path, sandbox) -> None:
        self.sandbox = sandbox
        self.engine = store.make_engine(f"sqlite:///{tmp_path / 'replay.db'}")
        store.migrate(self.engine)
        self.client = LLMClient(
            ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1),
        )
        self.personas = PersonaService(self.engine, self.client)
        self.personas.seed_defaults()
        self.checks = ChecksService(self.engine)
        self.services: list[ReplayService] = []

    def service(self, **kw: Any) -> ReplayService:
        kw.setdefault("concurrency", 1)
        service = ReplayService(engine=self.engine, client=self.client, personas=self.personas,
                                checks=self.checks, **kw)
        self.services.append(service)
        return service

    def draft(self, company: str = "Globex", model: str | None = None) -> int:
        """A new, unpublished version of the support persona for another company."""
        spec = self.personas.published("support").spec
        spec = dataclasses.replace(
            spec, template=spec.template.replace("{{ company_name }}", company),
            model=model or spec.model,
        )
        return self.personas.save("support", spec, by="admin").number

    def conversation(self, messages: list[tuple[str, str, str]], *, version: int = 1) -> list[int]:
        """A stored conversation: (role, content, status) each; returns the message ids."""
        with store.write_session(self.engine) as session:
            conversation = store.create_conversation(
                session=session, persona="support", persona_version=version, persona_vars=VARS, owner="ana"
            )
            added = store.add_messages(
                session=session, conversation_id=conversation.id,
                messages=[
                    dict(role=role, content=content, status=status,
                         **({"output_tokens": 40, "input_tokens": 300, "total_ms": 900.0} if role == "assistant" else {}))
                    for role, content, status in messages
                ],
            )
            self.last_conversation = conversation.id
        return [m.id for m in added]

    def results(self, run_id: int) -> list[store.ReplayResult]:
        with store.read_session(self.engine) as session:
            return rows.list_results(session=session, run_id=run_id)

    def calls(self, purpose: str = "replay") -> list[store.ApiCall]:
        with store.read_session(self.engine) as session:
            return [c for c in store.list_api_calls(session=session) if c.purpose == purpose]

    def close(self) -> None:
        for service in self.services:
            service.close()
        self.client.close()
        self.engine.dispose()


@pytest.fixture
def env(tmp_path, sandbox):
    env = Env(tmp_path, sandbox)
    yield env
    env.close()


def finish(service: ReplayService, run_id: int) -> None:
    assert service.wait(run_id, WAIT), "the replay run did not finish"


def sent(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.state.requests() if r.get("path", "/v1/messages") == "/v1/messages"]


def history(body: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


STORY = [
    ("user", "Hi, where is order 1042?", "complete"),
    ("assistant", "Let me check order 1042 for you.", "complete"),
    ("user", "It was due yesterday.", "complete"),
    ("assistant", "Sorry for the wai", "partial"),  # cut off: the agent saw this much
    ("user", "Hello?", "complete"),
    ("assistant", "", "error"),  # failed with no text: not a turn of its own
    ("user", "Can I get a refund instead?", "complete"),
    ("assistant", "Yes, refunds take 5-10 business days.", "complete"),
]


# -- which history each replayed turn sees --------------------------------------------------


def test_each_turn_is_replayed_on_the_original_history_with_the_target(env, sandbox):
    ids = env.conversation(STORY)
    draft = env.draft("Globex")
    service = env.service(concurrency=3)
    run_id = service.start([env.last_conversation], ReplayTarget("support", draft, "claude-haiku-5-5"), by="qa")
    finish(service, run_id)

    system = env.personas.version("support", draft).spec.system_prompt(VARS)
    assert "assistant for Globex" in system and "Dana" in system
    expected = {
        ((("user", "Hi, where is order 1042?"),)),
        (
            ("user", "Hi, where is order 1042?"),
            ("assistant", "Let me check order 1042 for you."),
            ("user", "It was due yesterday."),
        ),
        (
            ("user", "Hi, where is order 1042?"),
            ("assistant", "Let me check order 1042 for you."),
            ("user", "It was due yesterday."),
            ("assistant", "Sorry for the wai"),
            ("user", "Hello?\n\nCan I get a refund instead?"),
        ),
    }
    bodies = sent(sandbox)
    assert {tuple(history(b)) for b in bodies} == expected and len(bodies) == 3
    for body in bodies:
        assert body["system"] == system
        assert body["model"] == "claude-haiku-5-5"
        assert body["metadata"]["user_id"] == opaque_user("qa")
        assert "stream" not in body

    results = env.results(run_id)
    assert [r.source_message_id for r in results] == [ids[1], ids[3], ids[7]]
    assert [r.position for r in results] == [1, 3, 7]
    assert all(r.status == "complete" and "Globex" in r.text for r in results)
    assert {(r.persona_version, r.model) for r in results} == {(draft, "claude-haiku-5-5")}
    progress = service.progress(run_id)
    assert (progress.status, progress.done, progress.total, progress.active) == ("done", 3, 3, False)


def test_without_a_persona_target_each_conversation_keeps_its_own_version(env, sandbox):
    env.conversation(STORY[:2], version=1)
    newer = env.draft("Initech")
    env.personas.publish("support", newer, by="admin")
    service = env.service()
    run_id = service.start([env.last_conversation], ReplayTarget(), by="qa")
    finish(service, run_id)
    (body,) = sent(sandbox)
    v1 = env.personas.version("support", 1).spec
    assert body["system"] == v1.system_prompt(VARS) and body["model"] == v1.model
    assert env.results(run_id)[0].persona_version == 1


def test_a_run_is_recorded_as_replay_calls_and_counts_its_cost(env):
    env.conversation(STORY)
    first = env.last_conversation
    env.conversation(STORY[:4])
    service = env.service(concurrency=4)
    run_id = service.start([first, env.last_conversation], ReplayTarget("support", 1), by="qa")
    finish(service, run_id)
    calls = env.calls()
    assert len(calls) == 5 and {(c.owner, c.outcome) for c in calls} == {("qa", "ok")}
    assert {c.conversation_id for c in calls} == {first, env.last_conversation}
    assert all(c.cost_usd and c.cost_usd > 0 and c.input_tokens > 0 for c in calls)
    progress = service.progress(run_id)
    assert progress.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))
    assert sum(r.cost_usd for r in env.results(run_id)) == pytest.approx(progress.cost_usd)


# -- errors, cancel, resume -------------------------------------------------------------------


def test_a_failed_turn_does_not_sink_the_run_and_resume_retries_it(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.add_faults([{"kind": "status", "status": 400, "message": "bad luck"}])
    service = env.service()  # one at a time: the first request gets the fault
    run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    finish(service, run_id)
    results = env.results(run_id)
    assert [r.status for r in results] == ["error", "complete", "complete"]
    assert results[0].text == "" and results[0].error
    assert [c.outcome for c in sorted(env.calls(), key=lambda c: c.id)] == ["error", "ok", "ok"]
    assert service.progress(run_id).status == "done"

    sandbox.state.clear_requests()
    service.resume(run_id)
    finish(service, run_id)
    assert [history(b) for b in sent(sandbox)] == [[("user", "Hi, where is order 1042?")]]
    results = env.results(run_id)
    assert [(r.source_message_id, r.status) for r in results] == [
        (ids[1], "complete"), (ids[3], "complete"), (ids[7], "complete")
    ]
    assert service.progress(run_id).done == 3


class CancelAfterFirst:
    """Budgets stub: lets every check through, and cancels the run once one turn is saved."""

    def __init__(self) -> None:
        self.service: ReplayService | None = None
        self.run_id = threading.Event()
        self.id = 0
        self.cancelled = False

    def check(self, purpose: str, owner: str) -> None:
        return None

    def after_call(self, owner: str) -> None:
        assert self.run_id.wait(WAIT)
        if not self.cancelled:
            self.cancelled = True
            self.service.cancel(self.id)


def test_cancel_keeps_what_finished_and_resume_sends_only_the_rest(env, sandbox):
    ids = env.conversation(STORY)
    stopper = CancelAfterFirst()
    service = stopper.service = env.service(budgets=stopper)
    run_id = stopper.id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    stopper.run_id.set()
    finish(service, run_id)
    assert service.progress(run_id).status == "cancelled"
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1]]
    assert len(sent(sandbox)) == 1

    sandbox.state.clear_requests()
    service.resume(run_id)
    finish(service, run_id)
    assert [len(b["messages"]) for b in sent(sandbox)] == [3, 5]  # turns 2 and 3 only
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert service.progress(run_id).status == "done"


def test_a_run_left_by_a_dead_process_shows_as_interrupted_and_resumes(env, sandbox):
    ids = env.conversation(STORY)
    with store.write_session(env.engine) as session:
        run = rows.create_run(session=session, status="running", persona="support", persona_version=1,
                              conversation_ids=[env.last_conversation], check_ids=[], turns_total=3,
                              created_by="qa")
        rows.add_result(session=session, run_id=run.id, conversation_id=env.last_conversation,
                        source_message_id=ids[3], position=3, status="complete", text="kept", cost_usd=0.001,
                        run_cost_usd=0.001)
    service = env.service()  # a new process
    progress = service.progress(run.id)
    assert progress.interrupted and progress.done == 1
    service.resume(run.id)
    finish(service, run.id)
    assert sorted(len(b["messages"]) for b in sent(sandbox)) == [1, 5]
    results = env.results(run.id)
    assert [r.source_message_id for r in results] == [ids[1], ids[3], ids[7]]
    assert results[1].text == "kept"
    progress = service.progress(run.id)
    assert (progress.status, progress.done, progress.interrupted) == ("done", 3, False)


def test_resume_refuses_a_run_still_going(env):
    env.conversation(STORY[:2])
    gate = threading.Event()

    class Held:
        def check(self, purpose, owner):
            return None

        def after_call(self, owner):
            assert gate.wait(WAIT)

    service = env.service(budgets=Held())
    run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    try:
        with pytest.raises(InputError, match="still going"):
            service.resume(run_id)
        assert service.is_active(run_id) and not service.progress(run_id).interrupted
    finally:
        gate.set()
    finish(service, run_id)


# -- estimate and budgets ---------------------------------------------------------------------


def test_the_estimate_is_shown_before_start_and_kept_on_the_run(env):
    env.conversation(STORY)
    service = env.service()
    turns = service.plan([env.last_conversation], ReplayTarget("support", 1), owner="qa")
    estimate = service.estimate(turns)
    assert estimate.turns == 3 and estimate.output_tokens == 3 * 40  # the originals' lengths
    assert estimate.input_tokens == sum(t.request.input_tokens_estimate for t in turns)
    assert estimate.cost_usd > 0
    preview = service.preview([env.last_conversation], ReplayTarget("support", 1), owner="qa")
    assert preview == estimate
    unpriced = service.preview([env.last_conversation], ReplayTarget("support", 1, "claude-next-9"), owner="qa")
    assert unpriced.turns == 3 and unpriced.cost_usd is None
    run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    finish(service, run_id)
    assert service.progress(run_id).estimated_cost_usd == pytest.approx(estimate.cost_usd)


class Budget:
    """Budgets stub: refuses replay calls once `allowed` checks have passed."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.checks: list[tuple[str, str]] = []
        self.after: list[str] = []

    def check(self, purpose: str, owner: str) -> None:
        self.checks.append((purpose, owner))
        if len(self.checks) > self.allowed:
            raise StatedError("The daily budget is used up.")

    def after_call(self, owner: str) -> None:
        self.after.append(owner)


def test_over_budget_nothing_is_started_or_sent(env, sandbox):
    env.conversation(STORY)
    budget = Budget(allowed=0)
    service = env.service(budgets=budget)
    with pytest.raises(StatedError, match="budget is used up"):
        service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    assert budget.checks == [("replay", "qa")]
    assert service.runs() == [] and sent(sandbox) == []


def test_a_budget_used_up_mid_run_stops_it_between_slices(env, sandbox):
    env.conversation(STORY)
    budget = Budget(allowed=2)  # start, then the first slice
    service = env.service(budgets=budget, slice_size=1)
    run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa")
    finish(service, run_id)
    progress = service.progress(run_id)
    assert (progress.status, progress.done, progress.error) == ("failed", 1, "The daily budget is used up.")
    assert len(sent(sandbox)) == 1 and budget.after == ["qa"]


# -- checks, results and pass rates ----------------------------------------------------------


def test_results_put_each_replayed_reply_beside_the_original(env):
    ids = env.conversation(STORY)
    service = env.service()
    mentions = env.checks.create(name="Names Globex", kind="contains", config={"text": "globex"}, by="qa")
    run_id = service.start([env.last_conversation], ReplayTarget("support", env.draft("Globex")),
                           [mentions.id], by="qa")
    finish(service, run_id)
    shown = service.results(run_id)
    assert [t.source_message_id for t in shown] == [ids[1], ids[3], ids[7]]
    last = shown[-1]
    assert last.question == "Hello?\n\nCan I get a refund instead?"
    assert last.original_text == "Yes, refunds take 5-10 business days."
    assert side(last.diff, "original") == last.original_text and side(last.diff, "new") == last.replay_text
    assert last.length_delta == len(last.replay_text) - len(last.original_text)
    result = env.results(run_id)[-1]
    assert last.output_tokens_delta == result.output_tokens - 40
    assert last.total_ms_delta == pytest.approx(result.total_ms - 900.0)
    assert [(c.name, c.passed) for c in last.checks] == [("Names Globex", True)] and last.passed is True


def test_pass_rates_per_version_compare_a_draft_with_the_one_before(env):
    env.conversation(STORY)
    service = env.service(judge=lambda rubric, reply, question: RubricVerdict(
        passed="Globex" in reply, score=5 if "Globex" in reply else 2, reason="Names the company."))
    globex = env.checks.create(name="Names Globex", kind="contains", config={"text": "Globex"}, by="qa")
    short = env.checks.create(name="Short", kind="max_length", config={"max": 5000}, by="qa")
    graded = env.checks.create(name="Judge", kind="rubric", config={"rubric": "Names Globex."}, by="qa")
    check_ids = [globex.id, short.id, graded.id]
    draft = env.draft("Globex")
    for version in (1, draft):
        run_id = service.start([env.last_conversation], ReplayTarget("support", version), check_ids, by="qa")
        finish(service, run_id)

    rates = service.pass_rates("support")
    assert [(r.version, r.turns, r.runs) for r in rates] == [(draft, 3, 1), (1, 3, 1)]
    new, old = rates
    assert (new.rate, old.rate) == (1.0, 0.0)
    assert (new.check(globex.id).rate, old.check(globex.id).rate) == (1.0, 0.0)
    assert old.check(short.id).rate == 1.0 and old.check(graded.id).passed == 0
    assert baseline(rates, new) is old and baseline(rates, old) is None


def test_rubric_checks_call_the_judge_model_and_count_its_cost(env, sandbox):
    env.conversation(STORY[:4])
    judge = JudgeService(engine=env.engine, client=env.client, model="claude-haiku-5-5")
    service = env.service(judge=judge)
    rubric = env.checks.create(name="Helpful", kind="rubric", config={"rubric": "Offers a next step."}, by="qa")
    run_id = service.start([env.last_conversation], ReplayTarget("support"), [rubric.id], by="qa")
    finish(service, run_id)
    replays, judged = env.calls("replay"), env.calls("judge")
    assert len(replays) == 2 and len(judged) == 2 and {c.owner for c in judged} == {"qa"}
    assert {c.model for c in judged} == {"claude-haiku-5-5"}
    graders = [b for b in sent(sandbox) if b.get("tool_choice")]
    assert len(graders) == 2 and all("<rubric>\nOffers a next step.\n</rubric>" in b["messages"][0]["content"]
                                     for b in graders)
    assert service.progress(run_id).cost_usd == pytest.approx(sum(c.cost_usd for c in replays + judged))
    assert all(len(t.checks) == 1 for t in service.results(run_id))


def test_a_persona_target_without_a_version_means_its_newest_draft_pinned_at_start(env, sandbox):
    env.conversation(STORY[:2])
    draft = env.draft("Globex")
    service = env.service()
    run_id = service.start([env.last_conversation], ReplayTarget("support"), by="qa")
    finish(service, run_id)
    assert service.progress(run_id).persona_version == draft
    assert "Globex" in sent(sandbox)[0]["system"]


def test_replay_golden_runs_the_golden_set_against_a_draft(env, sandbox):
    env.conversation(STORY[:2])
    golden = env.last_conversation
    env.conversation(STORY[:4])  # not golden
    with store.write_session(env.engine) as session:
        session.add(store.GoldenCase(conversation_id=golden, added_by="qa"))
    service = env.service()
    draft = env.draft("Globex")
    run_id = service.replay_golden("support", draft, by="qa")
    finish(service, run_id)
    progress = service.progress(run_id)
    assert (progress.persona, progress.persona_version, progress.total) == ("support", draft, 1)
    assert progress.label == f"Golden set on support v{draft}"
    assert {r.conversation_id for r in env.results(run_id)} == {golden}


def test_start_refuses_what_cannot_be_replayed(env):
    service = env.service()
    with pytest.raises(NotFoundError):
        service.start([404], ReplayTarget(), by="qa")
    env.conversation([("user", "Hello?", "complete")])
    with pytest.raises(InputError, match="no replies to replay"):
        service.start([env.last_conversation], ReplayTarget(), by="qa")
    with pytest.raises(InputError, match="golden set is empty"):
        service.replay_golden("support", 1, by="qa")
    assert service.runs() == []


# -- offline runs: one Message Batch at half price ------------------------------------------


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
    live = service.preview([env.last_conversation], target, owner="qa")
    offline = service.preview([env.last_conversation], target, owner="qa", mode="offline")
    assert offline.cost_usd == pytest.approx(live.cost_usd / 2) and offline.turns == live.turns == 3

    run_id = service.start([env.last_conversation], target, by="qa", mode="offline")
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

    progress = service.progress(run_id)
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
        progress = holder["service"].progress(holder["run_id"])
        seen.append((seconds, progress.status, progress.done, progress.batch.status, progress.batch.counts.done))

    service = holder["service"] = env.service(batch_sleep=sleep, batch_poll_interval=5)
    holder["run_id"] = run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa",
                                              mode="offline")
    started.set()
    finish(service, run_id)
    assert seen == [(5, "running", 1, "in_progress", 1), (5, "running", 2, "in_progress", 2)]
    assert len(batches_sent(sandbox)) == 1 and len(polled(sandbox)) == 3
    assert service.progress(run_id).done == 3 and len(env.results(run_id)) == 3


def test_cancel_cancels_the_batch_keeps_what_it_answered_and_resume_sends_only_the_rest(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3
    started = threading.Event()
    holder: dict[str, Any] = {}

    def sleep(seconds: float) -> None:  # the agent clicks Cancel after the first poll
        assert started.wait(WAIT)
        holder["service"].cancel(holder["run_id"])

    service = holder["service"] = env.service(batch_sleep=sleep)
    holder["run_id"] = run_id = service.start([env.last_conversation], ReplayTarget("support", 1), by="qa",
                                              mode="offline")
    started.set()
    finish(service, run_id)
    batch_id = batch_id_of(env, run_id)
    cancels = [r for r in sandbox.state.requests() if r["path"] == f"{BATCHES}/{batch_id}/cancel"]
    assert len(cancels) == 1
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3]]  # answered before the cancel
    assert len(env.calls()) == 2  # the cancelled item was never processed: nothing billed
    progress = service.progress(run_id)
    assert (progress.status, progress.done) == ("cancelled", 2)

    sandbox.state.clear_requests()
    sandbox.state.batches.polls_to_end = 1
    service.resume(run_id)
    finish(service, run_id)
    (batch,) = batches_sent(sandbox)
    assert [item["custom_id"] for item in batch] == [f"m{ids[7]}"]
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert service.progress(run_id).status == "done" and batch_id_of(env, run_id) != batch_id


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
    holder["run_id"] = run_id = first.start([env.last_conversation], ReplayTarget("support", 1), by="qa",
                                            mode="offline")
    started.set()
    finish(first, run_id)
    batch_id = batch_id_of(env, run_id)
    assert batch_id and stored_before_waiting == [batch_id] and polled(sandbox) == [batch_id]
    progress = first.progress(run_id)
    assert (progress.status, progress.done) == ("failed", 0) and env.results(run_id) == []

    second = env.service(batch_sleep=die)  # a new process; the batch ends on its next poll
    second.resume(run_id)
    finish(second, run_id)
    assert len(batches_sent(sandbox)) == 1  # never submitted again
    assert polled(sandbox) == [batch_id, batch_id]
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert len(env.calls()) == 3 and batch_id_of(env, run_id) == batch_id
    assert second.progress(run_id).status == "done"


def test_an_expired_batch_is_resubmitted_for_the_missing_turns_only(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.batches.polls_to_end = 3
    first = env.service(batch_sleep=die)
    run_id = first.start([env.last_conversation], ReplayTarget("support", 1), by="qa", mode="offline")
    finish(first, run_id)  # died after one poll: the first turn was answered
    expired = batch_id_of(env, run_id)
    sandbox.state.batches.expire(expired)  # 24 hours later the rest had not been processed

    second = env.service(batch_sleep=lambda seconds: None)
    second.resume(run_id)
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
    progress = second.progress(run_id)
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
    progress = service.progress(run.id)
    assert progress.interrupted and progress.done == 0

    service.cancel(run.id)  # no worker here: the run is marked cancelled, its batch cancelled
    assert service.progress(run.id).status == "cancelled"
    assert sandbox.state.batches.get(batch_id).status == "canceling"

    sandbox.state.batches.polls_to_end = 1  # the new batch ends on its first poll
    service.resume(run.id)
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
    cost = env.service().preview([env.last_conversation], target, owner="qa", mode="offline").cost_usd
    budget = Upfront(left=cost * 0.99)
    refusing = env.service(budgets=budget)
    with pytest.raises(StatedError, match="more than is left"):
        refusing.start([env.last_conversation], target, by="qa", mode="offline")
    assert budget.checks == [0.0, pytest.approx(cost)] and refusing.runs() == [] and batches_sent(sandbox) == []

    budget = Upfront(left=cost)
    service = env.service(budgets=budget, batch_sleep=die)
    run_id = service.start([env.last_conversation], target, by="qa", mode="offline")
    finish(service, run_id)
    # at start, then again in the worker right before the batch is submitted
    assert budget.checks == [0.0, pytest.approx(cost), pytest.approx(cost)]
    assert service.progress(run_id).status == "done"
    with pytest.raises(InputError, match="live or offline"):
        service.start([env.last_conversation], target, by="qa", mode="later")


# -- the word diff -----------------------------------------------------------------------------


def test_word_diff_marks_changed_words_and_keeps_whitespace():
    segments = word_diff("Your order ships today.\n\nThanks!", "Your order ships tomorrow.\n\nThanks!")
    assert segments == [
        ("equal", "Your order ships "), ("delete", "today."), ("insert", "tomorrow."), ("equal", "\n\nThanks!"),
    ]
    assert changed_words(segments) == (1, 1)


@pytest.mark.parametrize(
    "a, b",
    [("", ""), ("", "new text"), ("old text", ""), ("same  words\n", "same  words\n"),
     ("1. First\n2. Second", "1. First step\n2. Second\n3. Third")],
)
def test_word_diff_gives_back_both_sides(a, b):
    segments = word_diff(a, b)
    assert side(segments, "original") == a and side(segments, "new") == b
    assert all(text for _, text in segments)
    assert all(x[0] != y[0] for x, y in zip(segments, segments[1:]))  # neighbours merged


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
