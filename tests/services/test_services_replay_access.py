"""Who may replay: every entry point of the replay service refuses an agent before it
reads, writes, spends or sends anything, and records the refusal; QA and admins may, and
the runs they start, resume and cancel are in the audit log under their own name, while
a run's calls stay on the account of whoever started it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from actors import ADMIN, AGENT, QA
from replay_harness import STORY, WAIT, audit, finish

from chatbot import store
from chatbot.auth import AccessDenied, Actor
from chatbot.errors import InputError, NotFoundError
from chatbot.services.replay import ReplayService, ReplayTarget
from chatbot.store import replays as rows


class Budget:
    """Budgets stub: lets everything through and remembers who was checked."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, str]] = []

    def check(self, purpose: str, owner: str, **kw: Any) -> None:
        self.checked.append((purpose, owner))

    def after_call(self, owner: str) -> None:
        return None


def interrupted_run(env, *, created_by: str = "qa") -> int:
    """A run of STORY left "running" by a process that died after its second turn."""
    ids = env.conversation(STORY)
    with store.write_session(env.engine) as session:
        run = rows.create_run(session=session, status="running", persona="support", persona_version=1,
                              conversation_ids=[env.last_conversation], check_ids=[], turns_total=3,
                              created_by=created_by)
        rows.add_result(session=session, run_id=run.id, conversation_id=env.last_conversation,
                        source_message_id=ids[3], position=3, status="complete", text="kept",
                        cost_usd=0.001, run_cost_usd=0.001)
        session.add(store.GoldenCase(conversation_id=env.last_conversation, added_by="qa"))
    return run.id  # type: ignore[return-value]


def run_rows(env) -> list[tuple]:
    with store.read_session(env.engine) as session:
        return [(r.id, r.status, r.turns_done, r.created_by, r.finished_at)
                for r in rows.list_runs(session=session, limit=100)]


Call = Callable[[ReplayService, Actor, int, int], object]
ENTRY_POINTS: dict[str, Call] = {
    "preview": lambda s, a, cid, run: s.preview(a, [cid], ReplayTarget("support", 1)),
    "start": lambda s, a, cid, run: s.start(a, [cid], ReplayTarget("support", 1)),
    "replay_golden": lambda s, a, cid, run: s.replay_golden(a, "support", 1),
    "resume": lambda s, a, cid, run: s.resume(a, run),
    "cancel": lambda s, a, cid, run: s.cancel(a, run),
    "runs": lambda s, a, cid, run: s.runs(a),
    "progress": lambda s, a, cid, run: s.progress(a, run),
    "results": lambda s, a, cid, run: s.results(a, run),
    "pass_rates": lambda s, a, cid, run: s.pass_rates(a),
    "is_active": lambda s, a, cid, run: s.is_active(a, run),
}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_an_agent_is_refused_by_every_entry_point_before_anything_happens(env, sandbox, name):
    run_id = interrupted_run(env)
    budget = Budget()
    service = env.service(budgets=budget)
    before = run_rows(env)

    with pytest.raises(AccessDenied) as refused:
        ENTRY_POINTS[name](service, AGENT, env.last_conversation, run_id)

    assert refused.value.user_message == "Your role (Agent) cannot run replays. Ask an admin if you need to."
    assert run_rows(env) == before and len(env.results(run_id)) == 1  # nothing written or started
    assert not service.is_active(QA, run_id)
    assert budget.checked == [] and sandbox.state.requests() == []  # nothing spent or sent
    assert audit(env.engine) == [("access.denied", "agent", "agent", "", "replays.run")]


@pytest.mark.parametrize("actor", [QA, ADMIN], ids=["qa", "admin"])
def test_qa_and_admins_start_runs_recorded_in_their_name(env, actor):
    env.conversation(STORY)
    service = env.service()
    run_id = service.start(actor, [env.last_conversation], ReplayTarget("support", 1, "claude-haiku-5-5"))
    finish(service, run_id)

    assert service.progress(actor, run_id).created_by == actor.username
    assert {c.owner for c in env.calls()} == {actor.username}
    assert [r.run_id for r in service.runs(actor)] == [run_id]
    assert len(service.results(actor, run_id)) == 3
    assert audit(env.engine) == [(
        "replay.start", actor.username, actor.role.value, f"replay:{run_id}",
        "support v1 on claude-haiku-5-5, 3 turns, live",
    )]


