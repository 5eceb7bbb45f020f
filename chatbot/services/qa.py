"""The QA workspace: find conversations, read them with everything recorded per reply,
rate replies, add notes and tags, and keep the golden set of regression cases.

    qa = QAService(engine, personas, access=identity.access)
    page = qa.find(actor, SearchFilters(text="refund", tags=("billing",)), page=0)
    view = qa.transcript(actor, page.rows[0].id)  # read-only: prompt, tokens, cost, feedback ...
    qa.tag(actor, view.id, "Billing ")            # stored as "billing", by actor.username
    qa.rate(actor, view.messages[1].id, 1)        # the chat page's thumbs; None takes it back
    qa.set_golden(actor, view.id, True, note="refund policy")

Reading needs "qa.read" and annotating (notes, tags, the golden set) "qa.annotate": an
agent is refused (`AccessDenied`, recorded) before anything is read or written. Every
method returns frozen dataclasses (never ORM rows) and raises only the project's errors:
`InputError` for what a person typed, `NotFoundError` for ids that are gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import ChatbotError, InputError, NotFoundError
from chatbot.store import qa as qa_store
from chatbot.store.qa_records import (
    ConversationRecord,
    distinct_owners,
    load_records,
    persona_versions_used,
)
from chatbot.store.search import QueryError, SearchFilters, SearchPage, search_conversations, search_ids

from .conversations import checked_conversation
from .personas import PersonaService

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_EXPORT = 10_000  # conversations in one filtered export


@dataclass(frozen=True)
class FeedbackView:
    owner: str
    rating: int  # 1 up, -1 down
    comment: str | None
    updated_at: datetime


@dataclass(frozen=True)
class AnnotationView:
    id: int
    kind: str  # "note" | "tag"
    text: str
    created_by: str
    created_at: datetime
    message_id: int | None  # None: on the whole conversation


@dataclass(frozen=True)
class MessageView:
    """One message as recorded; the usage fields are None on user messages."""

    id: int
    position: int
    role: str
    content: str
    status: str
    error: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_creation_input_tokens: int | None
    cache_read_input_tokens: int | None
    stop_reason: str | None
    request_id: str | None
    ttft_ms: float | None
    total_ms: float | None
    context_dropped: int | None
    created_at: datetime
    updated_at: datetime
    cost_usd: float | None  # priced API calls for this reply; None when none was priced
    feedback: tuple[FeedbackView, ...]
    notes: tuple[AnnotationView, ...]
    tags: tuple[AnnotationView, ...]


@dataclass(frozen=True)
class GoldenView:
    conversation_id: int
    title: str
    persona: str
    persona_version: int | None
    owner: str
    added_by: str
    added_at: datetime
    note: str | None


@dataclass(frozen=True)
class TranscriptView:
    """A conversation read-only, with the system prompt its persona version renders to.

    `system_prompt` is None when it cannot be rendered any more (the persona or version
    was deleted, or no version was pinned yet); `persona_problem` then says why.
    """

    id: int
    title: str
    persona: str
    persona_version: int | None
    persona_vars: dict[str, str]
    owner: str
    created_at: datetime
    updated_at: datetime
    archived: bool
    system_prompt: str | None
    persona_problem: str | None
    messages: tuple[MessageView, ...]
    notes: tuple[AnnotationView, ...]  # on the whole conversation
    tags: tuple[AnnotationView, ...]  # on the whole conversation
    golden: GoldenView | None

    @property
    def cost_usd(self) -> float | None:
        costs = [m.cost_usd for m in self.messages if m.cost_usd is not None]
        return sum(costs) if costs else None


class QAService:
    """The QA page's use cases; see the module docstring."""

    def __init__(self, engine: Engine, personas: PersonaService, *, access: Access | None = None) -> None:
        self.engine = engine
        self.personas = personas
        self.access = access or Access(AuditLog(engine))

    # -- finding ---------------------------------------------------------------------------

    def find(
        self, actor: Actor, filters: SearchFilters, page: int = 0, *, page_size: int = PAGE_SIZE
    ) -> SearchPage:
        """Page `page` (from 0) of the conversations matching; `total` counts them all."""
        self.access.require(actor, "qa.read")
        if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InputError(f"Pages start at 0 and hold 1 to {MAX_PAGE_SIZE} conversations.")
        filters = _clean_filters(filters)
        with _translated(), store.read_session(self.engine) as session:
            return search_conversations(
                session=session, filters=filters, limit=page_size, offset=page * page_size
            )

    def matching_ids(self, actor: Actor, filters: SearchFilters, *, limit: int = MAX_EXPORT) -> list[int]:
        """Every conversation the filters match, in page order (for exporting a set)."""
        self.access.require(actor, "qa.read")
        filters = _clean_filters(filters)
        with _translated(), store.read_session(self.engine) as session:
            return search_ids(session=session, filters=filters, limit=limit)

    def transcript(self, actor: Actor, conversation_id: int) -> TranscriptView:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            self._readable(session, actor, conversation_id)
            records = load_records(session=session, conversation_ids=[conversation_id])
        return self._view(records[0])

    # -- pickers for the filters -----------------------------------------------------------

    def tags(self, actor: Actor) -> list[tuple[str, int]]:
        """Every tag in use, with how many conversations carry it."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return qa_store.all_tags(session=session)

    def owners(self, actor: Actor) -> list[str]:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return distinct_owners(session=session)

    def personas_used(self, actor: Actor) -> dict[str, list[int]]:
        """Persona keys on conversations, each with its version numbers (newest first)."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return persona_versions_used(session=session)

    # -- feedback ----------------------------------------------------------------------------

    def rate(
        self, actor: Actor, message_id: int, rating: int | None, comment: str | None = None
    ) -> FeedbackView | None:
        """Thumbs up (1) or down (-1) on a reply in a conversation `actor` may change
        (their own; an admin's: any), replacing their earlier rating; None takes the rating
        back (st.feedback cleared). Another person's reply is "not found", as a gone one."""
        with store.read_session(self.engine) as session:
            message = session.get(store.Message, message_id)
        parent = message.conversation_id if message is not None else None
        checked_conversation(self.engine, self.access, actor, parent, write=True)
        owner = actor.username
        with _translated(), store.write_session(self.engine) as session:
            if rating is None:
                qa_store.remove_feedback(session=session, message_id=message_id, owner=owner)
                return None
            row = qa_store.set_feedback(
                session=session, message_id=message_id, owner=owner, rating=rating, comment=comment
            )
            return _feedback(row)

    def ratings(self, actor: Actor, conversation_id: int) -> dict[int, FeedbackView]:
        """The actor's own ratings in a conversation they may read, by message id (to show
        st.feedback's state)."""
        checked_conversation(self.engine, self.access, actor, conversation_id)
        with store.read_session(self.engine) as session:
            rows = qa_store.conversation_feedback(
                session=session, conversation_id=conversation_id, owner=actor.username
            )
        return {row.message_id: _feedback(row) for row in rows}

    # -- notes and tags ----------------------------------------------------------------------

    def note(
        self, actor: Actor, conversation_id: int, text: str, *, message_id: int | None = None
    ) -> AnnotationView:
        return self._annotate(actor, conversation_id, qa_store.NOTE, text, message_id)

    def tag(
        self, actor: Actor, conversation_id: int, tag: str, *, message_id: int | None = None
    ) -> AnnotationView:
        """Tags are stored trimmed and lowercased; tagging twice keeps one."""
        return self._annotate(actor, conversation_id, qa_store.TAG, tag, message_id)

    def untag(
        self, actor: Actor, conversation_id: int, tag: str, *, message_id: int | None = None
    ) -> bool:
        self.access.require(actor, "qa.annotate")
        with _translated(), store.write_session(self.engine) as session:
            self._readable(session, actor, conversation_id)
            return qa_store.remove_tag(
                session=session, conversation_id=conversation_id, tag=tag, message_id=message_id
            )

    def remove_annotation(self, actor: Actor, annotation_id: int) -> bool:
        """Delete a note (or a tag) by its id; False if it was already gone."""
        self.access.require(actor, "qa.annotate")
        with store.write_session(self.engine) as session:
            annotation = qa_store.get_annotation(session=session, annotation_id=annotation_id)
            if annotation is None:
                return False
            self._readable(session, actor, annotation.conversation_id)
            return qa_store.remove_annotation(session=session, annotation_id=annotation_id)

    def _annotate(
        self, actor: Actor, conversation_id: int, kind: str, text: str, message_id: int | None
    ) -> AnnotationView:
        self.access.require(actor, "qa.annotate")
        with _translated(), store.write_session(self.engine) as session:
            self._readable(session, actor, conversation_id)
            row = qa_store.add_annotation(
                session=session,
                conversation_id=conversation_id,
                kind=kind,
                text=text,
                created_by=actor.username,
                message_id=message_id,
            )
            return _annotation(row)

    # -- the golden set ----------------------------------------------------------------------

    def set_golden(
        self, actor: Actor, conversation_id: int, golden: bool, *, note: str | None = None
    ) -> bool:
        """Add the conversation to the golden set (or take it out); returns whether it is in."""
        self.access.require(actor, "qa.annotate")
        with _translated(), store.write_session(self.engine) as session:
            self._readable(session, actor, conversation_id)
            if golden:
                qa_store.add_golden(
                    session=session, conversation_id=conversation_id, added_by=actor.username, note=note
                )
            else:
                qa_store.remove_golden(session=session, conversation_id=conversation_id)
        return golden

    def is_golden(self, actor: Actor, conversation_id: int) -> bool:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return qa_store.is_golden(session=session, conversation_id=conversation_id)

    def golden_conversations(self, actor: Actor) -> list[GoldenView]:
        """Newest first."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            found = qa_store.list_golden_conversations(session=session)
        return [_golden(conversation, case) for case, conversation in found]

    def _readable(self, session: Any, actor: Actor, conversation_id: int) -> store.Conversation:
        """The conversation, if the actor may read it; one message for missing and hidden.
        Annotating asks for read access too: a note or a tag is QA's, not a change to the
        conversation (which QA may not make)."""
        row = store.get_conversation(session=session, conversation_id=conversation_id)
        message = f"Conversation {conversation_id} does not exist (it may have been deleted)."
        return self.access.conversation(actor, row, message=message)  # type: ignore[return-value]

    # -- building the view -------------------------------------------------------------------

    def _view(self, record: ConversationRecord) -> TranscriptView:
        c = record.conversation
        prompt, problem = self._system_prompt(c)
        by_message: dict[int | None, list[AnnotationView]] = {}
        for row in record.annotations:
            by_message.setdefault(row.message_id, []).append(_annotation(row))

        def of_kind(message_id: int | None, kind: str) -> tuple[AnnotationView, ...]:
            return tuple(a for a in by_message.get(message_id, ()) if a.kind == kind)

        messages = tuple(
            MessageView(
                **{name: getattr(m, name) for name in _MESSAGE_FIELDS},
                cost_usd=record.cost_usd.get(m.id),  # type: ignore[arg-type]
                feedback=tuple(_feedback(f) for f in record.feedback.get(m.id, ())),  # type: ignore[arg-type]
                notes=of_kind(m.id, qa_store.NOTE),
                tags=of_kind(m.id, qa_store.TAG),
            )
            for m in record.messages
        )
        return TranscriptView(
            id=c.id,  # type: ignore[arg-type]
            title=c.title,
            persona=c.persona,
            persona_version=c.persona_version,
            persona_vars=dict(c.persona_vars),
            owner=c.owner,
            created_at=c.created_at,
            updated_at=c.updated_at,
            archived=c.archived,
            system_prompt=prompt,
            persona_problem=problem,
            messages=messages,
            notes=of_kind(None, qa_store.NOTE),
            tags=of_kind(None, qa_store.TAG),
            golden=_golden(c, record.golden) if record.golden else None,
        )

    def _system_prompt(self, c: store.Conversation) -> tuple[str | None, str | None]:
        if c.persona_version is None:
            return None, "No persona version was pinned: the conversation has no replies yet."
        try:
            spec = self.personas.spec(c.persona, c.persona_version)
            return spec.system_prompt(c.persona_vars), None
        except ChatbotError as error:  # deleted persona or version, or a template gone bad
            return None, f"The system prompt cannot be shown: {error.user_message}"


_MESSAGE_FIELDS = tuple(
    name
    for name in MessageView.__dataclass_fields__
    if name not in {"cost_usd", "feedback", "notes", "tags"}
)


def _feedback(row: Any) -> FeedbackView:
    return FeedbackView(owner=row.owner, rating=row.rating, comment=row.comment, updated_at=row.updated_at)


def _annotation(row: Any) -> AnnotationView:
    return AnnotationView(
        id=row.id,
        kind=row.kind,
        text=row.text,
        created_by=row.created_by,
        created_at=row.created_at,
        message_id=row.message_id,
    )


def _golden(c: store.Conversation, case: Any) -> GoldenView:
    return GoldenView(
        conversation_id=c.id,  # type: ignore[arg-type]
        title=c.title,
        persona=c.persona,
        persona_version=c.persona_version,
        owner=c.owner,
        added_by=case.added_by,
        added_at=case.added_at,
        note=case.note,
    )


def _clean_filters(filters: SearchFilters) -> SearchFilters:
    """Tags compare normalised, as stored; a bad tag is an InputError, not "no results"."""
    if not filters.tags:
        return filters
    with _translated():
        tags = tuple(dict.fromkeys(qa_store.normalize_tag(t) for t in filters.tags))
    return replace(filters, tags=tags)


@contextmanager
def _translated() -> Iterator[None]:
    """The store's errors, as messages a person reads (the boundary of this service)."""
    try:
        yield
    except (qa_store.QAInputError, QueryError) as error:
        raise InputError(str(error)) from None
    except store.NotFoundError as error:
        text = str(error)
        raise NotFoundError(text[:1].upper() + text[1:] + " (it may have been deleted).") from None
