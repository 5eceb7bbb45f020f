"""The spend the budgets count, in memory: per period, period start and owner (and for
everyone together). `BudgetService` builds it from one scan of the month and keeps it
current from the calls recorded since (see service.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chatbot import store
from chatbot.store.budgets import Spend, SpendRow

from .rules import DEFAULT_POLICY, PERIODS, BudgetStatus, period_end, period_start


@dataclass
class Sums:
    """Spend per (period, period start, owner); owner None is everyone together."""

    covered_from: datetime  # the month the full scan started at; earlier is unknown
    last_id: int
    built_at: float
    refreshed_at: float
    budgets: list[store.Budget] = field(default_factory=list)
    policy: str = DEFAULT_POLICY
    spend: dict[tuple[str, datetime, str | None], Spend] = field(default_factory=dict)
    raised: set[tuple[int, datetime, int]] = field(default_factory=set)

    def add(self, period: str, start: datetime, owner: str, spent: Spend) -> None:
        for key in ((period, start, owner), (period, start, None)):
            self.spend[key] = self.spend.get(key, Spend()) + spent

    def take(self, row: SpendRow) -> None:
        one = Spend(row.cost_usd or 0.0, 1, int(row.cost_usd is None))
        for period in PERIODS:
            self.add(period, period_start(period, row.created_at), row.owner, one)

    def status(self, budget: store.Budget, now: datetime) -> BudgetStatus:
        start = period_start(budget.period, now)
        spent = self.spend.get((budget.period, start, budget.user or None), Spend())
        return BudgetStatus(
            budget_id=budget.id,  # type: ignore[arg-type]
            user=budget.user,
            period=budget.period,
            limit_usd=budget.limit_usd,
            spent_usd=spent.spent_usd,
            calls=spent.calls,
            unpriced_calls=spent.unpriced,
            period_start=start,
            resets_at=period_end(budget.period, now),
        )

    def applicable(self, owner: str, now: datetime) -> list[BudgetStatus]:
        """The statuses of the budgets that apply to `owner`: everyone's and their own."""
        return [self.status(b, now) for b in self.budgets if b.user in ("", owner)]
