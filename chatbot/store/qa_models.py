"""Table models for quality assurance: agents' feedback on replies, QA notes and tags,
the golden set of regression conversations, reusable checks, and replay runs with their
per-turn results and check outcomes.

Full-text search over message content is an SQLite FTS5 table (`message_fts`) kept in
step by triggers; it has no model because SQLAlchemy cannot describe a virtual table
(see migration 0005_qa and `chatbot/store/search.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .models import UTCDateTime, _timestamp


def _fk(target: str, name: str, *, nullable: bool = False, primary_key: bool = False) -> Any:
    return Field(
        sa_column=Column(
            Integer,
            ForeignKey(target, ondelete="CASCADE", name=name),
            nullable=nullable,
            primary_key=primary_key,
        )
    )


class Feedback(SQLModel, table=True):
    """An agent's thumbs up (1) or down (-1) on a reply, with an optional comment; one per
    agent and reply (a second rating replaces the first)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "owner", name="uq_feedback_message_owner"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = _fk("message.id", "fk_feedback_message_id_message")
    owner: str = Field(nullable=False)
    rating: int = Field(nullable=False)
    comment: str | None = None
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Annotation(SQLModel, table=True):
    """A QA note or tag on a conversation, or on one reply of it (`message_id`)."""

    __tablename__ = "annotation"
    __table_args__ = (
        Index("ix_annotation_conversation_id", "conversation_id"),
        Index("ix_annotation_kind_text", "kind", "text"),  # "conversations tagged X"
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = _fk("conversation.id", "fk_annotation_conversation_id_conversation")
    message_id: int | None = _fk("message.id", "fk_annotation_message_id_message", nullable=True)
    kind: str = Field(nullable=False)  # "note" | "tag"
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(nullable=False)
    created_at: datetime = _timestamp()


class GoldenCase(SQLModel, table=True):
    """A conversation QA keep as a regression case: replayed against every draft persona."""

    __tablename__ = "golden_case"

    conversation_id: int = _fk(
        "conversation.id", "fk_golden_case_conversation_id_conversation", primary_key=True
    )
    added_by: str = Field(nullable=False)
    added_at: datetime = _timestamp()
    note: str | None = None


class QACheck(SQLModel, table=True):
    """A check defined once and reused on replayed replies: contains, not_contains, regex,
    max_length, json_schema or rubric (a judge call); `config` holds its parameters."""

    __tablename__ = "qa_check"
    __table_args__ = (UniqueConstraint("name", name="uq_qa_check_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(nullable=False)
    kind: str = Field(nullable=False)
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", nullable=False)
    archived: bool = Field(default=False, nullable=False)
    created_by: str = Field(nullable=False)
    created_at: datetime = _timestamp()


class ReplayRun(SQLModel, table=True):
    """Conversations re-sent, turn by turn, to a target persona version and/or model.
    A run is resumable: the turns already in `replay_result` are not sent again. An
    offline run sends them as one Message Batch (`provider_batch_id`) at half price."""

    __tablename__ = "replay_run"
    __table_args__ = (Index("ix_replay_run_created_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(default="", nullable=False)
    status: str = Field(nullable=False)  # pending | running | done | cancelled | failed
    # The target; None keeps what each conversation used.
    persona: str | None = None
    persona_version: int | None = None
    model: str | None = None
    conversation_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    check_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    turns_total: int = Field(default=0, nullable=False)
    turns_done: int = Field(default=0, nullable=False)
    estimated_cost_usd: float | None = None
    cost_usd: float = Field(default=0.0, nullable=False)
    error: str | None = None
    created_by: str = Field(nullable=False)
    created_at: datetime = _timestamp()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # "live" | "offline"; the server default keeps rows written before 0006 readable.
    mode: str = Field(default="live", sa_column_kwargs={"server_default": "live"}, nullable=False)
    # Kept before waiting on the batch, so a resume polls it rather than paying again.
    provider_batch_id: str | None = None


class ReplayResult(SQLModel, table=True):
    """The replayed reply to one user turn, beside the original reply it stands for."""

    __tablename__ = "replay_result"
    __table_args__ = (
        UniqueConstraint("run_id", "source_message_id", name="uq_replay_result_run_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = _fk("replay_run.id", "fk_replay_result_run_id_replay_run")
    conversation_id: int = _fk("conversation.id", "fk_replay_result_conversation_id_conversation")
    # The original assistant reply this turn produced (what the replay is compared with).
    source_message_id: int = _fk("message.id", "fk_replay_result_source_message_id_message")
    position: int = Field(nullable=False)
    status: str = Field(nullable=False)  # complete | partial | error
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    error: str | None = None
    model: str | None = None
    persona_version: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    request_id: str | None = None
    created_at: datetime = _timestamp()


class CheckResult(SQLModel, table=True):
    """One check's verdict on one replayed reply."""

    __tablename__ = "check_result"
    __table_args__ = (UniqueConstraint("result_id", "check_id", name="uq_check_result_once"),)

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = _fk("replay_result.id", "fk_check_result_result_id_replay_result")
    check_id: int = _fk("qa_check.id", "fk_check_result_check_id_qa_check")
    passed: bool = Field(nullable=False)
    detail: str | None = None
