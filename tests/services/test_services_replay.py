"""Replay runs against a real SQLite file and the loopback sandbox: which history each
replayed turn sees, stored results and api_calls, per-turn errors, cancel and resume,
estimates, budgets, checks and pass rates. The key paths run on PostgreSQL too
(`also_postgresql`)."""

from __future__ import annotations

import threading

import pytest
from actors import ADMIN, QA
from replay_harness import STORY, VARS, WAIT, finish, history, sent

from chatbot import store
from chatbot.errors import InputError, NotFoundError, StatedError
from chatbot.services.call_log import opaque_user
from chatbot.services.checks import RubricVerdict
from chatbot.services.judge import JudgeService
from chatbot.services.replay import ReplayService, ReplayTarget
from chatbot.services.replay_views import baseline
from chatbot.services.word_diff import side
from chatbot.store import replays as rows


# -- which history each replayed turn sees --------------------------------------------------

@pytest.mark.also_postgresql
def test_each_turn_is_replayed_on_the_original_history_with_the_target(env, sandbox):
    ids = env.conversation(STORY)
    draft = env.draft("Globex")
    service = env.service(concurrency=3)
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", draft, "claude-haiku-5-5"))
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
    progress = service.progress(QA, run_id)
    assert (progress.status, progress.done, progress.total, progress.active) == ("done", 3, 3, False)


def test_without_a_persona_target_each_conversation_keeps_its_own_version(env, sandbox):
    env.conversation(STORY[:2], version=1)
    newer = env.draft("Initech")
    env.personas.publish(ADMIN, "support", newer)
    service = env.service()
    run_id = service.start(QA, [env.last_conversation], ReplayTarget())
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
    run_id = service.start(QA, [first, env.last_conversation], ReplayTarget("support", 1))
    finish(service, run_id)
    calls = env.calls()
    assert len(calls) == 5 and {(c.owner, c.outcome) for c in calls} == {("qa", "ok")}
    assert {c.conversation_id for c in calls} == {first, env.last_conversation}
    assert all(c.cost_usd and c.cost_usd > 0 and c.input_tokens > 0 for c in calls)
    progress = service.progress(QA, run_id)
    assert progress.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))
    assert sum(r.cost_usd for r in env.results(run_id)) == pytest.approx(progress.cost_usd)


# -- errors, cancel, resume -------------------------------------------------------------------


@pytest.mark.also_postgresql
def test_a_failed_turn_does_not_sink_the_run_and_resume_retries_it(env, sandbox):
    ids = env.conversation(STORY)
    sandbox.state.add_faults([{"kind": "status", "status": 400, "message": "bad luck"}])
    service = env.service()  # one at a time: the first request gets the fault
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    finish(service, run_id)
    results = env.results(run_id)
    assert [r.status for r in results] == ["error", "complete", "complete"]
    assert results[0].text == "" and results[0].error
    assert [c.outcome for c in sorted(env.calls(), key=lambda c: c.id)] == ["error", "ok", "ok"]
    assert service.progress(QA, run_id).status == "done"

    sandbox.state.clear_requests()
    service.resume(QA, run_id)
    finish(service, run_id)
    assert [history(b) for b in sent(sandbox)] == [[("user", "Hi, where is order 1042?")]]
    results = env.results(run_id)
    assert [(r.source_message_id, r.status) for r in results] == [
        (ids[1], "complete"), (ids[3], "complete"), (ids[7], "complete")
    ]
    assert service.progress(QA, run_id).done == 3


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
            self.service.cancel(QA, self.id)


@pytest.mark.also_postgresql
def test_cancel_keeps_what_finished_and_resume_sends_only_the_rest(env, sandbox):
    ids = env.conversation(STORY)
    stopper = CancelAfterFirst()
    service = stopper.service = env.service(budgets=stopper)
    run_id = stopper.id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    stopper.run_id.set()
    finish(service, run_id)
    assert service.progress(QA, run_id).status == "cancelled"
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1]]
    assert len(sent(sandbox)) == 1

    sandbox.state.clear_requests()
    service.resume(QA, run_id)
    finish(service, run_id)
    assert [len(b["messages"]) for b in sent(sandbox)] == [3, 5]  # turns 2 and 3 only
    assert [r.source_message_id for r in env.results(run_id)] == [ids[1], ids[3], ids[7]]
    assert service.progress(QA, run_id).status == "done"


