"""QA records: agents' ratings of replies, QA notes and tags, and the golden set.

Functions flush but never commit (the session's ``with`` block is the unit of work).
Bad input raises `QAInputError` (a ValueError whose message a person can read); ids
that do not exist raise the store's `NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from chatbot.store.errors import NotFoundError
from chatbot.store.models import Conversation, Message, MessageRole, utc_now
from chatbot.store.qa_models import Annotation, Feedback, GoldenCase

NOTE = "note"
TAG = "tag"
KINDS = (NOTE, TAG)
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 5_000
MAX_COMMENT_LENGTH = 2_000
RATINGS = (1, -1)


class QAInputError(ValueError):
    """A rating, note or tag that cannot be stored; the message says why."""


def normalize_tag(tag: str) -> str:
    """Tags compare as typed by anyone: trimmed, lowercased, inner spaces collapsed."""
    cleaned = " ".join(str(tag).split()).lower()
    if not cleaned:
        raise QAInputError("A tag cannot be empty.")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise QAInputError(f"A tag is at most {MAX_TAG_LENGTH} characters.")
    return cleaned


def clean_note(text: str) -> str:
    cleaned = str(text).strip()
    if not cleaned:
        raise QAInputError("A note cannot be empty.")
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise QAInputError(f"A note is at most {MAX_NOTE_LENGTH:,} characters.")
    return cleaned


def clean_comment(comment: str | None) -> str | None:
    cleaned = (comment or "").strip()
    if len(cleaned) > MAX_COMMENT_LENGTH:
        raise QAInputError(f"A comment is at most {MAX_COMMENT_LENGTH:,} characters.")
    return cleaned or None


# -- feedback ------------------------------------------------------------------------------


def set_feedback(
    *, session: Session, message_id: int, owner: str, rating: int, comment: str | None = None
) -> Feedback:
    """Rate a reply; a second rating by the same person replaces the first."""
    if rating not in RATINGS or isinstance(rating, bool):
        raise QAInputError("A rating is 1 (thumbs up) or -1 (thumbs down).")
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    if message.role != MessageRole.ASSISTANT.value:
        raise QAInputError("Only the assistant's replies can be rated.")
    comment = clean_comment(comment)
    now = utc_now()
    feedback = session.exec(
        select(Feedback).where(Feedback.message_id == message_id, Feedback.owner == owner)
    ).first()
    if feedback is None:
        feedback = Feedback(message_id=message_id, owner=owner, created_at=now, rating=rating)
    feedback.rating, feedback.comment, feedback.updated_at = rating, comment, now
    session.add(feedback)
    session.flush()
    return feedback


def remove_feedback(*, session: Session, message_id: int, owner: str) -> bool:
    result = session.exec(  # type: ignore[call-overload]
        delete(Feedback).where(col(Feedback.message_id) == message_id, col(Feedback.owner) == owner)
    )
    return bool(result.rowcount)


def list_feedback(*, session: Session, message_ids: Iterable[int]) -> list[Feedback]:
    """The ratings of these messages, oldest first."""
    ids = list(message_ids)
    if not ids:
        return []
    query = (
        select(Feedback)
        .where(col(Feedback.message_id).in_(ids))
        .order_by(col(Feedback.created_at), col(Feedback.id))
    )
    return list(session.exec(query).all())


def conversation_feedback(*, session: Session, conversation_id: int, owner: str) -> list[Feedback]:
    """One person's ratings of the replies in a conversation, in one query."""
    query = (
        select(Feedback)
        .join(Message, col(Message.id) == Feedback.message_id)
        .where(Message.conversation_id == conversation_id, Feedback.owner == owner)
    )
    return list(session.exec(query).all())


# -- notes and tags ------------------------------------------------------------------------


def add_annotation(
    *,
    session: Session,
    conversation_id: int,
    kind: str,
    text: str,
    created_by: str,
    message_id: int | None = None,
) -> Annotation:
    """A note, or a tag (normalised; adding a tag already there returns the existing one)."""
    if kind not in KINDS:
        raise QAInputError(f"An annotation is a {' or a '.join(KINDS)}, not {kind!r}.")
    _require_target(session, conversation_id, message_id)
    text = normalize_tag(text) if kind == TAG else clean_note(text)
    if kind == TAG:
        existing = session.exec(
            select(Annotation).where(*_tag_filter(conversation_id, text, message_id))
        ).first()
        if existing is not None:
            return existing
    annotation = Annotation(
        conversation_id=conversation_id,
        message_id=message_id,
        kind=kind,
        text=text,
        created_by=created_by,
        created_at=utc_now(),
    )
    session.add(annotation)
    session.flush()
    return annotation


