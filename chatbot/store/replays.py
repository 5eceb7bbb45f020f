"""Replay runs and their per-turn results, as stored.

Functions flush but never commit; call the writing ones inside ``write_session``. A result
is written with its check outcomes and the run's counters in one transaction, so a run
read at any moment has counters that agree with its results. (run_id, source_message_id)
is unique: that is what lets a resumed run skip the turns it already has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from chatbot.store.models import Conversation
from chatbot.store.qa_models import CheckResult, GoldenCase, ReplayResult, ReplayRun

_RUN_FIELDS = frozenset(
    {"status", "error", "finished_at", "turns_total", "turns_done", "persona_version", "provider_batch_id"}
)


def create_run(*, session: Session, **fields: Any) -> ReplayRun:
    fields.setdefault("status", "pending")
    run = ReplayRun(**fields)
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: int) -> ReplayRun | None:
    return session.get(ReplayRun, run_id)


def list_runs(*, session: Session, limit: int = 50) -> list[ReplayRun]:
    query = select(ReplayRun).order_by(col(ReplayRun.created_at).desc(), col(ReplayRun.id).desc())
    return list(session.exec(query.limit(limit)).all())


def set_run(*, session: Session, run_id: int, **fields: Any) -> None:
    unknown = set(fields) - _RUN_FIELDS
    if unknown:
        raise TypeError(f"unknown replay_run fields: {', '.join(sorted(unknown))}")
    session.execute(update(ReplayRun).where(col(ReplayRun.id) == run_id).values(**fields))


def result_sources(*, session: Session, run_id: int) -> dict[int, str]:
    """source_message_id -> status of every turn the run already has."""
    query = select(ReplayResult.source_message_id, ReplayResult.status).where(ReplayResult.run_id == run_id)
    return {source: status for source, status in session.exec(query).all()}


def delete_error_results(*, session: Session, run_id: int) -> int:
    """Forget the turns that failed outright (nothing billed), so a resume tries them again."""
    found = session.execute(
        delete(ReplayResult).where(col(ReplayResult.run_id) == run_id, col(ReplayResult.status) == "error")
    )
    return found.rowcount or 0


def recount(*, session: Session, run_id: int) -> int:
    done = session.exec(
        select(func.count()).select_from(ReplayResult).where(ReplayResult.run_id == run_id)
    ).one()
    set_run(session=session, run_id=run_id, turns_done=int(done))
    return int(done)


def add_result(
    *,
    session: Session,
    checks: Iterable[tuple[int, bool, str | None]] = (),
    run_cost_usd: float = 0.0,
    **fields: Any,
) -> ReplayResult:
    """Store one replayed turn, its check outcomes (check_id, passed, detail), and count it
    (and what it cost, judge calls included) on its run."""
    result = ReplayResult(**fields)
    session.add(result)
    session.flush()
    for check_id, passed, detail in checks:
        session.add(CheckResult(result_id=result.id, check_id=check_id, passed=passed, detail=detail))
    # Increments in SQL: several batch threads finish turns of one run at once.
    session.execute(
        update(ReplayRun)
        .where(col(ReplayRun.id) == result.run_id)
        .values(turns_done=ReplayRun.turns_done + 1, cost_usd=ReplayRun.cost_usd + run_cost_usd)
    )
    session.flush()
    return result


def add_run_cost(*, session: Session, run_id: int, cost_usd: float) -> None:
    """Spend that belongs to no stored turn (a call whose result could not be kept)."""
    session.execute(
        update(ReplayRun).where(col(ReplayRun.id) == run_id).values(cost_usd=ReplayRun.cost_usd + cost_usd)
    )


def list_results(*, session: Session, run_id: int) -> list[ReplayResult]:
    query = (
        select(ReplayResult)
        .where(ReplayResult.run_id == run_id)
        .order_by(col(ReplayResult.conversation_id), col(ReplayResult.position))
    )
    return list(session.exec(query).all())


def check_results(*, session: Session, result_ids: Sequence[int]) -> dict[int, list[CheckResult]]:
    found: dict[int, list[CheckResult]] = {}
    if not result_ids:
        return found
    query = select(CheckResult).where(col(CheckResult.result_id).in_(list(result_ids)))
    for row in session.exec(query.order_by(col(CheckResult.id))).all():
        found.setdefault(row.result_id, []).append(row)
    return found


def golden_conversation_ids(*, session: Session) -> list[int]:
    query = select(GoldenCase.conversation_id).order_by(col(GoldenCase.conversation_id))
    return list(session.exec(query).all())


@dataclass(frozen=True)
class GradeRow:
    """One replayed turn and, when it has one, one check outcome of it."""

    run_id: int
    persona: str
    persona_version: int | None
    model: str | None
    result_id: int
    status: str
    check_id: int | None
    passed: bool | None


def grade_rows(*, session: Session, persona: str | None = None) -> list[GradeRow]:
    """Every replayed turn of every run with its check outcomes, for pass rates. The
    persona is the run's target, else the conversation's own."""
    key = func.coalesce(ReplayRun.persona, Conversation.persona)
    query = (
        select(
            ReplayResult.run_id, key, ReplayResult.persona_version, ReplayResult.model, ReplayResult.id,
            ReplayResult.status, CheckResult.check_id, CheckResult.passed,
        )
        .join(ReplayRun, col(ReplayRun.id) == col(ReplayResult.run_id))
        .join(Conversation, col(Conversation.id) == col(ReplayResult.conversation_id))
        .outerjoin(CheckResult, col(CheckResult.result_id) == col(ReplayResult.id))
    )
    if persona is not None:
        query = query.where(key == persona)
    return [GradeRow(*row) for row in session.exec(query).all()]
