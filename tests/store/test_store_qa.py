"""QA records in the store: ratings, notes and tags, the golden set, and full records."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from chatbot.store import (
    PLACEHOLDER_USERNAME,
    NotFoundError,
    add_message,
    create_conversation,
    delete_conversation,
    read_session,
    record_api_call,
    write_session,
)
from chatbot.store import qa as qa_store
from chatbot.store.qa import QAInputError
from chatbot.store.qa_models import Feedback
from chatbot.store.qa_records import distinct_owners, load_records, persona_versions_used


@pytest.fixture
def turn(engine, conversation):
    """(conversation id, user message id, reply id)."""
    with write_session(engine) as session:
        user = add_message(session=session, conversation_id=conversation.id, role="user", content="hi")
        reply = add_message(session=session, conversation_id=conversation.id, role="assistant", content="hello")
    return conversation.id, user.id, reply.id


def test_a_second_rating_replaces_the_first(engine, turn):
    _, _, reply = turn
    with write_session(engine) as session:
        first = qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=1, comment=" ok ")
    with write_session(engine) as session:
        second = qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=-1)
        qa_store.set_feedback(session=session, message_id=reply, owner="bo", rating=1)
    assert first.id == second.id and first.comment == "ok"
    with read_session(engine) as session:
        rows = qa_store.list_feedback(session=session, message_ids=[reply])
    assert [(f.owner, f.rating, f.comment) for f in rows] == [("ana", -1, None), ("bo", 1, None)]
    assert rows[0].updated_at >= rows[0].created_at


def test_the_database_refuses_two_ratings_by_one_person(engine, turn):
    # What the upsert relies on, should two writers race past the lookup.
    _, _, reply = turn
    with pytest.raises(IntegrityError), write_session(engine) as session:
        session.add(Feedback(message_id=reply, owner="ana", rating=1))
        session.add(Feedback(message_id=reply, owner="ana", rating=-1))


@pytest.mark.parametrize("rating", [0, 2, -2, True, "1"])
def test_ratings_are_plus_or_minus_one(engine, turn, rating):
    with pytest.raises(QAInputError, match="1 .thumbs up. or -1"), write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=turn[2], owner="ana", rating=rating)


def test_only_existing_replies_can_be_rated(engine, turn):
    _, user, reply = turn
    with pytest.raises(QAInputError, match="Only the assistant"), write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=user, owner="ana", rating=1)
    with pytest.raises(NotFoundError), write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=reply + 100, owner="ana", rating=1)
    with pytest.raises(QAInputError, match="comment"), write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=1, comment="x" * 2001)


def test_removing_a_rating(engine, turn):
    reply = turn[2]
    with write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=1)
    with write_session(engine) as session:
        assert qa_store.remove_feedback(session=session, message_id=reply, owner="ana") is True
        assert qa_store.remove_feedback(session=session, message_id=reply, owner="ana") is False
        assert qa_store.list_feedback(session=session, message_ids=[reply]) == []


@pytest.mark.parametrize(
    ("typed", "stored"), [(" Billing ", "billing"), ("Late   DELIVERY", "late delivery"), ("ÉTÉ", "été")]
)
def test_tags_are_normalised(typed, stored):
    assert qa_store.normalize_tag(typed) == stored


@pytest.mark.parametrize(("typed", "problem"), [("", "empty"), ("   ", "empty"), ("x" * 41, "at most 40")])
def test_bad_tags_are_refused(typed, problem):
    with pytest.raises(QAInputError, match=problem):
        qa_store.normalize_tag(typed)


def test_tags_are_kept_once_per_target_and_removed_by_name(engine, turn):
    cid, _, reply = turn
    with write_session(engine) as session:
        a = qa_store.add_annotation(session=session, conversation_id=cid, kind="tag", text="Refund", created_by="q")
        b = qa_store.add_annotation(session=session, conversation_id=cid, kind="tag", text=" refund", created_by="r")
        on_reply = qa_store.add_annotation(session=session, conversation_id=cid, message_id=reply, kind="tag",
                                           text="refund", created_by="q")
    assert a.id == b.id and on_reply.id != a.id
    with write_session(engine) as session:
        assert qa_store.remove_tag(session=session, conversation_id=cid, tag="REFUND") is True
        assert qa_store.remove_tag(session=session, conversation_id=cid, tag="refund") is False
        left = qa_store.list_annotations(session=session, conversation_ids=[cid])
    assert [(x.text, x.message_id) for x in left] == [("refund", reply)]


def test_notes_are_trimmed_and_checked(engine, turn):
    cid, _, reply = turn
    with write_session(engine) as session:
        note = qa_store.add_annotation(session=session, conversation_id=cid, message_id=reply, kind="note",
                                       text="  Too formal.\n", created_by="q")
    assert note.text == "Too formal." and note.kind == "note"
    for text, problem in (("  ", "empty"), ("x" * 5001, "at most")):
        with pytest.raises(QAInputError, match=problem), write_session(engine) as session:
            qa_store.add_annotation(session=session, conversation_id=cid, kind="note", text=text, created_by="q")
    with pytest.raises(QAInputError, match="note or a tag"), write_session(engine) as session:
        qa_store.add_annotation(session=session, conversation_id=cid, kind="label", text="x", created_by="q")
    with write_session(engine) as session:
        assert qa_store.remove_annotation(session=session, annotation_id=note.id) is True
        assert qa_store.remove_annotation(session=session, annotation_id=note.id) is False


def test_annotations_need_a_real_target(engine, turn):
    cid, _, reply = turn
    with write_session(engine) as session:
        other = create_conversation(session=session, persona="support")
    with pytest.raises(NotFoundError), write_session(engine) as session:
        qa_store.add_annotation(session=session, conversation_id=cid + 50, kind="note", text="x", created_by="q")
    with pytest.raises(NotFoundError, match="not in conversation"), write_session(engine) as session:
        qa_store.add_annotation(session=session, conversation_id=other.id, message_id=reply, kind="note",
                                text="x", created_by="q")


def test_all_tags_counts_conversations(engine, turn):
    cid, _, reply = turn
    with write_session(engine) as session:
        other = create_conversation(session=session, persona="support")
        for target, message in ((cid, None), (cid, reply), (other.id, None)):
            qa_store.add_annotation(session=session, conversation_id=target, message_id=message, kind="tag",
                                    text="tone", created_by="q")
        qa_store.add_annotation(session=session, conversation_id=cid, kind="tag", text="billing", created_by="q")
        qa_store.add_annotation(session=session, conversation_id=cid, kind="note", text="tone", created_by="q")
        assert qa_store.all_tags(session=session) == [("billing", 1), ("tone", 2)]


def test_golden_set(engine, turn):
    cid = turn[0]
    with write_session(engine) as session:
        qa_store.add_golden(session=session, conversation_id=cid, added_by="q", note="refund policy")
        again = qa_store.add_golden(session=session, conversation_id=cid, added_by="r", note=None)
    assert again.added_by == "q" and again.note is None  # marking again keeps who added it
    with read_session(engine) as session:
        assert qa_store.is_golden(session=session, conversation_id=cid)
        assert [g.conversation_id for g in qa_store.list_golden(session=session)] == [cid]
    with write_session(engine) as session:
        assert qa_store.remove_golden(session=session, conversation_id=cid) is True
        assert not qa_store.is_golden(session=session, conversation_id=cid)
    with pytest.raises(NotFoundError), write_session(engine) as session:
        qa_store.add_golden(session=session, conversation_id=cid + 9, added_by="q")


def test_deleting_a_conversation_removes_its_qa_records(engine, turn):
    cid, _, reply = turn
    with write_session(engine) as session:
        qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=1)
        qa_store.add_annotation(session=session, conversation_id=cid, message_id=reply, kind="tag",
                                text="x", created_by="q")
        qa_store.add_golden(session=session, conversation_id=cid, added_by="q")
    with write_session(engine) as session:
        delete_conversation(session=session, conversation_id=cid)
    with read_session(engine) as session:
        assert qa_store.list_feedback(session=session, message_ids=[reply]) == []
        assert qa_store.list_annotations(session=session, conversation_ids=[cid]) == []
        assert qa_store.list_golden(session=session) == []


def test_records_carry_everything_and_sum_priced_costs(engine, turn):
    cid, user, reply = turn
    with write_session(engine) as session:
        record_api_call(session=session, model="m", outcome="error", message_id=reply, cost_usd=None)
        record_api_call(session=session, model="m", outcome="ok", message_id=reply, cost_usd=0.25)
        record_api_call(session=session, model="m", outcome="ok", message_id=reply, cost_usd=0.5)
        qa_store.set_feedback(session=session, message_id=reply, owner="ana", rating=1)
        qa_store.add_golden(session=session, conversation_id=cid, added_by="q")
        empty = create_conversation(session=session, persona="billing", persona_version=2, owner="bo")
    with read_session(engine) as session:
        records = load_records(session=session, conversation_ids=[empty.id, cid, 999, cid])
        owners = distinct_owners(session=session)
        personas = persona_versions_used(session=session)
    assert [r.conversation.id for r in records] == [empty.id, cid]
    record = records[1]
    assert [m.id for m in record.messages] == [user, reply]
    assert record.cost_usd == {reply: 0.75}  # the unpriced call adds nothing; the user turn none
    assert [f.owner for f in record.feedback[reply]] == ["ana"] and record.golden is not None
    assert records[0].messages == [] and records[0].golden is None
    assert owners == [PLACEHOLDER_USERNAME, "bo"]  # create_conversation's default owner
    assert personas == {"billing": [2], "support": []}
