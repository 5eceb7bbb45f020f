"""Saved conversations: the sidebar's list, starting one with a persona and its case
details, changing those details, rename, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import DEFAULT_PERSONA
from chatbot.store.conversations import set_conversation_persona

from .personas import PersonaService, ResolvedPersona


@dataclass(frozen=True)
class Transcript:
    conversation: store.Conversation
    messages: list[store.Message]


def load_transcript(engine: Engine, conversation_id: int) -> Transcript | None:
    """The conversation and its messages in order, read on one snapshot; None if gone."""
    with store.read_session(engine) as session:
        conversation = store.get_conversation(session=session, conversation_id=conversation_id)
        if conversation is None:
            return None
        messages = store.list_messages(session=session, conversation_id=conversation_id)
    return Transcript(conversation, messages)


def check_details(persona: ResolvedPersona, variables: Mapping[str, str] | None) -> dict[str, str]:
    """The case details worth storing (declared, non-blank), or an `InputError` naming
    every required one still missing."""
    spec = persona.spec
    missing = spec.missing(variables)
    if missing:
        raise InputError(
            "Fill in " + ", ".join(v.title for v in missing) + " before starting the chat."
        )
    declared = {v.name for v in spec.variables}
    return {k: str(v).strip() for k, v in (variables or {}).items() if k in declared and str(v).strip()}


def create_with_persona(
    session: Any, persona: ResolvedPersona, *, owner: str, variables: Mapping[str, str] | None
) -> store.Conversation:
    """A new conversation pinned to this exact persona version (inside the caller's write)."""
    return store.create_conversation(
        session=session,
        persona=persona.key,
        persona_version=persona.number,
        persona_vars=check_details(persona, variables),
        owner=owner,
    )


def default_persona_key(engine: Engine, personas: PersonaService, owner: str) -> str:
    """The persona a new conversation gets unless the agent picks one: the one they used
    last, if it is still available, else the shipped default, else the first listed."""
    available = personas.published_keys()
    if not available:
        raise NotFoundError("No persona is published yet. Ask an admin to publish one.")
    with store.read_session(engine) as session:
        recent = store.list_conversations(session=session, owner=owner, limit=1)
    if recent and recent[0].persona in available:
        return recent[0].persona
    return DEFAULT_PERSONA if DEFAULT_PERSONA in available else available[0]


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
    def __init__(self, engine: Engine, personas: PersonaService) -> None:
        self.engine = engine
        self.personas = personas

    def list(self, *, owner: str | None = None, search: str | None = None, limit: int = 200) -> list[store.Conversation]:
        with store.read_session(self.engine) as session:
            return store.list_conversations(
                session=session, owner=owner, search=(search or "").strip() or None, limit=limit
            )

    def transcript(self, conversation_id: int) -> Transcript | None:
        return load_transcript(self.engine, conversation_id)

    def default_persona(self, owner: str) -> str:
        return default_persona_key(self.engine, self.personas, owner)

    def start(
        self, *, owner: str, persona: str, variables: Mapping[str, str] | None = None
    ) -> store.Conversation:
        """An empty conversation with the persona's published version and case details."""
        chosen = self.personas.published(persona)
        with store.write_session(self.engine) as session:
            return create_with_persona(session, chosen, owner=owner, variables=variables)

    def persona_of(self, conversation: store.Conversation) -> ResolvedPersona:
        """The persona version the conversation uses (the published one if not pinned yet)."""
        if conversation.persona_version is not None:
            return self.personas.version(conversation.persona, conversation.persona_version)
        return self.personas.published(conversation.persona)

    def update_details(self, conversation_id: int, variables: Mapping[str, str]) -> store.Conversation:
        """New case details; the next call renders the system prompt with them."""
        transcript = self.transcript(conversation_id)
        if transcript is None:
            raise NotFoundError("That conversation no longer exists.")
        details = check_details(self.persona_of(transcript.conversation), variables)
        with store.write_session(self.engine) as session:
            return set_conversation_persona(
                session=session, conversation_id=conversation_id, persona_vars=details
            )

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
