"""Another person's objects, asked for by id: every id-taking entry point an agent may
use is "not found" with another agent's id, word for word as with a missing one."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from access_table import ENTRY, SERVICES
from access_world import ACTORS, A, World, snapshot
from chatbot.auth import Actor
from chatbot.errors import NotFoundError
from chatbot.services.runtime import Runtime

OTHER_AGENT = Actor("t-agent2", A, address="10.1.1.2")
MISSING = 999_999

# id-taking entry points an agent may use, called with (conversation id, reply id).
BY_ID: dict[str, Callable[[Runtime, Actor, int, int], object]] = {
    "ChatService.send": lambda rt, a, c, r: rt.chat.send(a, conversation_id=c, text="Mine now?"),
    "ChatService.retry": lambda rt, a, c, r: rt.chat.retry(a, conversation_id=c),
    "ChatService.active": lambda rt, a, c, r: rt.chat.active(a, c),
    "Conversations.transcript": lambda rt, a, c, r: rt.conversations.transcript(a, c),
    "Conversations.export": lambda rt, a, c, r: rt.conversations.export(a, c, "json"),
    "Conversations.rename": lambda rt, a, c, r: rt.conversations.rename(a, c, "Taken over"),
    "Conversations.update_details": lambda rt, a, c, r: rt.conversations.update_details(a, c, {"customer_name": "X"}),
    "Conversations.delete": lambda rt, a, c, r: rt.conversations.delete(a, c),
    "SummaryService.summarise": lambda rt, a, c, r: rt.summaries.summarise(a, c),
    "SummaryService.latest": lambda rt, a, c, r: rt.summaries.latest(a, c),
    "SummaryService.card": lambda rt, a, c, r: rt.summaries.card(a, c, []),
    "QAService.rate": lambda rt, a, c, r: rt.qa.rate(a, r, -1, "mine"),
    "QAService.ratings": lambda rt, a, c, r: rt.qa.ratings(a, c),
    "Exports.json": lambda rt, a, c, r: rt.exports.json(a, [c]),
    "Exports.markdown": lambda rt, a, c, r: rt.exports.markdown(a, [c]),
    "Exports.csv": lambda rt, a, c, r: rt.exports.csv(a, [c]),
}
# id-taking entry points for QA and admins only: their objects (runs, checks, notes,
# budgets, audit pages) are the team's, and an agent is refused the whole feature before
# any id is looked at.
TEAM_OBJECTS = {
    "QAService.transcript", "QAService.is_golden", "QAService.note", "QAService.tag", "QAService.untag",
    "QAService.remove_annotation", "QAService.set_golden", "ReplayService.preview", "ReplayService.start",
    "ReplayService.resume", "ReplayService.cancel", "ReplayService.is_active", "ReplayService.progress",
    "ReplayService.results", "ChecksService.get", "ChecksService.update", "ChecksService.archive",
    "ReplayService.replay_golden", "BudgetService.remove_budget", "AuditLog.page",
}


def takes_an_id(name: str, world: World) -> bool:
    cls, method = name.split(".")
    parameters = inspect.signature(getattr(SERVICES[cls](world.rt), method)).parameters
    return any(p.endswith(("_id", "_ids")) for p in parameters)


def test_every_id_taking_entry_point_is_tried_with_another_persons_id(world):
    with_ids = {name for name in ENTRY if takes_an_id(name, world)}
    assert with_ids == set(BY_ID) | TEAM_OBJECTS
    for name in TEAM_OBJECTS:
        assert A not in ENTRY[name][0], f"{name}: agents would need the per-person check of BY_ID"


@pytest.mark.parametrize("name", sorted(BY_ID))
def test_another_agents_object_is_not_found_exactly_as_a_missing_one(world, sandbox_server, name):
    call = BY_ID[name]
    cid, reply = world.conversation(ACTORS[A])  # the first agent's
    with pytest.raises(NotFoundError) as missing:
        call(world.rt, OTHER_AGENT, MISSING, MISSING)
    before, requests = snapshot(world.rt), len(sandbox_server.state.requests())
    with pytest.raises(NotFoundError) as foreign:
        call(world.rt, OTHER_AGENT, cid, reply)
    assert foreign.value.user_message == missing.value.user_message  # no hint that it exists
    assert snapshot(world.rt) == before and len(sandbox_server.state.requests()) == requests
    # ...and the owner can do it (the refusal is about whose it is, not a broken call).
    result = call(world.rt, ACTORS[A], cid, reply)
    if hasattr(result, "wait"):
        assert result.wait(30)
