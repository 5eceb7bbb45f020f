"""Conversations: create, find, list, rename, auto-title, archive, delete.

Functions flush but never commit: the session's ``with`` block is the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from chatbot.store.errors import NotFoundError
from chatbot.store.models import PLACEHOLDER_USERNAME, Conversation, utc_now

MAX_TITLE_LENGTH = 200
AUTO_TITLE_LENGTH = 60
_ELLIPSIS = "…"


def create_conversation(
    *,
    session: Session,
    persona: str,
    persona_vars: Mapping[str, str] | None = None,
    owner: str = PLACEHOLDER_USERNAME,
    title: str | None = None,
    persona_version: int | None = None,
) -> Conversation:
    """A new conversation; an explicit title counts as chosen and is locked."""
    now = utc_now()
    conversation = Conversation(
        persona=persona,
        persona_version=persona_version,
        persona_vars={str(k): str(v) for k, v in (persona_vars or {}).items()},
        owner=owner,
        created_at=now,
        updated_at=now,
    )
    if title is not None:
        conversation.title = _clean_title(title)
        conversation.title_locked = True
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(*, session: Session, conversation_id: int) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def require_conversation(*, session: Session, conversation_id: int) -> Conversation:
    """Like get_conversation, but a missing id raises NotFoundError."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    return conversation


def list_conversations(
    *,
    session: Session,
    owner: str | None = None,
    search: str | None = None,
    include_archived: bool = False,
    limit: int = 200,
) -> list[Conversation]:
    """Most recently active first; `search` matches a substring of the title, any case."""
    query = select(Conversation)
    if owner is not None:
        query = query.where(Conversation.owner == owner)
    if not include_archived:
        query = query.where(col(Conversation.archived).is_(False))
    if search and search.strip():
        pattern = f"%{escape_like(search.strip())}%"
        query = query.where(col(Conversation.title).ilike(pattern, escape="\\"))
    query = query.order_by(
        col(Conversation.updated_at).desc(), col(Conversation.id).desc()
    ).limit(limit)
    return list(session.exec(query).all())


def rename_conversation(*, session: Session, conversation_id: int, title: str) -> Conversation:
    """Set a title chosen by a person; the auto-title will not replace it."""
    conversation = require_conversation(session=session, conversation_id=conversation_id)
    conversation.title = _clean_title(title)
    conversation.title_locked = True
    session.add(conversation)
    session.flush()
    return conversation


def set_conversation_persona(
    *,
    session: Session,
    conversation_id: int,
    persona_vars: Mapping[str, str] | None = None,
    persona_version: int | None = None,
) -> Conversation:
    """Change the case details (persona variables) or pin the persona version in use."""
    conversation = require_conversation(session=session, conversation_id=conversation_id)
    if persona_vars is not None:
        conversation.persona_vars = {str(k): str(v) for k, v in persona_vars.items()}
    if persona_version is not None:
        conversation.persona_version = persona_version
    session.add(conversation)
    session.flush()
    return conversation


def set_auto_title(
    *, session: Session, conversation_id: int, first_message: str
) -> Conversation:
    """Title the conversation after its first user message, unless someone renamed it."""
    conversation = require_conversation(session=session, conversation_id=conversation_id)
    if conversation.title_locked:
        return conversation
    title = auto_title(first_message)
    if title:
        conversation.title = title
        session.add(conversation)
        session.flush()
    return conversation


def archive_conversation(
    *, session: Session, conversation_id: int, archived: bool = True
) -> Conversation:
    """Hide a conversation from the default list (archived=False brings it back)."""
    conversation = require_conversation(session=session, conversation_id=conversation_id)
    conversation.archived = archived
    session.add(conversation)
    session.flush()
    return conversation


def delete_conversation(*, session: Session, conversation_id: int) -> bool:
    """Delete it and its messages; its API-call records stay, unlinked. False if absent."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return False
    # The database does the rest (ON DELETE CASCADE / SET NULL), so this works the
    # same for rows this session never loaded.
    session.delete(conversation)
    session.flush()
    return True


def auto_title(text: str) -> str:
    """The first non-blank line, whitespace collapsed, cut on a word boundary with "…".

    >>> auto_title("Where is my order?\\nIt was due Monday.")
    'Where is my order?'
    """
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    title = " ".join(first_line.split())
    if len(title) <= AUTO_TITLE_LENGTH:
        return title
    room = AUTO_TITLE_LENGTH - len(_ELLIPSIS)
    cut = title[: room + 1].rfind(" ")
    # One very long word (a URL, an order id) is cut mid-word rather than dropped.
    head = title[:cut] if cut > room // 2 else title[:room]
    return head.rstrip(" ,;:.-") + _ELLIPSIS


def _clean_title(title: str) -> str:
    # Titles are one line: newlines and runs of spaces collapse to one space.
    cleaned = " ".join(title.split())
    if not cleaned:
        raise ValueError("a conversation title cannot be empty")
    if len(cleaned) > MAX_TITLE_LENGTH:
        raise ValueError(f"a conversation title is at most {MAX_TITLE_LENGTH} characters")
    return cleaned


def escape_like(text: str) -> str:
    # So "50%" and "order_id" match literally instead of as LIKE wildcards.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

