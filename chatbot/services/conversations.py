"""Reading and managing saved conversations (the sidebar's list, rename, delete)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from chatbot import store
from chatbot.errors import InputError, NotFoundError


@dataclass(frozen=True)
class Transcript:
    conversation: store.Conversation
    messages: list[store.Message]


def group_by_recency(
    conversations: Sequence[store.Conversation], now: datetime
) -> list[tuple[str, list[store.Conversation]]]:
    """Sidebar sections as chat apps have them: Today, Yesterday, Previous 7 days, Older.
    Keeps the given (newest-first) order; empty sections are left out."""
    today = now.date()
    sections: dict[str, list[store.Conversation]] = {
        "Today": [], "Yesterday": [], "Previous 7 days": [], "Older": []
    }
    for conversation in conversations:
        day = conversation.updated_at.astimezone(now.tzinfo).date()
        if day >= today:
            sections["Today"].append(conversation)
        elif day == today - timedelta(days=1):
            sections["Yesterday"].append(conversation)
        elif day > today - timedelta(days=8):
            sections["Previous 7 days"].append(conversation)
        else:
            sections["Older"].append(conversation)
    return [(label, items) for label, items in sections.items() if items]


class Conversations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, *, owner: str | None = None, search: str | None = None, limit: int = 200) -> list[store.Conversation]:
        with store.read_session(self.engine) as session:
            return store.list_conversations(
                session=session, owner=owner, search=(search or "").strip() or None, limit=limit
            )

    def transcript(self, conversation_id: int) -> Transcript | None:
        with store.read_session(self.engine) as session:
            conversation = store.get_conversation(session=session, conversation_id=conversation_id)
            if conversation is None:
                return None
            messages = store.list_messages(session=session, conversation_id=conversation_id)
        return Transcript(conversation, messages)

    def rename(self, conversation_id: int, title: str) -> store.Conversation:
        try:
            with store.write_session(self.engine) as session:
                return store.rename_conversation(
                    session=session, conversation_id=conversation_id, title=title
                )
        except store.NotFoundError:
            raise NotFoundError("That conversation no longer exists.") from None
        except ValueError as exc:
            raise InputError(f"Could not rename: {exc}") from None

    def delete(self, conversation_id: int) -> bool:
        with store.write_session(self.engine) as session:
            return store.delete_conversation(session=session, conversation_id=conversation_id)
