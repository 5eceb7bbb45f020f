"""Budgets: daily and monthly spending caps (for everyone, or for one agent), alerts at
50, 80 and 100 %, and what happens over budget.

    budgets = BudgetService(engine, access=identity.access)
    budgets.set_budget(admin, user="", period="day", limit_usd=20)  # admins only, audited
    warning = budgets.check("chat", "ana")  # raises BudgetExceeded, or returns a warning/None
    ...                                     # the API call, recorded in api_call
    budgets.after_call("ana")               # records the alerts newly crossed

Managing and reading budgets is for admins (budgets.manage, usage.read); `banner` is
anyone's, about the budgets that apply to them. The accounting around each call (`check`,
`after_call`) is asked by other services for a caller they checked: it takes an owner.

Periods are calendar days and months in UTC. Over budget, every purpose other than chat
is refused; chat follows the over-budget policy (the app setting "over_budget_chat"):
"warn" lets agents carry on with a warning, "stop" refuses new turns.

Unpriced calls (a model with no price on file) add nothing to the spend, because there is
no number to add, but every status counts them and every message about it says the real
spend is higher. They are flagged, never taken as free.

Speed: `check` runs before every chat turn and must cost well under a millisecond or
two. The sums live in memory, per period start: built once from one range scan of the
current month (ix_api_call_created_at), then brought up to date by reading only the calls
with a higher id (the primary key), at most once per `fresh_for` seconds or at once after
`after_call` or a change of budget. A new day or month simply starts a new bucket. Every
`rebuild_after` seconds `after_call` (on the reply's worker thread, never before a first
token) rebuilds them from scratch, because concurrent PostgreSQL transactions can commit
ids out of order and an incremental read could miss one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.accounts import NoSuchUser, find_account
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import InputError
from chatbot.store import budgets as rows

from .rules import (
    CHAT,
    DEFAULT_POLICY,
    POLICIES,
    POLICY_KEY,
    BudgetExceeded,
    BudgetStatus,
    clean_budget,
    newly_crossed,
    period_end,
    period_start,
    refusal,
    upfront_refusal,
    usd,
    warning,
    worst,
)
from .sums import Sums


log = logging.getLogger("chatbot.budgets")

def _target(budget: store.Budget) -> str:
    # "(everyone)" cannot be a username (no parentheses there), so the entry is unambiguous.
    return f"budget:{budget.period}/{budget.user or '(everyone)'}"


@dataclass(frozen=True)
class AlertRow:
    created_at: datetime
    scope: str
    period: str
    period_start: datetime
    threshold: int
    spent_usd: float
    limit_usd: float


class BudgetService:
    """Budgets, their status and alerts, and the over-budget policy. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        *,
        access: Access | None = None,
        clock: Callable[[], datetime] = store.utc_now,
        fresh_for: float = 1.0,
        rebuild_after: float = 300.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))
        self.clock = clock
        self.fresh_for = fresh_for
        self.rebuild_after = rebuild_after
        self._timer = timer
        self._lock = threading.Lock()
        self._sums: Sums | None = None
        self._dirty = False

    # -- admin ----------------------------------------------------------------------------

    def set_budget(self, actor: Actor, *, user: str, period: str, limit_usd: object) -> BudgetStatus:
        """Create or change everyone's budget (`user` "") or one person's, who must have an
        account: a budget for a name nobody signs in as would never apply."""
        self.access.require(actor, "budgets.manage", target="budget")
        user, period, limit = clean_budget(user, period, limit_usd)
        with store.write_session(self.engine) as session:
            if user:
                user = self._account(session, user)
            before = rows.find_budget(session=session, user=user, period=period)
            old = usd(before.limit_usd) if before is not None else "none"
            budget = rows.set_budget(
                session=session, user=user, period=period, limit_usd=limit,
                updated_by=actor.username,
            )
            AuditLog.append(session, actor, "budget.set", target=_target(budget),
                            detail=f"{old} -> {usd(limit)}")
        self._dirty = True
        # A limit set below what is already spent is crossed now, not at the next call.
        self.record_alerts()
        return next(s for s in self._statuses() if s.budget_id == budget.id)

    def remove_budget(self, actor: Actor, budget_id: int) -> None:
        self.access.require(actor, "budgets.manage", target=f"budget:{budget_id}")
        with store.write_session(self.engine) as session:
            budget = rows.get_budget(session=session, budget_id=budget_id)
            if budget is None:
                raise InputError("That budget was already removed.")
            AuditLog.append(session, actor, "budget.remove", target=_target(budget),
                            detail=f"{usd(budget.limit_usd)} -> none")
            rows.remove_budget(session=session, budget_id=budget_id)
        self._dirty = True

    def policy(self, actor: Actor) -> str:
        """What chat does over budget ("warn" or "stop")."""
        self.access.require(actor, "usage.read", target=f"setting:{POLICY_KEY}")
        return self._current(self.clock(), fresh=True).policy

    def set_policy(self, actor: Actor, policy: str) -> None:
        self.access.require(actor, "budgets.manage", target=f"setting:{POLICY_KEY}")
        if policy not in POLICIES:
            raise InputError("Choose whether chat carries on with a warning or stops.")
        with store.write_session(self.engine) as session:
            before = self._policy(session)
            rows.set_setting(session=session, key=POLICY_KEY, value=policy, updated_by=actor.username)
            AuditLog.append(session, actor, "setting.change", target=f"setting:{POLICY_KEY}",
                            detail=f"{before} -> {policy}")
        self._dirty = True

    def statuses(self, actor: Actor, now: datetime | None = None) -> list[BudgetStatus]:
        """Every budget in its current period, as of now (always read fresh)."""
        self.access.require(actor, "usage.read", target="budget")
        return self._statuses(now)

    def alerts(self, actor: Actor, limit: int = 20) -> list[AlertRow]:
        self.access.require(actor, "usage.read", target="budget")
        with store.read_session(self.engine) as session:
            found = rows.list_alerts(session=session, limit=limit)
        return [
            AlertRow(
                created_at=a.created_at,
                scope=b.user or "everyone",
                period=b.period,
                period_start=a.period_start,
                threshold=a.threshold,
                spent_usd=a.spent_usd,
                limit_usd=a.limit_usd,
            )
            for a, b in found
        ]

    def warm(self) -> None:
        """Scan this month's spend now (at start-up), not in front of the first turn."""
        self._current(self.clock(), fresh=True, rebuild=True)

    def _statuses(self, now: datetime | None = None) -> list[BudgetStatus]:
        now = now or self.clock()
        sums = self._current(now, fresh=True, rebuild=True)
        return [sums.status(budget, now) for budget in sums.budgets]

    @staticmethod
    def _account(session: Session, user: str) -> str:
        """The username of the account `user` names (as stored), or InputError."""
        try:
            return find_account(session, user).username
        except NoSuchUser:
            raise InputError(
                f"There is no account named {user[:64]!r}. A budget for one person needs their "
                "account: pick someone from the list, or add them under Admin → Users first."
            ) from None

    # -- around each call -----------------------------------------------------------------

    def check(self, purpose: str, owner: str, *, upfront_usd: float = 0.0) -> str | None:
        """Call before an API call. Raises `BudgetExceeded` if it must not be made; returns
        a warning when a budget that applies is at 80 % or over, else None.

        `upfront_usd` is spend committed at once, before any of it can be stopped (a
        Message Batch is processed whole): refused, too, when it would take a budget that
        applies past its limit. Ordinary calls are checked one by one instead."""
        now = self.clock()
        sums = self._current(now)
        applicable = sums.applicable(owner, now)
        if not applicable:
            return None
        top = worst(applicable)
        if top.level >= 100 and (purpose != CHAT or sums.policy == "stop"):
            raise BudgetExceeded(refusal(top, now), top)
        over = [s for s in applicable if s.spent_usd + upfront_usd > s.limit_usd]
        if upfront_usd > 0 and over and purpose != CHAT:
            tightest = min(over, key=lambda s: s.limit_usd - s.spent_usd)
            raise BudgetExceeded(upfront_refusal(tightest, upfront_usd, now), tightest)
        return warning(top, now, policy=sums.policy) if top.level >= 80 else None

    def banner(self, actor: Actor) -> str | None:
        """The chat page's notice for `actor`: a budget that applies to them (their own or
        everyone's) at 80 % or over, refusing or not. Any signed-in person may ask; it
        never speaks of anyone else's budget."""
        now = self.clock()
        sums = self._current(now)
        applicable = sums.applicable(actor.username, now)
        top = worst(applicable) if applicable else None
        return warning(top, now, policy=sums.policy) if top and top.level >= 80 else None

    def after_call(self, owner: str = "") -> list[tuple[BudgetStatus, int]]:
        """Call once an API call is recorded: the next check sees it, and thresholds it
        crossed are recorded as alerts (once per budget and period) and logged."""
        self._dirty = True
        return self.record_alerts()

    def record_alerts(self, now: datetime | None = None) -> list[tuple[BudgetStatus, int]]:
        """Record every threshold crossed and not yet raised; returns the new ones."""
        now = now or self.clock()
        sums = self._current(now, fresh=True, rebuild=True)
        due = []
        for status in (sums.status(b, now) for b in sums.budgets):
            key = (status.budget_id, status.period_start)
            raised = {t for budget_id, start, t in sums.raised if (budget_id, start) == key}
            due += [(status, t) for t in newly_crossed(status.level, raised)]
        if not due:
            return []
        new = []
        with store.write_session(self.engine) as session:
            for status, threshold in due:
                if rows.record_alert(
                    session=session,
                    budget_id=status.budget_id,
                    period_start=status.period_start,
                    threshold=threshold,
                    spent_usd=status.spent_usd,
                    limit_usd=status.limit_usd,
                ):
                    new.append((status, threshold))
        with self._lock:
            sums.raised.update((s.budget_id, s.period_start, t) for s, t in due)
        for status, threshold in new:
            log.warning(
                "budget alert: %s reached %d %% (%s)", status.name, threshold, status.figures()
            )
        return new

    # -- the sums -------------------------------------------------------------------------

    def _current(self, now: datetime, *, fresh: bool = False, rebuild: bool = False) -> Sums:
        """The sums as of `now`: read incrementally when stale; rebuilt from scratch only
        when `rebuild` is allowed (never on the path before a call) or nothing covers `now`."""
        tick = self._timer()
        sums = self._sums
        if sums is not None and rebuild and tick - sums.built_at > self.rebuild_after:
            # Scanned outside the lock so checks meanwhile use the old sums; calls recorded
            # during the scan have higher ids than it read, so the next refresh adds them.
            new = self._build(now, tick)
            with self._lock:
                self._sums = new
        with self._lock:
            sums = self._sums
            if sums is None or period_start("month", now) < sums.covered_from:
                sums = self._sums = self._build(now, tick)
            elif fresh or self._dirty or tick - sums.refreshed_at >= self.fresh_for:
                self._refresh(sums, tick)
            self._dirty = False
            return sums

    def _build(self, now: datetime, tick: float) -> Sums:
        month = (period_start("month", now), period_end("month", now))
        day = (period_start("day", now), period_end("day", now))
        with store.read_session(self.engine) as session:
            # The id first: a call recorded during the scan is read again by the next
            # refresh rather than missed (on PostgreSQL it may count twice until the next
            # rebuild, which errs towards stopping early; SQLite reads one snapshot).
            sums = Sums(
                covered_from=month[0],
                last_id=rows.last_api_call_id(session=session),
                built_at=tick,
                refreshed_at=tick,
            )
            found = rows.spend_by_owner(session=session, since=month[0], until=month[1], inside=day)
            sums.budgets = rows.list_budgets(session=session)
            sums.policy = self._policy(session)
            sums.raised = rows.alerts_in_period(session=session, period_starts=[day[0], month[0]])
        for (owner, today), spent in found.items():
            sums.add("month", month[0], owner, spent)
            if today:
                sums.add("day", day[0], owner, spent)
        return sums

    def _refresh(self, sums: Sums, tick: float) -> None:
        with store.read_session(self.engine) as session:
            new = rows.api_calls_after(session=session, after_id=sums.last_id)
            sums.budgets = rows.list_budgets(session=session)
            sums.policy = self._policy(session)
        for row in new:
            sums.take(row)
        if new:
            sums.last_id = new[-1].id
        sums.refreshed_at = tick

    @staticmethod
    def _policy(session: Session) -> str:
        value = rows.get_setting(session=session, key=POLICY_KEY, default=DEFAULT_POLICY)
        if value not in POLICIES:
            log.warning("unknown over-budget policy %r; using %r", value, DEFAULT_POLICY)
            return DEFAULT_POLICY
        return value
