"""Table models for running the service rather than holding conversations: ticket
summaries of conversations, spending budgets with the alerts they raised, and the few
settings admins change in the app (not in the environment).

Same rules as `models.py`: plain strings for enum-like columns, UTC timestamps, and the
schema owned by the migrations (0004_summaries_budgets).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .models import UTCDateTime, _timestamp


class TicketSummary(SQLModel, table=True):
    """A structured summary of a conversation (issue, category, sentiment, resolved, next
    steps). Every run is kept; the newest is the conversation's current card."""

    __tablename__ = "ticket_summary"
    __table_args__ = (Index("ix_ticket_summary_conversation_id", "conversation_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey(
                "conversation.id",
                ondelete="CASCADE",
                name="fk_ticket_summary_conversation_id_conversation",
            ),
            nullable=False,
        )
    )
    # The last message the summary covers: a card older than the conversation says so.
    through_message_id: int | None = None
    model: str = Field(nullable=False)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(nullable=False)
    created_at: datetime = _timestamp()


class Budget(SQLModel, table=True):
    """A spending cap in USD over a calendar day or month (UTC), for everyone together
    (`user` is "") or for one agent."""

    __tablename__ = "budget"
    __table_args__ = (UniqueConstraint("user", "period", name="uq_budget_user_period"),)

    id: int | None = Field(default=None, primary_key=True)
    user: str = Field(default="", nullable=False)
    period: str = Field(nullable=False)  # "day" | "month"
    limit_usd: float = Field(nullable=False)
    updated_by: str = Field(nullable=False)
    updated_at: datetime = _timestamp()


class BudgetAlert(SQLModel, table=True):
    """A budget crossing 50, 80 or 100 % in one period: raised once, kept for the record."""

    __tablename__ = "budget_alert"
    __table_args__ = (
        UniqueConstraint(
            "budget_id", "period_start", "threshold", name="uq_budget_alert_once"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("budget.id", ondelete="CASCADE", name="fk_budget_alert_budget_id_budget"),
            nullable=False,
        )
    )
    period_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    threshold: int = Field(nullable=False)  # 50, 80 or 100
    spent_usd: float = Field(nullable=False)
    limit_usd: float = Field(nullable=False)
    created_at: datetime = _timestamp()


class AppSetting(SQLModel, table=True):
    """A setting admins change in the app, as JSON (for example the over-budget policy)."""

    __tablename__ = "app_setting"

    key: str = Field(primary_key=True)
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(nullable=False)
    updated_at: datetime = _timestamp()
