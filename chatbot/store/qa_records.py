"""Everything recorded about whole conversations, read in a few queries: what a QA
transcript shows and what an export writes.

    with read_session(engine) as session:
        records = load_records(session=session, conversation_ids=[12, 15])

Rows are loaded for any number of ids in chunks (one query per table per chunk, not per
conversation), so exporting a filtered set of thousands stays a handful of queries.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatbot.store.models import ApiCall, Conversation, Message
from chatbot.store.qa_models import Annotation, Feedback, GoldenCase

# Well under every backend's bound-parameter limit (SQLite's default is 32,766).
CHUNK = 500


@dataclass
class ConversationRecord:
    """A conversation with its messages (in order) and everything attached to them."""

    conversation: Conversation
    messages: list[Message] = field(default_factory=list)
    feedback: dict[int, list[Feedback]] = field(default_factory=dict)  # by message id
    annotations: list[Annotation] = field(default_factory=list)  # oldest first
    golden: GoldenCase | None = None
    # Sum of the priced API calls made for each reply; absent when none was priced.
    cost_usd: dict[int, float] = field(default_factory=dict)


def load_records(*, session: Session, conversation_ids: Sequence[int]) -> list[ConversationRecord]:
    """Records in the order of `conversation_ids`; ids that do not exist are skipped."""
    wanted = list(dict.fromkeys(conversation_ids))
    records: dict[int, ConversationRecord] = {}
    for chunk in _chunks(wanted):
        for conversation in session.exec(
            select(Conversation).where(col(Conversation.id).in_(chunk))
        ).all():
            records[conversation.id] = ConversationRecord(conversation)  # type: ignore[index]
        _fill(session, records, chunk)
    return [records[cid] for cid in wanted if cid in records]


def _fill(session: Session, records: dict[int, ConversationRecord], chunk: list[int]) -> None:
    owner: dict[int, ConversationRecord] = {}  # message id -> its conversation's record
    for message in session.exec(
        select(Message)
        .where(col(Message.conversation_id).in_(chunk))
        .order_by(col(Message.conversation_id), col(Message.position))
    ).all():
        records[message.conversation_id].messages.append(message)
        owner[message.id] = records[message.conversation_id]  # type: ignore[index]

    for annotation in session.exec(
        select(Annotation)
        .where(col(Annotation.conversation_id).in_(chunk))
        .order_by(col(Annotation.created_at), col(Annotation.id))
    ).all():
        records[annotation.conversation_id].annotations.append(annotation)

    for case in session.exec(
        select(GoldenCase).where(col(GoldenCase.conversation_id).in_(chunk))
    ).all():
        records[case.conversation_id].golden = case

    message_ids = list(owner)
    for ids in _chunks(message_ids):
        for feedback in session.exec(
            select(Feedback)
            .where(col(Feedback.message_id).in_(ids))
            .order_by(col(Feedback.created_at), col(Feedback.id))
        ).all():
            owner[feedback.message_id].feedback.setdefault(feedback.message_id, []).append(feedback)
        costs: dict[int, list[float]] = defaultdict(list)
        for message_id, cost in session.exec(
            select(ApiCall.message_id, ApiCall.cost_usd).where(
                col(ApiCall.message_id).in_(ids), col(ApiCall.cost_usd).is_not(None)
            )
        ).all():
            costs[message_id].append(cost)  # type: ignore[index, arg-type]
        for message_id, values in costs.items():
            owner[message_id].cost_usd[message_id] = math.fsum(values)


def conversation_owners(*, session: Session, conversation_ids: Sequence[int]) -> dict[int, str]:
    """The owner of each of these conversations that exists (to check access before loading)."""
    owners: dict[int, str] = {}
    for chunk in _chunks(list(dict.fromkeys(conversation_ids))):
        query = select(Conversation.id, Conversation.owner).where(col(Conversation.id).in_(chunk))
        owners.update(session.exec(query).all())  # type: ignore[arg-type]
    return owners


def distinct_owners(*, session: Session) -> list[str]:
    query = select(Conversation.owner).distinct().order_by(Conversation.owner)
    return list(session.exec(query).all())


def persona_versions_used(*, session: Session) -> dict[str, list[int]]:
    """Persona keys seen on conversations, each with the version numbers used (newest
    first); a conversation not pinned to a version yet adds only its key."""
    query = (
        select(Conversation.persona, Conversation.persona_version, func.count())
        .group_by(Conversation.persona, Conversation.persona_version)
        .order_by(Conversation.persona)
    )
    used: dict[str, list[int]] = {}
    for persona, version, _ in session.exec(query).all():
        numbers = used.setdefault(persona, [])
        if version is not None:
            numbers.append(version)
    return {key: sorted(numbers, reverse=True) for key, numbers in used.items()}


def page_extras(
    *, session: Session, conversation_ids: list[int]
) -> tuple[dict[int, int], dict[int, list[str]], set[int]]:
    """Message counts, tags and golden flags of one page of conversations."""
    counts = dict(
        session.exec(
            select(Message.conversation_id, func.count())
            .where(col(Message.conversation_id).in_(conversation_ids))
            .group_by(Message.conversation_id)
        ).all()
    )
    tags: dict[int, list[str]] = {}
    for cid, tag in session.exec(
        select(Annotation.conversation_id, Annotation.text)
        .where(col(Annotation.conversation_id).in_(conversation_ids), Annotation.kind == "tag")
        .distinct()
        .order_by(Annotation.text)
    ).all():
        tags.setdefault(cid, []).append(tag)
    golden = set(
        session.exec(
            select(GoldenCase.conversation_id).where(col(GoldenCase.conversation_id).in_(conversation_ids))
        ).all()
    )
    return counts, tags, golden


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