@pytest.mark.also_postgresql
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
    progress = service.progress(QA, run.id)
    assert progress.interrupted and progress.done == 1
    service.resume(QA, run.id)
    finish(service, run.id)
    assert sorted(len(b["messages"]) for b in sent(sandbox)) == [1, 5]
    results = env.results(run.id)
    assert [r.source_message_id for r in results] == [ids[1], ids[3], ids[7]]
    assert results[1].text == "kept"
    progress = service.progress(QA, run.id)
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
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    try:
        with pytest.raises(InputError, match="still going"):
            service.resume(QA, run_id)
        assert service.is_active(QA, run_id) and not service.progress(QA, run_id).interrupted
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
    preview = service.preview(QA, [env.last_conversation], ReplayTarget("support", 1))
    assert preview == estimate
    unpriced = service.preview(QA, [env.last_conversation], ReplayTarget("support", 1, "claude-next-9"))
    assert unpriced.turns == 3 and unpriced.cost_usd is None
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    finish(service, run_id)
    assert service.progress(QA, run_id).estimated_cost_usd == pytest.approx(estimate.cost_usd)


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
        service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    assert budget.checks == [("replay", "qa")]
    assert service.runs(QA) == [] and sent(sandbox) == []


def test_a_budget_used_up_mid_run_stops_it_between_slices(env, sandbox):
    env.conversation(STORY)
    budget = Budget(allowed=2)  # start, then the first slice
    service = env.service(budgets=budget, slice_size=1)
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    finish(service, run_id)
    progress = service.progress(QA, run_id)
    assert (progress.status, progress.done, progress.error) == ("failed", 1, "The daily budget is used up.")
    assert len(sent(sandbox)) == 1 and budget.after == ["qa"]


# -- checks, results and pass rates ----------------------------------------------------------


def test_results_put_each_replayed_reply_beside_the_original(env):
    ids = env.conversation(STORY)
    service = env.service()
    mentions = env.checks.create(QA, name="Names Globex", kind="contains", config={"text": "globex"})
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", env.draft("Globex")),
                           [mentions.id])
    finish(service, run_id)
    shown = service.results(QA, run_id)
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
    globex = env.checks.create(QA, name="Names Globex", kind="contains", config={"text": "Globex"})
    short = env.checks.create(QA, name="Short", kind="max_length", config={"max": 5000})
    graded = env.checks.create(QA, name="Judge", kind="rubric", config={"rubric": "Names Globex."})
    check_ids = [globex.id, short.id, graded.id]
    draft = env.draft("Globex")
    for version in (1, draft):
        run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", version), check_ids)
        finish(service, run_id)

    rates = service.pass_rates(QA, "support")
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
    rubric = env.checks.create(QA, name="Helpful", kind="rubric", config={"rubric": "Offers a next step."})
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support"), [rubric.id])
    finish(service, run_id)
    replays, judged = env.calls("replay"), env.calls("judge")
    assert len(replays) == 2 and len(judged) == 2 and {c.owner for c in judged} == {"qa"}
    assert {c.model for c in judged} == {"claude-haiku-5-5"}
    graders = [b for b in sent(sandbox) if b.get("tool_choice")]
    assert len(graders) == 2 and all("<rubric>\nOffers a next step.\n</rubric>" in b["messages"][0]["content"]
                                     for b in graders)
    assert service.progress(QA, run_id).cost_usd == pytest.approx(sum(c.cost_usd for c in replays + judged))
    assert all(len(t.checks) == 1 for t in service.results(QA, run_id))


def test_a_persona_target_without_a_version_means_its_newest_draft_pinned_at_start(env, sandbox):
    env.conversation(STORY[:2])
    draft = env.draft("Globex")
    service = env.service()
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support"))
    finish(service, run_id)
    assert service.progress(QA, run_id).persona_version == draft
    assert "Globex" in sent(sandbox)[0]["system"]


def test_replay_golden_runs_the_golden_set_against_a_draft(env, sandbox):
    env.conversation(STORY[:2])
    golden = env.last_conversation
    env.conversation(STORY[:4])  # not golden
    with store.write_session(env.engine) as session:
        session.add(store.GoldenCase(conversation_id=golden, added_by="qa"))
    service = env.service()
    draft = env.draft("Globex")
    run_id = service.replay_golden(QA, "support", draft)
    finish(service, run_id)
    progress = service.progress(QA, run_id)
    assert (progress.persona, progress.persona_version, progress.total) == ("support", draft, 1)
    assert progress.label == f"Golden set on support v{draft}"
    assert {r.conversation_id for r in env.results(run_id)} == {golden}


def test_start_refuses_what_cannot_be_replayed(env):
    service = env.service()
    with pytest.raises(NotFoundError):
        service.start(QA, [404], ReplayTarget())
    env.conversation([("user", "Hello?", "complete")])
    with pytest.raises(InputError, match="no replies to replay"):
        service.start(QA, [env.last_conversation], ReplayTarget())
    with pytest.raises(InputError, match="golden set is empty"):
        service.replay_golden(QA, "support", 1)
    assert service.runs(QA) == []


# -- offline runs: one Message Batch at half price ------------------------------------------
