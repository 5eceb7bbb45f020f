"""The QA workspace service on a real SQLite file: finding, the transcript view, ratings,
notes, tags and the golden set, with the errors a person reads. The key paths run on
PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import pytest

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import SHIPPED
from chatbot.services.personas import PersonaService
from chatbot.services.qa import QAService
from chatbot.store.search import SearchFilters

ANA = Actor("ana", Role.AGENT)  # owns the conversations below
BO = Actor("bo", Role.ADMIN)  # an admin may rate a reply in anyone's conversation


@pytest.fixture
def qa(engine) -> QAService:
    personas = PersonaService(engine)
    personas.seed_defaults()
    return QAService(engine, personas)


def conversation(engine, *, persona="support", version=1, variables=None, owner="ana"):
    """A two-turn conversation with a priced reply; returns (id, user id, reply id)."""
    with store.write_session(engine) as session:
        c = store.create_conversation(session=session, persona=persona, persona_version=version,
                                      persona_vars=variables or {"customer_name": "Bo Li"}, owner=owner)
        user = store.add_message(session=session, conversation_id=c.id, role="user",
                                 content="Where is my refund for order 1042?")
        reply = store.add_message(
            session=session, conversation_id=c.id, role="assistant", content="It was sent on Monday.",
            model="claude-sonnet-5-5", input_tokens=120, output_tokens=30, stop_reason="end_turn",
            request_id="req_1", ttft_ms=210.0, total_ms=900.0, context_dropped=0,
        )
        store.record_api_call(session=session, model="claude-sonnet-5-5", outcome="ok", conversation_id=c.id,
                              message_id=reply.id, cost_usd=0.0021)
    return c.id, user.id, reply.id


@pytest.mark.also_postgresql
def test_transcript_shows_everything_recorded_per_reply(qa, engine):
    cid, user, reply = conversation(engine, variables={"customer_name": "Bo Li", "agent_name": "Kim"})
    qa.rate(ANA, reply, 1, "spot on")
    qa.note(cid, "Check the refund policy wording.", by="quinn")
    qa.note(cid, "Good tone.", by="quinn", message_id=reply)
    qa.tag(cid, " Refund ", by="quinn")
    qa.tag(cid, "tone", by="quinn", message_id=reply)
    qa.set_golden(cid, True, by="quinn", note="refund case")

    view = qa.transcript(cid)
    expected = SHIPPED["support"].system_prompt({"customer_name": "Bo Li", "agent_name": "Kim"})
    assert view.system_prompt == expected and "Kim" in expected and view.persona_problem is None
    assert (view.persona, view.persona_version, view.persona_vars["agent_name"]) == ("support", 1, "Kim")
    first, second = view.messages
    assert (first.id, first.role, first.cost_usd, first.feedback, first.model) == (user, "user", None, (), None)
    assert (second.model, second.input_tokens, second.output_tokens) == ("claude-sonnet-5-5", 120, 30)
    assert (second.stop_reason, second.request_id, second.ttft_ms, second.total_ms) == (
        "end_turn", "req_1", 210.0, 900.0)
    assert second.cost_usd == pytest.approx(0.0021) and view.cost_usd == pytest.approx(0.0021)
    assert [(f.owner, f.rating, f.comment) for f in second.feedback] == [("ana", 1, "spot on")]
    assert [n.text for n in second.notes] == ["Good tone."] and [t.text for t in second.tags] == ["tone"]
    assert [n.text for n in view.notes] == ["Check the refund policy wording."]
    assert [t.text for t in view.tags] == ["refund"]
    assert view.golden.note == "refund case" and view.golden.added_by == "quinn"


def test_a_missing_persona_version_is_said_not_raised(qa, engine):
    gone, _, _ = conversation(engine, version=42)
    unknown, _, _ = conversation(engine, persona="retired")
    with store.write_session(engine) as session:
        unpinned = store.create_conversation(session=session, persona="support")
    assert "no version 42" in qa.transcript(gone).persona_problem
    assert qa.transcript(gone).system_prompt is None
    assert "no persona 'retired'" in qa.transcript(unknown).persona_problem
    assert "No persona version was pinned" in qa.transcript(unpinned.id).persona_problem


def test_unknown_conversations_are_clear_errors(qa):
    with pytest.raises(NotFoundError, match="Conversation 77 does not exist"):
        qa.transcript(77)
    with pytest.raises(NotFoundError, match="Conversation 77 does not exist"):
        qa.note(77, "hello", by="q")
    with pytest.raises(NotFoundError):
        qa.set_golden(77, True, by="q")
    with pytest.raises(NotFoundError):
        qa.set_golden(77, False, by="q")
    with pytest.raises(NotFoundError):
        qa.rate(ANA, 77, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda qa, c, r: qa.note(c, "   ", by="q"), "note cannot be empty"),
        (lambda qa, c, r: qa.tag(c, "x" * 41, by="q"), "at most 40"),
        (lambda qa, c, r: qa.tag(c, "", by="q"), "tag cannot be empty"),
        (lambda qa, c, r: qa.rate(ANA, r, 0), "1 .thumbs up. or -1"),
        (lambda qa, c, r: qa.rate(ANA, r, 5), "1 .thumbs up. or -1"),
        (lambda qa, c, r: qa.rate(ANA, r - 1, 1), "Only the assistant"),
        (lambda qa, c, r: qa.find(SearchFilters(text="()")), "at least one word"),
        (lambda qa, c, r: qa.find(SearchFilters(tags=("  ",))), "tag cannot be empty"),
        (lambda qa, c, r: qa.find(SearchFilters(), page=-1), "Pages start at 0"),
    ],
)
def test_bad_input_is_an_input_error_and_stores_nothing(qa, engine, call, message):
    cid, _, reply = conversation(engine)
    with pytest.raises(InputError, match=message):
        call(qa, cid, reply)
    view = qa.transcript(cid)
    assert view.notes == view.tags == () and all(m.feedback == () for m in view.messages)


def test_rate_replaces_and_none_takes_back(qa, engine):
    cid, _, reply = conversation(engine)
    assert qa.rate(ANA, reply, 1).rating == 1
    assert qa.rate(ANA, reply, -1, "too long").comment == "too long"
    qa.rate(BO, reply, 1)
    assert {k: v.rating for k, v in qa.ratings(ANA, cid).items()} == {reply: -1}
    assert qa.rate(ANA, reply, None) is None
    assert qa.ratings(ANA, cid) == {}
    assert [f.owner for f in qa.transcript(cid).messages[1].feedback] == ["bo"]


def test_tags_untag_and_pickers(qa, engine):
    a, _, reply = conversation(engine, owner="ana")
    b, _, _ = conversation(engine, persona="support", version=1, owner="bo")
    qa.tag(a, "Billing", by="q")
    qa.tag(b, "billing", by="q")
    qa.tag(a, "tone", by="q", message_id=reply)
    assert qa.tags() == [("billing", 2), ("tone", 1)]
    assert qa.untag(a, " BILLING") is True and qa.untag(a, "billing") is False
    assert qa.untag(a, "tone", message_id=reply) is True
    assert qa.tags() == [("billing", 1)]
    assert qa.owners() == ["ana", "bo"]
    assert qa.personas_used() == {"support": [1]}


def test_notes_can_be_removed(qa, engine):
    cid, _, _ = conversation(engine)
    note = qa.note(cid, "first look", by="q")
    assert qa.remove_annotation(note.id) is True and qa.remove_annotation(note.id) is False
    assert qa.transcript(cid).notes == ()


def test_golden_set(qa, engine):
    a, _, _ = conversation(engine)
    b, _, _ = conversation(engine)
    qa.set_golden(a, True, by="q", note="first")
    qa.set_golden(b, True, by="r")
    assert [g.conversation_id for g in qa.golden_conversations()] == [b, a]
    assert qa.is_golden(a) and qa.set_golden(a, False, by="q") is False
    assert not qa.is_golden(a)
    assert [g.conversation_id for g in qa.golden_conversations()] == [b]


@pytest.mark.also_postgresql
def test_find_uses_normalised_tags_and_pages(qa, engine):
    ids = [conversation(engine)[0] for _ in range(5)]
    for cid in ids[:3]:
        qa.tag(cid, "refund", by="q")
    page = qa.find(SearchFilters(text="refund", tags=(" REFUND",), order="recent"), page=1, page_size=2)
    assert page.total == 3 and [r.id for r in page.rows] == [ids[0]]
    assert page.rows[0].tags == ("refund",) and page.rows[0].matches == 1
    assert qa.matching_ids(SearchFilters(tags=("Refund",))) == ids[:3][::-1]
    with pytest.raises(InputError):
        qa.find(SearchFilters(), page_size=500)
