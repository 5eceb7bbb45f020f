"""Budgets: daily and monthly spending caps, their alerts, and what happens over budget.

    service.py  BudgetService: admins set budgets; every call is checked and counted
    rules.py    the pure core: periods, levels, validation, the words people read
    sums.py     the spend the budgets count, kept in memory
"""

from .rules import (
    MAX_LIMIT_USD,
    PERIODS,
    POLICIES,
    THRESHOLDS,
    BudgetExceeded,
    BudgetStatus,
    level,
    newly_crossed,
    period_end,
    period_start,
)
from .service import AlertRow, BudgetService

__all__ = [
    "MAX_LIMIT_USD",
    "PERIODS",
    "POLICIES",
    "THRESHOLDS",
    "AlertRow",
    "BudgetExceeded",
    "BudgetService",
    "BudgetStatus",
    "level",
    "newly_crossed",
    "period_end",
    "period_start",
]
