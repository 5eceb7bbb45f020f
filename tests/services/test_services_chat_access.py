"""Who may do what with a conversation from the chat page: the chat turn, the sidebar's
conversations, summaries, ratings and the agent's own export. Another agent's
conversation is "not found" with the very message of a missing id, and nothing is written
or sent; QA (who read conversations on the QA pages) are refused every change."""

from __future__ import annotations

import json

import pytest
from actors import ADMIN, AGENT, AGENT2, QA
from sqlalchemy import text

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.policy import NOT_FOUND
from chatbot.errors import InputError, NotFoundError
from chatbot.services import conversation_import
from chatbot.services.runtime import build_runtime
from chatbot.store import qa as qa_store
from chatbot.store.audit import AuditFilter, list_audit

WAIT = 20  # seconds; an upper bound for a background reply, never slept
MISSING = 999_999
NOBODY = Actor("waiting", Role.NONE, "Signed in, no role yet")
TABLES = ("conversation", "message", "feedback", "annotation", "golden_case", "ticket_summary", "api_call")


@pytest.fixture
def runtime(tmp_path, sandbox):
    runtime = build_runtime(
        {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": sandbox.base_url,
         "CHATBOT_DATA_DIR": str(tmp_path / "data")},
        dotenv_path=None,
    )
    yield runtime
    runtime.close()


@pytest.fixture
def mine(runtime) -> tuple[int, int]:
    """The agent's conversation with one complete turn: (conversation id, reply id)."""
    generation = runtime.chat.send(AGENT, conversation_id=None, text="Where is order 1042?")
    assert generation.wait(WAIT) and generation.error is None
    return generation.conversation_id, generation.message_id


def snapshot(runtime) -> dict[str, list[tuple]]:
    """Every row a chat-page action could write (the audit log aside)."""
    with runtime.engine.connect() as connection:
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in TABLES}


def audit(runtime, action: str) -> list[store.AuditEntry]:
    with store.read_session(runtime.engine) as session:
        return list_audit(session=session, filters=AuditFilter(action=action))


# name -> a call on (runtime, actor, conversation id, reply id); each takes an id.
BY_ID = {
    "chat.send": lambda rt, a, c, r: rt.chat.send(a, conversation_id=c, text="Hello from me"),
    "chat.retry": lambda rt, a, c, r: rt.chat.retry(a, conversation_id=c),
    "chat.active": lambda rt, a, c, r: rt.chat.active(a, c),
    "conversations.transcript": lambda rt, a, c, r: rt.conversations.transcript(a, c),
    "conversations.rename": lambda rt, a, c, r: rt.conversations.rename(a, c, "Mine now"),
    "conversations.delete": lambda rt, a, c, r: rt.conversations.delete(a, c),
    "conversations.update_details": lambda rt, a, c, r: rt.conversations.update_details(
        a, c, {"customer_name": "Eve"}),
    "conversations.export md": lambda rt, a, c, r: rt.conversations.export(a, c, "md"),
    "conversations.export json": lambda rt, a, c, r: rt.conversations.export(a, c, "json"),
    "summaries.summarise": lambda rt, a, c, r: rt.summaries.summarise(a, c),
    "summaries.card": lambda rt, a, c, r: rt.summaries.card(a, c, []),
    "qa.rate": lambda rt, a, c, r: rt.qa.rate(a, r, 1),
    "qa.ratings": lambda rt, a, c, r: rt.qa.ratings(a, c),
}
WRITES = ("chat.send", "chat.retry", "conversations.rename", "conversations.delete",
          "conversations.update_details", "summaries.summarise", "qa.rate")


@pytest.mark.parametrize("name", list(BY_ID))
def test_another_agents_id_is_not_found_as_a_missing_one_and_nothing_is_written(
    runtime, mine, sandbox, name
):
    cid, reply = mine
    call = BY_ID[name]
    before, sent = snapshot(runtime), len(sandbox.state.requests())

    with pytest.raises(NotFoundError) as theirs:
        call(runtime, AGENT2, cid, reply)
    with pytest.raises(NotFoundError) as missing:
        call(runtime, AGENT2, MISSING, MISSING)

    assert theirs.value.user_message == missing.value.user_message == NOT_FOUND
    assert snapshot(runtime) == before and len(sandbox.state.requests()) == sent
    assert not audit(runtime, "conversation.")  # no export, no delete
    (refusal,) = audit(runtime, "access.denied")  # the missing id is no one's: not recorded
    assert (refusal.actor, refusal.target) == ("agent2", f"conversation:{cid}")


def test_a_reply_in_progress_is_not_revealed_to_another_agent(runtime, mine, sandbox):
    cid, _ = mine
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 1.0}])
    generation = runtime.chat.send(AGENT, conversation_id=cid, text="And order 1043?")
    try:
        # "busy" would say that the conversation exists; not found is what a missing id gets
        with pytest.raises(NotFoundError, match=r"no longer exists \(or is not yours\)"):
            runtime.chat.send(AGENT2, conversation_id=cid, text="Hello?")
        with pytest.raises(NotFoundError):
            runtime.chat.active(AGENT2, cid)
        assert runtime.chat.active(AGENT, cid) is generation
    finally:
        assert generation.wait(WAIT)


