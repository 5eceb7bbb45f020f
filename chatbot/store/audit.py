"""The audit log: append an entry, read a filtered page of entries. Nothing here (or
anywhere) changes or deletes one; the database refuses it too (migration 0008)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from .auth_models import AuditEntry
from .models import utc_now

# Bounds on what one entry holds: the log records what happened, not the payloads.
MAX_TARGET = 200
MAX_DETAIL = 1000


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("persona.")
    since: datetime | None = None
    until: datetime | None = None


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())  # one line: a log row, not a document
    return text if len(text) <= limit else text[: limit - 1] + "…"


def append_audit(
    *,
    session: Session,
    action: str,
    actor: str = "",
    role: str = "",
    address: str = "",
    target: str = "",
    detail: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        created_at=utc_now(), actor=actor, role=role, address=address or "", action=action,
        target=_clip(target, MAX_TARGET), detail=_clip(detail, MAX_DETAIL),
    )
    session.add(entry)
    session.flush()
    return entry


def _where(query, f: AuditFilter):  # type: ignore[no-untyped-def]
    if f.actor:
        query = query.where(AuditEntry.actor == f.actor)
    if f.action:
        if f.action.endswith("."):
            query = query.where(col(AuditEntry.action).startswith(f.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == f.action)
    if f.since is not None:
        query = query.where(AuditEntry.created_at >= f.since)
    if f.until is not None:
        query = query.where(AuditEntry.created_at < f.until)
    return query


def list_audit(
    *, session: Session, filters: AuditFilter, limit: int = 50, before_id: int | None = None
) -> list[AuditEntry]:
    """Newest first; `before_id` pages on (keyset paging: as cheap on page 500 as on 1)."""
    query = _where(select(AuditEntry), filters)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())


def count_audit(*, session: Session, filters: AuditFilter, cap: int = 10_000) -> int:
    """Matching entries, counted up to `cap` (so the count costs the same on a log of
    ten million entries as on one of ten thousand)."""
    capped = _where(select(AuditEntry.id), filters).limit(cap).subquery()
    return int(session.exec(select(func.count()).select_from(capped)).one())


def iter_audit(*, session: Session, filters: AuditFilter, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every matching entry, newest first, read in batches (for a CSV of any size)."""
    before: int | None = None
    while True:
        rows = list_audit(session=session, filters=filters, limit=batch, before_id=before)
        yield from rows
        if len(rows) < batch:
            return
        before = rows[-1].id


__all__ = ["AuditFilter", "append_audit", "count_audit", "iter_audit", "list_audit"]
