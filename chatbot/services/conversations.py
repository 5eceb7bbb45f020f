"""Saved conversations: the sidebar's list, starting one with a persona and its case
details, changing those details, rename, delete, and an agent's export of their own.

    conversations.list(actor, search="refund")   # the actor's own, for admins too
    conversations.rename(actor, 42, "Refund for Dana")   # NotFoundError unless theirs

Every id is checked against the policy before anything is read out or written: another
person's conversation is "not found", with the very message a missing id gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import NOT_FOUND, Access
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import DEFAULT_PERSONA
from chatbot.store.conversations import set_conversation_persona

from .conversation_export import EXPORT_FORMATS, export_own
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


def checked_conversation(
    engine: Engine, access: Access, actor: Actor, conversation_id: int | None, *, write: bool = False
) -> store.Conversation:
    """The conversation if `actor` may read it (or change it, with `write`), else
    NotFoundError(NOT_FOUND), the same for a missing id (None: the message that led here
    is gone). A role that changes no conversation at all (QA) is refused as such
    (AccessDenied) with `write`, before any lookup.

    Read on a snapshot of its own, before any write transaction: a refusal is audited in a
    transaction of its own, which would wait on ours for SQLite's write lock."""
    if write:
        access.require(actor, "chat")
    conversation = None
    if conversation_id is not None:
        with store.read_session(engine) as session:
            conversation = store.get_conversation(session=session, conversation_id=conversation_id)
    return access.conversation(actor, conversation, write=write)  # type: ignore[return-value]


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


def default_persona_key(
    engine: Engine, personas: PersonaService, owner: str, available: Sequence[str] | None = None
) -> str:
    """The persona a new conversation gets unless the agent picks one: the one they used
    last, if it is still available, else the shipped default, else the first listed.
    `available`: the published keys, if the caller has listed them already."""
    available = list(available) if available is not None else personas.published_keys()
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
    """The chat page's conversations: each method takes the acting user and checks it."""

    def __init__(self, engine: Engine, personas: PersonaService, *, access: Access | None = None) -> None:
        self.engine = engine
        self.personas = personas
        self.access = access or Access(AuditLog(engine))

    def list(self, actor: Actor, *, search: str | None = None, limit: int = 200) -> list[store.Conversation]:
        """The actor's own conversations, newest first: the chat sidebar, for admins too
        (QA and admins find other people's on the QA pages)."""
        self.access.require(actor, "chat")
        with store.read_session(self.engine) as session:
            return store.list_conversations(
                session=session, owner=actor.username, search=(search or "").strip() or None,
                limit=limit,
            )

    def transcript(self, actor: Actor, conversation_id: int) -> Transcript:
        """The conversation and its messages, or NotFoundError if gone or not theirs."""
        transcript = load_transcript(self.engine, conversation_id)
        self.access.conversation(actor, transcript.conversation if transcript else None)
        return transcript  # type: ignore[return-value]

    def default_persona(self, actor: Actor, among: Sequence[str] | None = None) -> str:
        """The persona preselected for `actor`'s next conversation (`among`: the published
        keys the page has listed already, so they are not read again)."""
        self.access.require(actor, "chat")
        return default_persona_key(self.engine, self.personas, actor.username, among)

    def start(
        self, actor: Actor, *, persona: str, variables: Mapping[str, str] | None = None
    ) -> store.Conversation:
        """An empty conversation with the persona's published version and case details."""
        self.access.require(actor, "chat")
        chosen = self.personas.published(persona)
        with store.write_session(self.engine) as session:
            return create_with_persona(session, chosen, owner=actor.username, variables=variables)

    def persona_of(self, conversation: store.Conversation) -> ResolvedPersona:
        """The persona version the conversation uses (the published one if not pinned yet).
        Takes a conversation the caller already holds, so it was checked on the way."""
        if conversation.persona_version is not None:
            return self.personas.version(conversation.persona, conversation.persona_version)
        return self.personas.published(conversation.persona)

    def update_details(
        self, actor: Actor, conversation_id: int, variables: Mapping[str, str]
    ) -> store.Conversation:
        """New case details; the next call renders the system prompt with them."""
        conversation = self._writable(actor, conversation_id)
        details = check_details(self.persona_of(conversation), variables)
        try:
            with store.write_session(self.engine) as session:
                return set_conversation_persona(
                    session=session, conversation_id=conversation_id, persona_vars=details
                )
        except store.NotFoundError:  # deleted since the check
            raise NotFoundError(NOT_FOUND) from None

    def rename(self, actor: Actor, conversation_id: int, title: str) -> store.Conversation:
        self._writable(actor, conversation_id)
        try:
            with store.write_session(self.engine) as session:
                return store.rename_conversation(
                    session=session, conversation_id=conversation_id, title=title
                )
        except store.NotFoundError:
            raise NotFoundError(NOT_FOUND) from None
        except ValueError as exc:
            raise InputError(f"Could not rename: {exc}") from None

    def delete(self, actor: Actor, conversation_id: int) -> bool:
        """Delete it and its messages (audited); False if it went in the meantime."""
        conversation = self._writable(actor, conversation_id)
        with store.write_session(self.engine) as session:
            deleted = store.delete_conversation(session=session, conversation_id=conversation_id)
            if deleted:
                self.access.audit.append(
                    session, actor, "conversation.delete", target=f"conversation:{conversation_id}",
                    detail=f"{conversation.owner}: {conversation.title[:80]}",
                )
            return deleted

    def export(self, actor: Actor, conversation_id: int, fmt: str) -> str:
        """The conversation as the chat page shows it, as Markdown ("md") or re-importable
        JSON ("json"); audited. QA's set exports with notes and tags are on the QA pages."""
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"Export as one of: {', '.join(EXPORT_FORMATS)}.")
        text = export_own(self.engine, self.access, actor, conversation_id, fmt)
        self.access.audit.record(
            actor, "conversation.export", target=f"conversation:{conversation_id}", detail=fmt
        )
        return text

    def _writable(self, actor: Actor, conversation_id: int) -> store.Conversation:
        return checked_conversation(self.engine, self.access, actor, conversation_id, write=True)