@pytest.mark.parametrize("actor", [QA, NOBODY], ids=["qa", "no role"])
@pytest.mark.parametrize("name", WRITES)
def test_roles_without_chat_are_refused_every_change_and_nothing_is_written(
    runtime, mine, sandbox, actor, name
):
    cid, reply = mine
    before, sent = snapshot(runtime), len(sandbox.state.requests())
    with pytest.raises(AccessDenied, match=f"Your role \\({actor.role.label}\\) cannot hold conversations"):
        BY_ID[name](runtime, actor, cid, reply)
    assert snapshot(runtime) == before and len(sandbox.state.requests()) == sent
    (refusal,) = audit(runtime, "access.denied")
    assert (refusal.actor, refusal.detail) == (actor.username, "chat")


@pytest.mark.parametrize(
    "call",
    [
        lambda rt: rt.chat.send(QA, conversation_id=None, text="hello"),
        lambda rt: rt.chat.budget_warning(QA),
        lambda rt: rt.conversations.list(QA),
        lambda rt: rt.conversations.default_persona(QA),
        lambda rt: rt.conversations.start(QA, persona="support"),
    ],
    ids=["send new", "budget_warning", "list", "default_persona", "start"],
)
def test_qa_cannot_chat_at_all(runtime, call):
    before = snapshot(runtime)
    with pytest.raises(AccessDenied):
        call(runtime)
    assert snapshot(runtime) == before


def test_qa_may_read_a_conversation_but_not_follow_the_chat_page(runtime, mine):
    cid, _ = mine
    assert [m.role for m in runtime.conversations.transcript(QA, cid).messages] == ["user", "assistant"]
    with pytest.raises(AccessDenied):  # the reply in progress (and its Stop) is the chat page's
        runtime.chat.active(QA, cid)


def test_the_sidebar_lists_only_the_actors_own_conversations_for_admins_too(runtime, mine):
    cid, _ = mine
    runtime.conversations.start(AGENT2, persona="support")
    assert [c.id for c in runtime.conversations.list(AGENT)] == [cid]
    assert [c.owner for c in runtime.conversations.list(AGENT2)] == ["agent2"]
    assert runtime.conversations.list(ADMIN) == []


def test_the_owner_and_an_admin_may_change_it(runtime, mine):
    cid, reply = mine
    assert runtime.conversations.rename(AGENT, cid, "Order 1042").title == "Order 1042"
    assert runtime.conversations.rename(ADMIN, cid, "Order 1042 (checked)").title == "Order 1042 (checked)"
    runtime.qa.rate(AGENT, reply, 1)
    runtime.qa.rate(ADMIN, reply, -1)
    assert {m: f.rating for m, f in runtime.qa.ratings(AGENT, cid).items()} == {reply: 1}
    assert {m: f.rating for m, f in runtime.qa.ratings(ADMIN, cid).items()} == {reply: -1}


def test_delete_is_audited_with_the_change(runtime, mine):
    cid, _ = mine
    title = runtime.conversations.transcript(AGENT, cid).conversation.title
    assert runtime.conversations.delete(AGENT, cid) is True
    (entry,) = audit(runtime, "conversation.delete")
    assert (entry.actor, entry.target, entry.detail) == ("agent", f"conversation:{cid}", f"agent: {title}")
    with pytest.raises(NotFoundError, match="no longer exists"):
        runtime.conversations.delete(AGENT, cid)
    assert len(audit(runtime, "conversation.delete")) == 1


def test_the_agents_export_is_what_the_chat_page_shows_them_and_is_audited(runtime, mine):
    cid, reply = mine
    runtime.qa.rate(AGENT, reply, 1, "spot on")
    runtime.qa.rate(ADMIN, reply, -1, "admin's view")
    with store.write_session(runtime.engine) as session:
        qa_store.add_annotation(session=session, conversation_id=cid, kind=qa_store.NOTE,
                                text="Coach on refund wording", created_by="qa", message_id=None)
        qa_store.add_annotation(session=session, conversation_id=cid, kind=qa_store.TAG,
                                text="coaching", created_by="qa", message_id=reply)
        qa_store.add_golden(session=session, conversation_id=cid, added_by="qa", note="keep")

    markdown = runtime.conversations.export(AGENT, cid, "md")
    document = json.loads(runtime.conversations.export(AGENT, cid, "json"))

    assert "Where is order 1042?" in markdown and "👍 agent: spot on" in markdown
    for hidden in ("Coach on refund wording", "coaching", "Golden", "admin's view", "$"):
        assert hidden not in markdown
    (conversation,) = document["conversations"]
    assert (conversation["id"], conversation["owner"]) == (cid, "agent")
    assert conversation["annotations"] == [] and conversation["golden"] is None
    user, assistant = conversation["messages"]
    assert [(f["owner"], f["rating"]) for f in assistant["feedback"]] == [("agent", 1)]
    assert assistant["cost_usd"] is None and user["content"] == "Where is order 1042?"
    conversation_import.parse_document(json.dumps(document))  # still a valid, importable export

    entries = audit(runtime, "conversation.export")
    assert [(e.actor, e.target, e.detail) for e in entries] == [
        ("agent", f"conversation:{cid}", "json"), ("agent", f"conversation:{cid}", "md")]  # newest first


def test_an_unknown_export_format_is_refused_before_anything_is_read(runtime, mine):
    cid, _ = mine
    with pytest.raises(InputError, match="md, json"):
        runtime.conversations.export(AGENT, cid, "pdf")
    assert not audit(runtime, "conversation.export")
