"""Budgets, their alerts, app settings, and the spend sums budgets are checked against.

    with write_session(engine) as session:
        set_budget(session=session, user="", period="day", limit_usd=5.0, updated_by="admin")
    with read_session(engine) as session:
        today = spend(session=session, since=day_start, until=day_end, owner="ana")

Spend is summed in SQL over the ``created_at`` range (``ix_api_call_created_at``). A call
with no price (``cost_usd`` NULL) adds nothing to ``spent_usd`` but is counted in
``unpriced``, so a caller can flag it instead of taking it for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from chatbot.store.models import ApiCall, utc_now
from chatbot.store.ops_models import AppSetting, Budget, BudgetAlert


@dataclass(frozen=True)
class Spend:
    """What a set of API calls cost: priced calls summed, unpriced ones counted."""

    spent_usd: float = 0.0
    calls: int = 0
    unpriced: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.spent_usd + other.spent_usd,
            self.calls + other.calls,
            self.unpriced + other.unpriced,
        )


@dataclass(frozen=True)
class SpendRow:
    """One API call as budgets see it (for incremental sums)."""

    id: int
    created_at: datetime
    owner: str
    cost_usd: float | None


# -- budgets -----------------------------------------------------------------------------


def list_budgets(*, session: Session) -> list[Budget]:
    """Everyone's budgets first, then per user; days before months."""
    query = select(Budget).order_by(col(Budget.user), col(Budget.period))
    return list(session.exec(query).all())


def find_budget(*, session: Session, user: str, period: str) -> Budget | None:
    return session.exec(select(Budget).where(Budget.user == user, Budget.period == period)).first()


def get_budget(*, session: Session, budget_id: int) -> Budget | None:
    return session.get(Budget, budget_id)


def set_budget(
    *, session: Session, user: str, period: str, limit_usd: float, updated_by: str
) -> Budget:
    """Create the (user, period) budget or change its limit. Values are checked by callers."""
    budget = find_budget(session=session, user=user, period=period)
    if budget is None:
        budget = Budget(user=user, period=period, limit_usd=limit_usd, updated_by=updated_by)
    else:
        budget.limit_usd = limit_usd
        budget.updated_by = updated_by
        budget.updated_at = utc_now()
    session.add(budget)
    session.flush()
    return budget


def remove_budget(*, session: Session, budget_id: int) -> bool:
    """Delete a budget (its alerts go with it, ON DELETE CASCADE). False if it was gone."""
    result = session.execute(delete(Budget).where(col(Budget.id) == budget_id))
    return bool(result.rowcount)


# -- spend -------------------------------------------------------------------------------


def _in_range(since: datetime, until: datetime) -> list[Any]:
    return [col(ApiCall.created_at) >= since, col(ApiCall.created_at) < until]


def spend(
    *, session: Session, since: datetime, until: datetime, owner: str | None = None
) -> Spend:
    """Spend of every call (or one owner's) with since <= created_at < until."""
    query = select(
        func.coalesce(func.sum(ApiCall.cost_usd), 0.0),
        func.count(),
        func.count() - func.count(ApiCall.cost_usd),
    ).where(*_in_range(since, until))
    if owner is not None:
        query = query.where(ApiCall.owner == owner)
    spent, calls, unpriced = session.exec(query).one()
    return Spend(float(spent), int(calls), int(unpriced))


def spend_by_owner(
    *, session: Session, since: datetime, until: datetime, inside: tuple[datetime, datetime]
) -> dict[tuple[str, bool], Spend]:
    """Spend per (owner, whether created_at falls in `inside`) over since..until, in one
    range scan: a month and the day in it are summed together, so checking both kinds of
    budget reads the month's rows once."""
    within = case(
        (and_(col(ApiCall.created_at) >= inside[0], col(ApiCall.created_at) < inside[1]), 1),
        else_=0,
    )
    query = (
        select(
            ApiCall.owner,
            within,
            func.coalesce(func.sum(ApiCall.cost_usd), 0.0),
            func.count(),
            func.count() - func.count(ApiCall.cost_usd),
        )
        .where(*_in_range(since, until))
        .group_by(ApiCall.owner, within)
    )
    return {
        (owner, bool(is_within)): Spend(float(spent), int(calls), int(unpriced))
        for owner, is_within, spent, calls, unpriced in session.exec(query).all()
    }


def last_api_call_id(*, session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(ApiCall.id), 0))).one())


def api_calls_after(*, session: Session, after_id: int) -> list[SpendRow]:
    """Calls recorded after `after_id`, by primary key: cheap however big the table is."""
    query = (
        select(ApiCall.id, ApiCall.created_at, ApiCall.owner, ApiCall.cost_usd)
        .where(col(ApiCall.id) > after_id)
        .order_by(col(ApiCall.id))
    )
    return [SpendRow(*row) for row in session.exec(query).all()]


# -- alerts ------------------------------------------------------------------------------


def record_alert(
    *,
    session: Session,
    budget_id: int,
    period_start: datetime,
    threshold: int,
    spent_usd: float,
    limit_usd: float,
) -> bool:
    """Record that a budget crossed `threshold` in the period starting `period_start`.
    True if this call recorded it; False if it already was (uq_budget_alert_once), which
    is how two processes crossing the line together still raise it once."""
    # A savepoint instead of a dialect's ON CONFLICT: it works on every backend, and the
    # unique constraint, not a read-then-write, is what decides.
    try:
        with session.begin_nested():
            session.add(
                BudgetAlert(
                    budget_id=budget_id,
                    period_start=period_start,
                    threshold=threshold,
                    spent_usd=spent_usd,
                    limit_usd=limit_usd,
                )
            )
    except IntegrityError:
        return False
    return True


def alerts_in_period(
    *, session: Session, period_starts: list[datetime]
) -> set[tuple[int, datetime, int]]:
    """(budget_id, period_start, threshold) of the alerts already raised in these periods."""
    query = select(BudgetAlert.budget_id, BudgetAlert.period_start, BudgetAlert.threshold).where(
        col(BudgetAlert.period_start).in_(period_starts)
    )
    return {tuple(row) for row in session.exec(query).all()}  # type: ignore[misc]


def list_alerts(*, session: Session, limit: int = 50) -> list[tuple[BudgetAlert, Budget]]:
    """The newest alerts with their budgets."""
    query = (
        select(BudgetAlert, Budget)
        .join(Budget, col(Budget.id) == BudgetAlert.budget_id)
        .order_by(col(BudgetAlert.created_at).desc(), col(BudgetAlert.id).desc())
        .limit(limit)
    )
    return [(alert, budget) for alert, budget in session.exec(query).all()]


# -- app settings ------------------------------------------------------------------------


def get_setting(*, session: Session, key: str, default: Any = None) -> Any:
    setting = session.get(AppSetting, key)
    return default if setting is None else setting.value


def set_setting(*, session: Session, key: str, value: Any, updated_by: str) -> AppSetting:
    setting = session.get(AppSetting, key)
    if setting is None:
        setting = AppSetting(key=key, value=value, updated_by=updated_by)
    else:
        setting.value = value
        setting.updated_by = updated_by
        setting.updated_at = utc_now()
    session.add(setting)
    session.flush()
    return setting
