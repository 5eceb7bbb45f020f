"""What QA reads: frozen views of a conversation with everything recorded per reply
(tokens, cost, latencies, ratings, notes, tags, the rendered system prompt), built from
the store's loaded records. Never ORM rows: a page can keep them without a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatbot import store
from chatbot.errors import ChatbotError
from chatbot.store import qa as qa_store
from chatbot.store.qa_records import ConversationRecord

from .personas import PersonaService


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


def transcript_view(record: ConversationRecord, personas: PersonaService) -> TranscriptView:
    """Everything QA reads of one conversation, from its loaded record."""
    c = record.conversation
    prompt, problem = _system_prompt(c, personas)
    by_message: dict[int | None, list[AnnotationView]] = {}
    for row in record.annotations:
        by_message.setdefault(row.message_id, []).append(annotation_view(row))

    def of_kind(message_id: int | None, kind: str) -> tuple[AnnotationView, ...]:
        return tuple(a for a in by_message.get(message_id, ()) if a.kind == kind)

    messages = tuple(
        MessageView(
            **{name: getattr(m, name) for name in _MESSAGE_FIELDS},
            cost_usd=record.cost_usd.get(m.id),  # type: ignore[arg-type]
            feedback=tuple(feedback_view(f) for f in record.feedback.get(m.id, ())),  # type: ignore[arg-type]
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
        golden=golden_view(c, record.golden) if record.golden else None,
    )

def _system_prompt(c: store.Conversation, personas: PersonaService) -> tuple[str | None, str | None]:
    if c.persona_version is None:
        return None, "No persona version was pinned: the conversation has no replies yet."
    try:
        spec = personas.spec(c.persona, c.persona_version)
        return spec.system_prompt(c.persona_vars), None
    except ChatbotError as error:  # deleted persona or version, or a template gone bad
        return None, f"The system prompt cannot be shown: {error.user_message}"


_MESSAGE_FIELDS = tuple(
    name
    for name in MessageView.__dataclass_fields__
    if name not in {"cost_usd", "feedback", "notes", "tags"}
)


def feedback_view(row: Any) -> FeedbackView:
    return FeedbackView(owner=row.owner, rating=row.rating, comment=row.comment, updated_at=row.updated_at)


def annotation_view(row: Any) -> AnnotationView:
    return AnnotationView(
        id=row.id,
        kind=row.kind,
        text=row.text,
        created_by=row.created_by,
        created_at=row.created_at,
        message_id=row.message_id,
    )


def golden_view(c: store.Conversation, case: Any) -> GoldenView:
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
