"""The audit log service: what happened, who did it, from where, and a short before/after.

    audit.record(actor, "persona.publish", target="persona:support v4", detail="v3 -> v4")
    with store.write_session(engine) as session:   # or inside the change's own transaction
        audit.append(session, actor, "user.role", target="user:bob", detail="agent -> qa")

Entries written with the change they describe (`append`) commit or roll back with it, so
the log never claims what did not happen. Reading it is for admins (`page`, `csv`).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.spreadsheet import csv_cell
from chatbot.store.audit import AuditFilter, append_audit, count_audit, iter_audit, list_audit

from .policy import AccessDenied, can
from .roles import Actor

# Every action the app records, with how an admin reads it. The Audit page filters by these.
ACTIONS: dict[str, str] = {
    "signin.success": "Signed in",
    "signin.failure": "Sign-in failed",
    "signin.throttled": "Sign-in throttled",
    "signout": "Signed out",
    "session.expired": "Session expired",
    "setup.admin": "First admin created",
    "setup.refused": "Setup link refused",
    "user.create": "Person added",
    "user.role": "Role changed",
    "user.disable": "Person disabled",
    "user.enable": "Person enabled",
    "user.password": "Password reset",
    "user.update": "Person edited",
    "user.reassign": "Conversations reassigned",
    "persona.create": "Persona created",
    "persona.save": "Persona saved",
    "persona.publish": "Persona published",
    "persona.restore": "Persona version restored",
    "persona.archive": "Persona archived or restored",
    "persona.import": "Personas imported",
    "persona.export": "Personas exported",
    "budget.set": "Budget set",
    "budget.remove": "Budget removed",
    "setting.change": "Setting changed",
    "check.create": "Check created",
    "check.update": "Check changed",
    "check.archive": "Check archived or restored",
    "replay.start": "Replay started",
    "replay.resume": "Replay resumed",
    "replay.cancel": "Replay cancelled",
    "conversation.export": "Conversations exported",
    "conversation.import": "Conversations imported",
    "conversation.delete": "Conversation deleted",
    "access.denied": "Refused by role",
    "network.refused": "Refused by address",
    "header.untrusted": "User header from an untrusted address",
}

# Refusals are recorded, but one noisy client must not write the log full: at most this
# many refusal entries per actor (or address) per minute; the rest are counted in the last.
REFUSALS_PER_MINUTE = 20


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    role: str
    address: str
    action: str
    label: str
    target: str
    detail: str


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int  # matching entries, capped at COUNT_CAP
    next_before: int | None  # pass as `before_id` for the next (older) page

    @property
    def total_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.total >= COUNT_CAP else f"{self.total:,}"


COUNT_CAP = 10_000


def _row(entry: store.AuditEntry) -> AuditRow:
    return AuditRow(
        id=entry.id or 0, at=entry.created_at, actor=entry.actor, role=entry.role,
        address=entry.address, action=entry.action, label=ACTIONS.get(entry.action, entry.action),
        target=entry.target, detail=entry.detail,
    )


class _Throttle:
    """Allow `limit` events per key per minute, in memory (a refusal flood is local)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= 60:
                start, count = now, 0
            self._windows[key] = (start, count + 1)
            if len(self._windows) > 10_000:  # forget quiet keys
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < 60}
            return count < self.limit


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._refusals = _Throttle(REFUSALS_PER_MINUTE)

    @staticmethod
    def append(
        session: Any, actor: Actor | None, action: str, *, target: str = "", detail: str = "",
        address: str | None = None,
    ) -> None:
        """Record inside the caller's write transaction (it commits with the change)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        append_audit(
            session=session, action=action,
            actor=actor.username if actor else "", role=actor.role.value if actor else "",
            address=address if address is not None else (actor.address if actor else ""),
            target=target, detail=detail,
        )

    def record(
        self, actor: Actor | None, action: str, *, target: str = "", detail: str = "",
        address: str | None = None,
    ) -> None:
        """Record in a transaction of its own (sign-ins, refusals, reads such as exports)."""
        with store.write_session(self.engine) as session:
            self.append(session, actor, action, target=target, detail=detail, address=address)

    def refusal(
        self, actor: Actor | None, action: str, *, target: str = "", detail: str = "",
        address: str | None = None,
    ) -> None:
        """A refused request, recorded unless this actor or address is flooding."""
        key = actor.username if actor else f"@{address or ''}"
        if self._refusals.allow(key):
            self.record(actor, action, target=target, detail=detail, address=address)

    # -- reading: admins only ------------------------------------------------------------

    def _require_reader(self, actor: Actor) -> None:
        if not can(actor, "audit.read"):
            self.refusal(actor, "access.denied", target="audit", detail="audit.read")
            raise AccessDenied(actor, "audit.read")

    def page(
        self, actor: Actor, filters: AuditFilter, *, before_id: int | None = None, limit: int = 50
    ) -> AuditPage:
        """A page of matching entries, newest first (keyset paging on `before_id`)."""
        self._require_reader(actor)
        with store.read_session(self.engine) as session:
            rows = list_audit(session=session, filters=filters, limit=limit + 1, before_id=before_id)
            total = count_audit(session=session, filters=filters, cap=COUNT_CAP)
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage([_row(r) for r in rows], total, rows[-1].id if more and rows else None)

    def csv(self, actor: Actor, filters: AuditFilter) -> str:
        self._require_reader(actor)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at_utc", "actor", "role", "address", "action", "target", "detail"])
        with store.read_session(self.engine) as session:
            for entry in iter_audit(session=session, filters=filters):
                writer.writerow([csv_cell(v) for v in (
                    entry.id, entry.created_at, entry.actor, entry.role,
                    entry.address, entry.action, entry.target, entry.detail,
                )])
        return out.getvalue()
