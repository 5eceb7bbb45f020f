"""Ticket summaries of conversations: every run is kept, the newest is the current card."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from chatbot.store.ops_models import TicketSummary


def add_ticket_summary(
    *,
    session: Session,
    conversation_id: int,
    through_message_id: int | None,
    model: str,
    data: dict[str, Any],
    created_by: str,
) -> TicketSummary:
    row = TicketSummary(
        conversation_id=conversation_id,
        through_message_id=through_message_id,
        model=model,
        data=data,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def latest_ticket_summary(*, session: Session, conversation_id: int) -> TicketSummary | None:
    query = (
        select(TicketSummary)
        .where(TicketSummary.conversation_id == conversation_id)
        .order_by(col(TicketSummary.created_at).desc(), col(TicketSummary.id).desc())
        .limit(1)
    )
    return session.exec(query).first()
