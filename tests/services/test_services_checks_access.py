"""Who may manage checks: every entry point of the checks service refuses an agent before
it reads, writes, spends or sends anything, and records the refusal; QA and admins may,
and what they create, change and archive is in the audit log under their own name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from actors import ADMIN, AGENT, QA
from replay_harness import audit

from chatbot import store
from chatbot.auth import AccessDenied, Actor
from chatbot.services.checks_service import CheckDef, ChecksService
from chatbot.services.judge import JudgeService
from chatbot.store import checks as rows
from chatbot.store.checks import DuplicateCheckName


class Budget:
    """Budgets stub: lets everything through and remembers who was checked."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, str]] = []

    def check(self, purpose: str, owner: str, **kw: Any) -> None:
        self.checked.append((purpose, owner))



@pytest.fixture
def budget() -> Budget:
    return Budget()


@pytest.fixture
def checks(engine, client, budget) -> ChecksService:
    judge = JudgeService(engine=engine, client=client, model="claude-haiku-5-5")
    return ChecksService(engine, judge=judge, budgets=budget)  # type: ignore[arg-type]


def stored(engine) -> list[tuple]:
    with store.read_session(engine) as session:
        return [(c.id, c.name, c.kind, c.config, c.description, c.archived, c.created_by)
                for c in rows.list_checks(session=session, include_archived=True)]


Call = Callable[[ChecksService, Actor, CheckDef], object]
ENTRY_POINTS: dict[str, Call] = {
    "list": lambda s, a, c: s.list(a, include_archived=True),
    "get": lambda s, a, c: s.get(a, c.id),
    "create": lambda s, a, c: s.create(a, name="Mine now", kind="contains", config={"text": "x"}),
    "update": lambda s, a, c: s.update(a, c.id, name="Renamed", config={"rubric": "Anything goes."}),
    "archive": lambda s, a, c: s.archive(a, c.id),
    "try_check": lambda s, a, c: s.try_check(a, c, "Which order number is it?", question="Where is it?"),
}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_an_agent_is_refused_by_every_entry_point_before_anything_happens(engine, sandbox, checks, budget, name):
    rubric = checks.create(QA, name="Asks", kind="rubric", config={"rubric": "Asks for the order number."})
    before, logged = stored(engine), audit(engine)

    with pytest.raises(AccessDenied) as refused:
        ENTRY_POINTS[name](checks, AGENT, rubric)

    assert refused.value.user_message == "Your role (Agent) cannot manage checks. Ask an admin if you need to."
    assert stored(engine) == before  # nothing written
    assert budget.checked == [] and sandbox.state.requests() == []  # nothing spent or sent
    assert audit(engine) == [*logged, ("access.denied", "agent", "agent", "", "checks.manage")]


@pytest.mark.parametrize("actor", [QA, ADMIN], ids=["qa", "admin"])
def test_qa_and_admins_manage_checks_and_each_change_is_audited_with_its_author(engine, checks, actor):
    who = (actor.username, actor.role.value)
    made = checks.create(actor, name="Asks", kind="contains", config={"text": "order"})
    assert made.created_by == actor.username and [c.id for c in checks.list(actor)] == [made.id]
    checks.update(actor, made.id, name="Asks for the order", config={"text": "order number"})
    checks.update(actor, made.id, name="Asks for the order", description="")  # no change: no entry
    checks.update(actor, made.id, description="Why it matters")
    checks.archive(actor, made.id)
    checks.archive(actor, made.id)  # archived already: no entry
    assert checks.get(actor, made.id).archived
    checks.archive(actor, made.id, False)

    target = f"check:{made.id}"
    assert audit(engine) == [
        ("check.create", *who, target, "'Asks' (contains)"),
        ("check.update", *who, target, "name 'Asks' -> 'Asks for the order'; settings changed"),
        ("check.update", *who, target, "description changed"),
        ("check.archive", *who, target, "'Asks for the order': active -> archived"),
        ("check.archive", *who, target, "'Asks for the order': archived -> active"),
    ]


def test_a_refused_change_records_no_change(engine, checks):
    checks.create(QA, name="Taken", kind="contains", config={"text": "x"})
    other = checks.create(QA, name="Other", kind="contains", config={"text": "y"})
    with pytest.raises(DuplicateCheckName):
        checks.update(ADMIN, other.id, name="taken")
    with pytest.raises(DuplicateCheckName):
        checks.create(ADMIN, name="TAKEN", kind="contains", config={"text": "z"})
    assert [e[0] for e in audit(engine)] == ["check.create", "check.create"]


def test_try_it_grades_on_the_account_of_whoever_tries_it(engine, sandbox, checks, budget):
    rubric = checks.create(QA, name="Asks", kind="rubric", config={"rubric": "Asks for the order number."})
    outcome = checks.try_check(ADMIN, rubric, "Which order number is it?", question="Where is it?")
    assert outcome.passed is not None
    assert budget.checked == [("judge", "admin")] and len(sandbox.state.requests()) == 1
    with store.read_session(engine) as session:
        (call,) = store.list_api_calls(session=session)
    assert (call.purpose, call.owner) == ("judge", "admin")