def get_annotation(*, session: Session, annotation_id: int) -> Annotation | None:
    return session.get(Annotation, annotation_id)


def remove_annotation(*, session: Session, annotation_id: int) -> bool:
    result = session.exec(  # type: ignore[call-overload]
        delete(Annotation).where(col(Annotation.id) == annotation_id)
    )
    return bool(result.rowcount)


def remove_tag(
    *, session: Session, conversation_id: int, tag: str, message_id: int | None = None
) -> bool:
    """Take a tag off the conversation (message_id None) or off one of its replies."""
    result = session.exec(  # type: ignore[call-overload]
        delete(Annotation).where(*_tag_filter(conversation_id, normalize_tag(tag), message_id))
    )
    return bool(result.rowcount)


def list_annotations(*, session: Session, conversation_ids: Iterable[int]) -> list[Annotation]:
    """Notes and tags of these conversations (and their replies), oldest first."""
    ids = list(conversation_ids)
    if not ids:
        return []
    query = (
        select(Annotation)
        .where(col(Annotation.conversation_id).in_(ids))
        .order_by(col(Annotation.created_at), col(Annotation.id))
    )
    return list(session.exec(query).all())


def all_tags(*, session: Session) -> list[tuple[str, int]]:
    """Every tag in use with the number of conversations carrying it, by name."""
    query = (
        select(Annotation.text, func.count(func.distinct(Annotation.conversation_id)))
        .where(Annotation.kind == TAG)
        .group_by(Annotation.text)
        .order_by(Annotation.text)
    )
    return [(tag, count) for tag, count in session.exec(query).all()]


def _tag_filter(conversation_id: int, tag: str, message_id: int | None) -> list[object]:
    return [
        Annotation.conversation_id == conversation_id,
        Annotation.kind == TAG,
        Annotation.text == tag,
        col(Annotation.message_id).is_(None)
        if message_id is None
        else Annotation.message_id == message_id,
    ]


def _require_target(session: Session, conversation_id: int, message_id: int | None) -> None:
    if session.get(Conversation, conversation_id) is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    if message_id is not None:
        message = session.get(Message, message_id)
        if message is None or message.conversation_id != conversation_id:
            raise NotFoundError(f"message {message_id} is not in conversation {conversation_id}")


# -- the golden set ------------------------------------------------------------------------


def add_golden(
    *, session: Session, conversation_id: int, added_by: str, note: str | None = None
) -> GoldenCase:
    """Mark a conversation as a regression case; marking it again updates the note."""
    _require_target(session, conversation_id, None)
    case = session.get(GoldenCase, conversation_id)
    if case is None:
        case = GoldenCase(conversation_id=conversation_id, added_by=added_by, added_at=utc_now())
    case.note = clean_comment(note)
    session.add(case)
    session.flush()
    return case


def remove_golden(*, session: Session, conversation_id: int) -> bool:
    result = session.exec(  # type: ignore[call-overload]
        delete(GoldenCase).where(col(GoldenCase.conversation_id) == conversation_id)
    )
    return bool(result.rowcount)


def is_golden(*, session: Session, conversation_id: int) -> bool:
    return session.get(GoldenCase, conversation_id) is not None


_NEWEST_GOLDEN_FIRST = (col(GoldenCase.added_at).desc(), col(GoldenCase.conversation_id).desc())


def list_golden(*, session: Session) -> list[GoldenCase]:
    """Newest first."""
    return list(session.exec(select(GoldenCase).order_by(*_NEWEST_GOLDEN_FIRST)).all())


def list_golden_conversations(*, session: Session) -> list[tuple[GoldenCase, Conversation]]:
    """The golden set with each case's conversation, newest first, in one query."""
    query = (
        select(GoldenCase, Conversation)
        .join(Conversation, col(Conversation.id) == GoldenCase.conversation_id)
        .order_by(*_NEWEST_GOLDEN_FIRST)
    )
    return [(case, conversation) for case, conversation in session.exec(query).all()]
