"""Messages of a conversation: append, update, list, and recover interrupted replies.

Functions flush but never commit. Call the writing ones inside ``write_session``:
on SQLite its BEGIN IMMEDIATE is what makes "next position" safe under concurrency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, update
from sqlmodel import Session, col, select

from chatbot.store.conversations import require_conversation
from chatbot.store.errors import NotFoundError
from chatbot.store.models import Conversation, Message, MessageRole, MessageStatus, utc_now

INTERRUPTED_ERROR = "The reply was interrupted (server restart). Retry to generate it again."

# What callers may set; ids, position and timestamps belong to the store.
UPDATABLE_FIELDS = frozenset(
    {
        "content",
        "context_dropped",
        "status",
        "error",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "stop_reason",
        "request_id",
        "ttft_ms",
        "total_ms",
    }
)


def add_message(
    *,
    session: Session,
    conversation_id: int,
    role: str,
    content: str,
    status: str = MessageStatus.COMPLETE,
    **fields: Any,
) -> Message:
    """Append a message at the next position and bump the conversation's updated_at."""
    (message,) = add_messages(
        session=session,
        conversation_id=conversation_id,
        messages=[dict(role=role, content=content, status=status, **fields)],
    )
    return message


def lock_conversation(*, session: Session, conversation_id: int) -> Conversation | None:
    """The conversation, locked for appending in this write session. FOR UPDATE serialises
    concurrent appends on PostgreSQL; SQLite ignores it and relies on the write session's
    BEGIN IMMEDIATE instead."""
    return session.exec(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    ).one_or_none()


def add_messages(
    *,
    session: Session,
    conversation_id: int,
    messages: list[dict[str, Any]],
    locked: Conversation | None = None,
    position: int | None = None,
) -> list[Message]:
    """Append several messages (dicts of `add_message`'s arguments) in order, with one
    lookup and one flush: a turn adds the agent's message and the reply's row together,
    and this is on the path before the first token. A caller that already holds the
    conversation (`locked`, from `lock_conversation` in this session) and knows the next
    `position` (it listed the messages under that lock) saves both lookups."""
    prepared = []
    for spec in messages:
        fields = dict(spec)
        role = MessageRole(fields.pop("role")).value
        status = MessageStatus(fields.pop("status", MessageStatus.COMPLETE)).value
        content = fields.pop("content")
        _check_fields(fields)
        prepared.append((role, content, status, fields))
    conversation = locked or lock_conversation(session=session, conversation_id=conversation_id)
    if conversation is None or conversation.id != conversation_id:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    if position is None:
        position = session.exec(
            select(func.coalesce(func.max(Message.position) + 1, 0)).where(
                Message.conversation_id == conversation_id
            )
        ).one()
    now = utc_now()
    added = [
        Message(
            conversation_id=conversation_id,
            position=position + offset,
            role=role,
            content=content,
            status=status,
            created_at=now,
            updated_at=now,
            **fields,
        )
        for offset, (role, content, status, fields) in enumerate(prepared)
    ]
    conversation.updated_at = now
    session.add_all([*added, conversation])
    session.flush()
    return added


def update_message(*, session: Session, message_id: int, **fields: Any) -> Message:
    """Change a message (e.g. the streamed text, then its final status and usage)."""
    _check_fields(fields)
    if "status" in fields:
        fields["status"] = MessageStatus(fields["status"]).value
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    now = utc_now()
    for name, value in fields.items():
        setattr(message, name, value)
    message.updated_at = now
    conversation = require_conversation(
        session=session, conversation_id=message.conversation_id
    )
    conversation.updated_at = now
    session.add_all([message, conversation])
    session.flush()
    return message


def get_message(*, session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def list_messages(*, session: Session, conversation_id: int) -> list[Message]:
    """All messages of a conversation in order."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(col(Message.position))
    )
    return list(session.exec(query).all())


def mark_stale_streaming_as_partial(*, session: Session, older_than: datetime) -> int:
    """Close replies left "streaming" by a restart; returns how many were closed.

    Only messages not touched since `older_than` are closed, so a reply another
    replica is still streaming (it updates the row as text arrives) is left alone.
    """
    stale = (
        Message.status == MessageStatus.STREAMING.value,
        col(Message.updated_at) < older_than,
    )
    rows = session.exec(select(Message.id, Message.conversation_id).where(*stale)).all()
    if not rows:
        return 0
    now = utc_now()
    message_ids = [message_id for message_id, _ in rows]
    conversation_ids = sorted({conversation_id for _, conversation_id in rows})
    # Some text arrived: a partial reply; none at all: a failed one.
    status = case(
        (Message.content == "", MessageStatus.ERROR.value), else_=MessageStatus.PARTIAL.value
    )
    session.exec(
        update(Message)
        .where(col(Message.id).in_(message_ids))
        .values(status=status, error=INTERRUPTED_ERROR, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    session.exec(
        update(Conversation)
        .where(col(Conversation.id).in_(conversation_ids))
        .values(updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return len(message_ids)


def touch_streaming_messages(*, session: Session, message_ids: list[int]) -> int:
    """Mark replies still being written as alive (a heartbeat), so no sweep closes them
    while they wait on a retry or a slow first token. Returns how many rows it touched."""
    if not message_ids:
        return 0
    result = session.exec(
        update(Message)
        .where(col(Message.id).in_(message_ids), Message.status == MessageStatus.STREAMING.value)
        .values(updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown or read-only message fields: {', '.join(sorted(unknown))}")