def test_the_golden_set_replay_is_audited_as_a_start(env):
    interrupted_run(env)  # also puts its conversation in the golden set
    service = env.service()
    run_id = service.replay_golden(ADMIN, "support", 1)
    finish(service, run_id)
    (entry,) = [e for e in audit(env.engine) if e[0] == "replay.start"]
    assert entry == ("replay.start", "admin", "admin", f"replay:{run_id}", "support v1, 3 turns, live")


def test_someone_else_resuming_a_run_is_audited_but_the_run_stays_on_its_creators_account(env, sandbox):
    run_id = interrupted_run(env, created_by="qa")
    budget = Budget()
    service = env.service(budgets=budget)

    service.resume(ADMIN, run_id)
    finish(service, run_id)

    assert service.progress(ADMIN, run_id).status == "done"
    assert len(sandbox.state.requests()) == 2  # the two turns it did not have
    assert {c.owner for c in env.calls()} == {"qa"}
    assert budget.checked and {owner for _, owner in budget.checked} == {"qa"}
    assert audit(env.engine) == [
        ("replay.resume", "admin", "admin", f"replay:{run_id}", "running, 1 of 3 turns done"),
    ]


def test_cancelling_an_interrupted_run_is_audited_with_the_change_and_an_ended_one_is_not(env):
    run_id = interrupted_run(env)
    service = env.service()

    service.cancel(QA, run_id)
    assert service.progress(QA, run_id).status == "cancelled"
    service.cancel(QA, run_id)  # it has ended: nothing to stop, nothing recorded

    assert audit(env.engine) == [
        ("replay.cancel", "qa", "qa", f"replay:{run_id}", "running -> cancelled, 1 of 3 turns done"),
    ]


def test_cancelling_a_run_in_progress_is_audited_and_stops_it(env):
    env.conversation(STORY)
    gate, saved = threading.Event(), threading.Event()

    class Held(Budget):
        def after_call(self, owner: str) -> None:
            saved.set()
            assert gate.wait(WAIT)

    service = env.service(budgets=Held(), slice_size=1)
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    try:
        assert saved.wait(WAIT)  # one turn is saved; the worker waits at the gate
        service.cancel(ADMIN, run_id)
    finally:
        gate.set()
    finish(service, run_id)

    progress = service.progress(QA, run_id)
    assert (progress.status, progress.done) == ("cancelled", 1)
    assert [e[:4] for e in audit(env.engine)] == [
        ("replay.start", "qa", "qa", f"replay:{run_id}"),
        ("replay.cancel", "admin", "admin", f"replay:{run_id}"),
    ]
    assert audit(env.engine)[1][4].startswith("running -> cancelled")


@pytest.mark.parametrize("name", ["resume", "cancel", "progress", "results"])
def test_a_missing_run_is_not_found_and_nothing_is_recorded(env, name):
    service = env.service()
    with pytest.raises(NotFoundError, match="That replay run no longer exists."):
        ENTRY_POINTS[name](service, QA, 0, 404)
    assert audit(env.engine) == []


def test_a_resume_refused_because_the_run_is_going_records_nothing(env):
    env.conversation(STORY[:2])
    gate = threading.Event()

    class Held(Budget):
        def after_call(self, owner: str) -> None:
            assert gate.wait(WAIT)

    service = env.service(budgets=Held())
    run_id = service.start(QA, [env.last_conversation], ReplayTarget("support", 1))
    try:
        with pytest.raises(InputError, match="still going"):
            service.resume(ADMIN, run_id)
    finally:
        gate.set()
    finish(service, run_id)
    assert [e[0] for e in audit(env.engine)] == ["replay.start"]
