"""Table models: conversations, their messages, one record per API call, and personas
with their immutable versions.

Enum-like columns are plain strings in the database (adding a value never needs a
table rebuild on SQLite); the allowed values live once, in the StrEnums below, and
the CRUD functions check them.

The schema itself is owned by the Alembic migrations in ``migrations/versions``;
``tests/store/test_store_migrations.py`` checks that these models and the migrated
schema agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

DEFAULT_TITLE = "New conversation"
# Owner of every row written before sign-in existed (migration 0008): one shared account
# that cannot sign in, whose conversations an admin can hand to a real person.
PLACEHOLDER_USERNAME = "before-sign-in"
# Rows the application writes on its own behalf (shipped personas seeded at start).
SYSTEM_USERNAME = "system"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"  # the stream stopped early; what arrived is kept
    ERROR = "error"  # nothing usable arrived; `error` says why
    STREAMING = "streaming"  # a reply in progress


class ApiCallOutcome(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    ERROR = "error"


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no timezone type: SQLAlchemy writes the wall-clock digits and drops
    the offset, so an aware datetime in another zone would be stored wrong and come
    back naive. This stores UTC everywhere and always returns aware UTC datetimes.
    Naive datetimes are refused because their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        # SQLite stores text; keep it offset-free so string comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _timestamp() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class Conversation(SQLModel, table=True):
    """One chat thread an agent holds with the assistant under one persona."""

    __tablename__ = "conversation"
    __table_args__ = (
        # list_conversations: newest first, optionally per owner.
        Index("ix_conversation_updated_at", "updated_at"),
        Index("ix_conversation_owner_updated_at", "owner", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default=DEFAULT_TITLE, nullable=False)
    # True once someone renames it, so the auto-title never overwrites their choice.
    title_locked: bool = Field(default=False, nullable=False)
    persona: str = Field(nullable=False)
    persona_version: int | None = None
    # MutableDict: `conversation.persona_vars["order_id"] = ...` is saved like a reassignment.
    persona_vars: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(MutableDict.as_mutable(JSON), nullable=False)
    )
    owner: str = Field(default=PLACEHOLDER_USERNAME, nullable=False)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()  # bumped whenever a message is added or changed
    archived: bool = Field(default=False, nullable=False)


class Message(SQLModel, table=True):
    """One turn of a conversation; `position` orders them 0, 1, 2, ..."""

    __tablename__ = "message"
    __table_args__ = (
        # Also the index for "messages of a conversation" and for the cascade.
        UniqueConstraint(
            "conversation_id", "position", name="uq_message_conversation_id_position"
        ),
        # Start-up sweep for replies interrupted by a restart.
        Index("ix_message_status_updated_at", "status", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey(
                "conversation.id",
                ondelete="CASCADE",
                name="fk_message_conversation_id_conversation",
            ),
            nullable=False,
        )
    )
    position: int = Field(nullable=False)
    role: str = Field(nullable=False)  # a MessageRole
    content: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default=MessageStatus.COMPLETE.value, nullable=False)  # a MessageStatus
    error: str | None = None  # user-facing text when status is error/partial
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    # Turns of history left out of the request for this reply (context budget). Added in 0002.
    context_dropped: int | None = None
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ApiCall(SQLModel, table=True):
    """One request to the Messages API, kept for accounting even after its conversation goes."""

    __tablename__ = "api_call"
    __table_args__ = (
        Index("ix_api_call_created_at", "created_at"),
        # Both FKs are SET NULL: without these indexes every deleted conversation
        # or message would scan the whole table.
        Index("ix_api_call_conversation_id", "conversation_id"),
        Index("ix_api_call_message_id", "message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _timestamp()
    conversation_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(
                "conversation.id",
                ondelete="SET NULL",
                name="fk_api_call_conversation_id_conversation",
            ),
            nullable=True,
        ),
    )
    message_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(
                "message.id", ondelete="SET NULL", name="fk_api_call_message_id_message"
            ),
            nullable=True,
        ),
    )
    owner: str = Field(default=PLACEHOLDER_USERNAME, nullable=False)
    purpose: str = Field(default="chat", nullable=False)
    model: str = Field(nullable=False)
    outcome: str = Field(nullable=False)  # an ApiCallOutcome
    status_code: int | None = None
    error_type: str | None = None
    input_tokens: int = Field(default=0, nullable=False)
    output_tokens: int = Field(default=0, nullable=False)
    cache_creation_input_tokens: int = Field(default=0, nullable=False)
    cache_read_input_tokens: int = Field(default=0, nullable=False)
    ttft_ms: float | None = None
    total_ms: float | None = None
    attempts: int = Field(default=1, nullable=False)
    request_id: str | None = None
    cache_hit: bool = Field(default=False, nullable=False)
    cost_usd: float | None = None


class Persona(SQLModel, table=True):
    """A persona's identity and state; its content lives in its versions.

    `name` and `description` copy the latest version's, so lists need no JSON.
    """

    __tablename__ = "persona"
    __table_args__ = (UniqueConstraint("key", name="uq_persona_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(nullable=False)  # permanent; conversations refer to it
    name: str = Field(nullable=False)
    description: str = Field(default="", nullable=False)
    archived: bool = Field(default=False, nullable=False)
    # A version NUMBER of this persona (not a persona_version.id); None: nothing published.
    published_version: int | None = None
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class PersonaVersion(SQLModel, table=True):
    """One immutable version of a persona: `spec` is `PersonaSpec.to_dict()`."""

    __tablename__ = "persona_version"
    __table_args__ = (
        # Also the index for "versions of a persona" and for the cascade.
        UniqueConstraint("persona_id", "number", name="uq_persona_version_persona_id_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    persona_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey(
                "persona.id", ondelete="CASCADE", name="fk_persona_version_persona_id_persona"
            ),
            nullable=False,
        )
    )
    number: int = Field(nullable=False)  # 1, 2, 3, ... per persona
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(nullable=False)
    created_at: datetime = _timestamp()
    note: str | None = None
