"""The QA workspace service on a real SQLite file: finding, the transcript view, ratings,
notes, tags and the golden set, with the errors a person reads, and who may use them.
The key paths run on PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import pytest

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.audit import AuditLog
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import SHIPPED
from chatbot.services.personas import PersonaService
from chatbot.services.qa import QAService
from chatbot.store.audit import AuditFilter
from chatbot.store.search import SearchFilters
from actors import ADMIN, AGENT, AGENT2, QA

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
    qa.note(QA, cid, "Check the refund policy wording.")
    qa.note(QA, cid, "Good tone.", message_id=reply)
    qa.tag(QA, cid, " Refund ")
    qa.tag(QA, cid, "tone", message_id=reply)
    qa.set_golden(QA, cid, True, note="refund case")

    view = qa.transcript(QA, cid)
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
    assert view.golden.note == "refund case" and view.golden.added_by == QA.username


def test_a_missing_persona_version_is_said_not_raised(qa, engine):
    gone, _, _ = conversation(engine, version=42)
    unknown, _, _ = conversation(engine, persona="retired")
    with store.write_session(engine) as session:
        unpinned = store.create_conversation(session=session, persona="support")
    assert "no version 42" in qa.transcript(QA, gone).persona_problem
    assert qa.transcript(QA, gone).system_prompt is None
    assert "no persona 'retired'" in qa.transcript(QA, unknown).persona_problem
    assert "No persona version was pinned" in qa.transcript(QA, unpinned.id).persona_problem


def test_unknown_conversations_are_clear_errors(qa):
    with pytest.raises(NotFoundError, match="Conversation 77 does not exist"):
        qa.transcript(QA, 77)
    with pytest.raises(NotFoundError, match="Conversation 77 does not exist"):
        qa.note(QA, 77, "hello")
    with pytest.raises(NotFoundError):
        qa.set_golden(QA, 77, True)
    with pytest.raises(NotFoundError):
        qa.set_golden(QA, 77, False)
    with pytest.raises(NotFoundError):
        qa.rate(ANA, 77, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda qa, c, r: qa.note(QA, c, "   "), "note cannot be empty"),
        (lambda qa, c, r: qa.tag(QA, c, "x" * 41), "at most 40"),
        (lambda qa, c, r: qa.tag(QA, c, ""), "tag cannot be empty"),
        (lambda qa, c, r: qa.rate(ANA, r, 0), "1 .thumbs up. or -1"),
        (lambda qa, c, r: qa.rate(ANA, r, 5), "1 .thumbs up. or -1"),
        (lambda qa, c, r: qa.rate(ANA, r - 1, 1), "Only the assistant"),
        (lambda qa, c, r: qa.find(QA, SearchFilters(text="()")), "at least one word"),
        (lambda qa, c, r: qa.find(QA, SearchFilters(tags=("  ",))), "tag cannot be empty"),
        (lambda qa, c, r: qa.find(QA, SearchFilters(), page=-1), "Pages start at 0"),
    ],
)
def test_bad_input_is_an_input_error_and_stores_nothing(qa, engine, call, message):
    cid, _, reply = conversation(engine)
    with pytest.raises(InputError, match=message):
        call(qa, cid, reply)
    view = qa.transcript(QA, cid)
    assert view.notes == view.tags == () and all(m.feedback == () for m in view.messages)


def test_rate_replaces_and_none_takes_back(qa, engine):
    cid, _, reply = conversation(engine)
    assert qa.rate(ANA, reply, 1).rating == 1
    assert qa.rate(ANA, reply, -1, "too long").comment == "too long"
    qa.rate(BO, reply, 1)
    assert {k: v.rating for k, v in qa.ratings(ANA, cid).items()} == {reply: -1}
    assert qa.rate(ANA, reply, None) is None
    assert qa.ratings(ANA, cid) == {}
    assert [f.owner for f in qa.transcript(QA, cid).messages[1].feedback] == ["bo"]


def test_tags_untag_and_pickers(qa, engine):
    a, _, reply = conversation(engine, owner="ana")
    b, _, _ = conversation(engine, persona="support", version=1, owner="bo")
    qa.tag(QA, a, "Billing")
    qa.tag(QA, b, "billing")
    qa.tag(QA, a, "tone", message_id=reply)
    assert qa.tags(QA) == [("billing", 2), ("tone", 1)]
    assert qa.untag(QA, a, " BILLING") is True and qa.untag(QA, a, "billing") is False
    assert qa.untag(QA, a, "tone", message_id=reply) is True
    assert qa.tags(QA) == [("billing", 1)]
    assert qa.owners(QA) == ["ana", "bo"]
    assert qa.personas_used(QA) == {"support": [1]}


def test_notes_can_be_removed(qa, engine):
    cid, _, _ = conversation(engine)
    note = qa.note(QA, cid, "first look")
    assert qa.remove_annotation(QA, note.id) is True and qa.remove_annotation(QA, note.id) is False
    assert qa.transcript(QA, cid).notes == ()


def test_golden_set(qa, engine):
    a, _, _ = conversation(engine)
    b, _, _ = conversation(engine)
    qa.set_golden(QA, a, True, note="first")
    qa.set_golden(QA, b, True)
    assert [g.conversation_id for g in qa.golden_conversations(QA)] == [b, a]
    assert qa.is_golden(QA, a) and qa.set_golden(QA, a, False) is False
    assert not qa.is_golden(QA, a)
    assert [g.conversation_id for g in qa.golden_conversations(QA)] == [b]


@pytest.mark.also_postgresql
def test_find_uses_normalised_tags_and_pages(qa, engine):
    ids = [conversation(engine)[0] for _ in range(5)]
    for cid in ids[:3]:
        qa.tag(QA, cid, "refund")
    page = qa.find(QA, SearchFilters(text="refund", tags=(" REFUND",), order="recent"), page=1, page_size=2)
    assert page.total == 3 and [r.id for r in page.rows] == [ids[0]]
    assert page.rows[0].tags == ("refund",) and page.rows[0].matches == 1
    assert qa.matching_ids(QA, SearchFilters(tags=("Refund",))) == ids[:3][::-1]
    with pytest.raises(InputError):
        qa.find(QA, SearchFilters(), page_size=500)


# -- who may --------------------------------------------------------------------------------

WAITING = Actor("newbie", Role.NONE, "Signed in by SSO, no role yet")

READS = {
    "find": lambda qa, actor, c, n: qa.find(actor, SearchFilters()),
    "matching_ids": lambda qa, actor, c, n: qa.matching_ids(actor, SearchFilters()),
    "transcript": lambda qa, actor, c, n: qa.transcript(actor, c),
    "tags": lambda qa, actor, c, n: qa.tags(actor),
    "owners": lambda qa, actor, c, n: qa.owners(actor),
    "personas_used": lambda qa, actor, c, n: qa.personas_used(actor),
    "is_golden": lambda qa, actor, c, n: qa.is_golden(actor, c),
    "golden_conversations": lambda qa, actor, c, n: qa.golden_conversations(actor),
}
WRITES = {
    "note": lambda qa, actor, c, n: qa.note(actor, c, "mine now"),
    "tag": lambda qa, actor, c, n: qa.tag(actor, c, "mine"),
    "untag": lambda qa, actor, c, n: qa.untag(actor, c, "refund"),
    "remove_annotation": lambda qa, actor, c, n: qa.remove_annotation(actor, n),
    "set_golden on": lambda qa, actor, c, n: qa.set_golden(actor, c, True, note="mine"),
    "set_golden off": lambda qa, actor, c, n: qa.set_golden(actor, c, False),
}


def annotated(engine, qa, owner: str) -> tuple[int, int]:
    """A conversation of `owner` with a note, a tag and the golden mark; (id, note id)."""
    cid, _, _ = conversation(engine, owner=owner)
    note = qa.note(QA, cid, "first look")
    qa.tag(QA, cid, "refund")
    qa.set_golden(QA, cid, True, note="case")
    return cid, note.id


def state(qa, cid: int) -> tuple:
    view = qa.transcript(QA, cid)
    return view.notes, view.tags, view.golden


@pytest.mark.parametrize("actor", [AGENT, WAITING], ids=["agent", "no role"])
@pytest.mark.parametrize("name", [*READS, *WRITES])
def test_roles_without_qa_are_refused_even_on_their_own_conversations(qa, engine, actor, name):
    cid, note = annotated(engine, qa, owner=actor.username)  # their own: QA pages are still not theirs
    before = state(qa, cid)
    permission = "qa.read" if name in READS else "qa.annotate"

    with pytest.raises(AccessDenied) as refused:
        {**READS, **WRITES}[name](qa, actor, cid, note)

    assert refused.value.permission == permission
    assert f"Your role ({actor.role.label}) cannot" in refused.value.user_message
    assert state(qa, cid) == before  # nothing written
    entries = AuditLog(engine).page(ADMIN, AuditFilter(action="access.denied")).rows
    assert [(e.actor, e.detail) for e in entries] == [(actor.username, permission)]


@pytest.mark.parametrize("actor", [QA, ADMIN], ids=["qa", "admin"])
def test_qa_and_admins_read_and_annotate_every_agents_conversations(qa, engine, actor):
    mine, _ = annotated(engine, qa, owner=AGENT.username)
    theirs, _ = annotated(engine, qa, owner=AGENT2.username)
    assert {r.id for r in qa.find(actor, SearchFilters()).rows} == {mine, theirs}
    assert qa.owners(actor) == [AGENT.username, AGENT2.username]
    for cid in (mine, theirs):
        assert qa.transcript(actor, cid).id == cid
        assert qa.note(actor, cid, "seen").created_by == actor.username
        assert qa.tag(actor, cid, "seen", message_id=None).created_by == actor.username
    qa.set_golden(actor, theirs, True, note="again")  # re-marking keeps who marked it first
    assert qa.transcript(actor, theirs).golden.added_by == QA.username
    assert AuditLog(engine).page(ADMIN, AuditFilter(action="access.denied")).rows == []


def test_a_missing_annotation_or_message_is_said_before_anything_changes(qa, engine):
    cid, _ = annotated(engine, qa, owner=AGENT.username)
    assert qa.remove_annotation(QA, 9_999) is False
    with pytest.raises(NotFoundError, match="Conversation 9999 does not exist"):
        qa.untag(QA, 9_999, "refund")
    with pytest.raises(NotFoundError, match="not in conversation"):
        qa.tag(QA, cid, "other", message_id=9_999)
    assert [t.text for t in qa.transcript(QA, cid).tags] == ["refund"]
