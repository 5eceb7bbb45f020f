"""The pure core of budgets: periods, threshold levels, validation, and the words people
read about a budget. No I/O; `service.py` is the service around it, `sums.py` the
spend it counts.

    period_start("month", now)      # 1st of now's month, 00:00 UTC
    level(spent=4.2, limit=5.0)     # 80
    newly_crossed(100, {50})        # (80, 100)
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatbot.errors import InputError, StatedError

from ..usage import bucket_start

PERIODS = ("day", "month")
THRESHOLDS = (50, 80, 100)
POLICIES = ("warn", "stop")
POLICY_KEY = "over_budget_chat"
DEFAULT_POLICY = "warn"
CHAT = "chat"
# A limit above this is far more likely a slipped finger than a plan.
MAX_LIMIT_USD = 1_000_000.0
MAX_USER_CHARS = 100
ADJECTIVE = {"day": "daily", "month": "monthly"}


class BudgetExceeded(StatedError):
    """A call refused because a budget that applies to it is used up; nothing was sent."""

    def __init__(self, message: str, status: BudgetStatus) -> None:
        super().__init__(message)
        self.status = status


# -- the pure core -----------------------------------------------------------------------


def period_start(period: str, now: datetime) -> datetime:
    """The UTC midnight that starts `now`'s day, or its month's first day."""
    day = bucket_start(now, "day")
    return day if period == "day" else day.replace(day=1)


def period_end(period: str, now: datetime) -> datetime:
    """When the period containing `now` ends and its budget starts again from zero."""
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    return (start + timedelta(days=32)).replace(day=1)


def percent_used(spent: float, limit: float) -> float:
    # Rounded so that 0.1 + 0.7 of a $1 budget counts as the 80 % it is.
    return round(spent * 100 / limit, 9)


def level(spent: float, limit: float) -> int:
    """The highest threshold reached: 0 (below 50 %), 50, 80 or 100."""
    used = percent_used(spent, limit)
    return max((t for t in THRESHOLDS if used >= t), default=0)


def newly_crossed(reached: int, raised: set[int]) -> tuple[int, ...]:
    """The thresholds up to `reached` not raised yet in this period, lowest first."""
    return tuple(t for t in THRESHOLDS if t <= reached and t not in raised)


def clean_budget(user: str, period: str, limit_usd: object) -> tuple[str, str, float]:
    """The budget as it will be stored, or an `InputError` that says what to fix."""
    user = unicodedata.normalize("NFC", user or "").strip()
    if len(user) > MAX_USER_CHARS or any(unicodedata.category(c).startswith("C") for c in user):
        raise InputError(f"A user name is at most {MAX_USER_CHARS} printable characters.")
    if period not in PERIODS:
        raise InputError("Choose a daily or a monthly budget.")
    try:
        limit = float(limit_usd)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError("The limit must be a number of US dollars, such as 25 or 7.50.") from None
    if not math.isfinite(limit) or limit <= 0:
        raise InputError("The limit must be more than $0. To lift a budget, remove it.")
    if limit > MAX_LIMIT_USD:
        raise InputError(f"The limit must be at most ${MAX_LIMIT_USD:,.0f}; check the number.")
    return user, period, limit


def usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def _in(moment: datetime, now: datetime) -> str:
    left = max(moment - now, timedelta(0))
    minutes = math.ceil(left.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{math.ceil(minutes / (24 * 60))} days"


@dataclass(frozen=True)
class BudgetStatus:
    """One budget in its current period."""

    budget_id: int
    user: str  # "" = everyone
    period: str
    limit_usd: float
    spent_usd: float
    calls: int
    unpriced_calls: int
    period_start: datetime
    resets_at: datetime

    @property
    def fraction(self) -> float:
        return self.spent_usd / self.limit_usd

    @property
    def level(self) -> int:
        return level(self.spent_usd, self.limit_usd)

    @property
    def scope(self) -> str:
        return self.user or "everyone"

    @property
    def name(self) -> str:
        """"the daily budget for ana", to use inside a sentence."""
        return f"the {ADJECTIVE[self.period]} budget for {self.scope}"

    @property
    def label(self) -> str:
        """"Daily budget for ana", to head a line."""
        return f"{ADJECTIVE[self.period].title()} budget for {self.scope}"

    def figures(self) -> str:
        """"$4.20 of $5.00 (84%)", with the unpriced calls that are not in it."""
        text = f"{usd(self.spent_usd)} of {usd(self.limit_usd)} ({self.fraction:.0%})"
        if self.unpriced_calls:
            text += f", not counting {self.unpriced_calls} unpriced calls, so really more"
        return text

    def resets(self, now: datetime) -> str:
        when = "midnight UTC" if self.period == "day" else f"{self.resets_at:%d %b %Y}, 00:00 UTC"
        return f"at {when} (in {_in(self.resets_at, now)})"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]  # str.capitalize would lower the user's name


def refusal(status: BudgetStatus, now: datetime) -> str:
    return (
        f"{_upper_first(status.name)} is used up: {status.figures()} spent. Nothing was sent. "
        f"It resets {status.resets(now)}; if this cannot wait, ask an admin to raise the "
        "budget on the Usage page."
    )


def upfront_refusal(status: BudgetStatus, cost_usd: float, now: datetime) -> str:
    """For work paid as a whole before any result is back (a Message Batch)."""
    left = max(0.0, status.limit_usd - status.spent_usd)
    return (
        f"This would cost about {usd(cost_usd)}, more than the {usd(left)} left of {status.name} "
        f"({status.figures()} spent). Nothing was sent. Replay fewer conversations, wait until it "
        f"resets {status.resets(now)}, or ask an admin to raise the budget on the Usage page."
    )


def warning(status: BudgetStatus, now: datetime, *, policy: str) -> str:
    """The chat page's banner for a budget at 80 % or over."""
    if status.level < 100:
        return (
            f"{status.fraction:.0%} of {status.name} is spent ({status.figures()}). "
            f"It resets {status.resets(now)}."
        )
    then = (
        "new messages are refused until it resets"
        if policy == "stop"
        else "chat carries on (the admins' choice) but other work is stopped until it resets"
    )
    return (
        f"{_upper_first(status.name)} is used up ({status.figures()}): "
        f"{then} {status.resets(now)}."
    )


def worst(statuses: list[BudgetStatus]) -> BudgetStatus:
    """The one to speak of: highest level, then the latest to reset, then the most used."""
    return max(statuses, key=lambda s: (s.level, s.resets_at, s.fraction))
