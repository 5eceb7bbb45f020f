"""Usage accounting for admins: calls, success, latency, tokens and cost over a time range.

    usage = UsageService(engine, access=identity.access, limiter=client.limiter)
    report = usage.summary(admin, since, until, group_by="model")  # totals + one row per model
    rows = usage.timeline(admin, since, until, bucket="day")       # for charts
    text = usage.csv(admin, since, until)                          # the raw call log

Every report is for those who may read usage ("usage.read": admins): each method takes
the acting user and asks the policy before it reads anything.

Times are aware datetimes; a range is ``since <= created_at < until``, filtered in SQL.
Everything else is plain Python over the rows read, so it is the same on every backend.

Percentiles use the *nearest-rank* method: the p-th percentile of n sorted values is the
value at rank ceil(p/100 * n) (1-based). It is always a latency that really happened,
and p50 of [1, 2, 3, 4] is 2.
"""

from __future__ import annotations

import csv as csv_module
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import InputError
from chatbot.llm.ratelimit import RateLimiter
from chatbot.spreadsheet import csv_cell
from chatbot.store import ApiCall, ApiCallOutcome

from .call_log import name_users

GroupBy = Literal["model", "purpose", "owner"]
Bucket = Literal["hour", "day"]
GROUPS: tuple[GroupBy, ...] = ("model", "purpose", "owner")
BUCKETS: dict[Bucket, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
OUTCOMES = tuple(o.value for o in ApiCallOutcome)

# The call log's columns, in order. An allow-list: a column added to ApiCall later does
# not reach an export until someone decides it belongs there.
CSV_COLUMNS = (
    "id",
    "created_at",
    "conversation_id",
    "message_id",
    "owner",
    "purpose",
    "model",
    "outcome",
    "status_code",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "ttft_ms",
    "total_ms",
    "attempts",
    "request_id",
    "cache_hit",
    "cost_usd",
)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of `values` (any order); None when there are none."""
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Latency:
    """Milliseconds; None when no call in the group reported one."""

    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency:
        return cls(percentile(values, 50), percentile(values, 95))


@dataclass(frozen=True)
class Stats:
    """The numbers for one set of calls (all of them, or one group)."""

    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # ok / partial / error -> count
    errors_by_type: dict[str, int] = field(default_factory=dict)  # most frequent first
    total_ms: Latency = Latency(None, None)
    ttft_ms: Latency = Latency(None, None)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_hits: int = 0
    cost_usd: float = 0.0  # of the priced calls only
    unpriced_calls: int = 0  # calls whose model had no price when they were made
    unpriced_models: tuple[str, ...] = ()

    @property
    def ok(self) -> int:
        return self.outcomes.get(ApiCallOutcome.OK.value, 0)

    @property
    def errors(self) -> int:
        return self.outcomes.get(ApiCallOutcome.ERROR.value, 0)

    @property
    def success_rate(self) -> float | None:
        """ok / all calls (partial replies are not successes); None with no calls."""
        return self.ok / self.calls if self.calls else None


@dataclass(frozen=True)
class Group:
    key: str
    stats: Stats


@dataclass(frozen=True)
class Summary:
    since: datetime
    until: datetime
    group_by: GroupBy
    total: Stats
    groups: tuple[Group, ...]  # most calls first


@dataclass(frozen=True)
class TimelineRow:
    """One model's calls in one bucket; buckets with no calls are present with zeros."""

    bucket: datetime  # the bucket's start, UTC
    model: str
    calls: int = 0
    ok: int = 0
    partial: int = 0
    error: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_tokens: int = 0  # written + read
    cost_usd: float = 0.0  # of the priced calls only
    unpriced_calls: int = 0


def stats(calls: Iterable[ApiCall]) -> Stats:
    """Aggregate a set of API-call rows (pure; also used for each group)."""
    rows = list(calls)
    outcomes = Counter(row.outcome for row in rows)
    errors = Counter(row.error_type or "unknown" for row in rows if row.outcome != "ok")
    unpriced = [row for row in rows if row.cost_usd is None]
    return Stats(
        calls=len(rows),
        outcomes={outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        errors_by_type=dict(errors.most_common()),
        total_ms=Latency.of([row.total_ms for row in rows if row.total_ms is not None]),
        ttft_ms=Latency.of([row.ttft_ms for row in rows if row.ttft_ms is not None]),
        input_tokens=sum(row.input_tokens for row in rows),
        output_tokens=sum(row.output_tokens for row in rows),
        cache_creation_input_tokens=sum(row.cache_creation_input_tokens for row in rows),
        cache_read_input_tokens=sum(row.cache_read_input_tokens for row in rows),
        cache_hits=sum(1 for row in rows if row.cache_hit),
        cost_usd=math.fsum(row.cost_usd for row in rows if row.cost_usd is not None),
        unpriced_calls=len(unpriced),
        unpriced_models=tuple(sorted({row.model or "(none)" for row in unpriced})),
    )


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """The UTC hour or day `moment` falls in."""
    moment = moment.astimezone(UTC)
    if bucket == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def _check_range(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("usage ranges need timezone-aware datetimes")
    if until <= since:
        raise InputError("The end of the range must be after its start.")


def calls_between(*, session: Session, since: datetime, until: datetime) -> list[ApiCall]:
    """API calls with since <= created_at < until, oldest first."""
    query = (
        select(ApiCall)
        .where(col(ApiCall.created_at) >= since, col(ApiCall.created_at) < until)
        .order_by(col(ApiCall.created_at), col(ApiCall.id))
    )
    return list(session.exec(query).all())


class UsageService:
    """Read-only reports over the API-call log, for those who may read usage."""

    def __init__(
        self, engine: Engine, *, access: Access | None = None, limiter: RateLimiter | None = None
    ) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))
        self.limiter = limiter

    def _calls(self, since: datetime, until: datetime) -> list[ApiCall]:
        _check_range(since, until)
        with store.read_session(self.engine) as session:
            return calls_between(session=session, since=since, until=until)

    def summary(
        self, actor: Actor, since: datetime, until: datetime, *, group_by: GroupBy = "model"
    ) -> Summary:
        self.access.require(actor, "usage.read", target="usage")
        if group_by not in GROUPS:
            raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, got {group_by!r}")
        rows = self._calls(since, until)
        by_key: dict[str, list[ApiCall]] = defaultdict(list)
        for row in rows:
            by_key[getattr(row, group_by) or "(none)"].append(row)
        groups = sorted(
            (Group(key, stats(members)) for key, members in by_key.items()),
            key=lambda g: (-g.stats.calls, g.key),
        )
        return Summary(since, until, group_by, stats(rows), tuple(groups))

    def owners(self, actor: Actor) -> list[str]:
        """Everyone who ever made a call."""
        self.access.require(actor, "usage.read", target="usage")
        return self._owners()

    def _owners(self) -> list[str]:
        with store.read_session(self.engine) as session:
            return list(session.exec(select(ApiCall.owner).distinct()).all())

    def flagged(self, actor: Actor) -> list[tuple[str, int]]:
        """People the per-person rate limit slowed down, with how many of their requests
        were, most first (none without a limiter)."""
        self.access.require(actor, "usage.read", target="usage")
        counts = self.limiter.flagged_users() if self.limiter is not None else {}
        if not counts:
            return []  # the usual case: no need to look up everyone's name
        return name_users(counts, self._owners())

    def timeline(
        self, actor: Actor, since: datetime, until: datetime, *, bucket: Bucket = "hour"
    ) -> list[TimelineRow]:
        """Per bucket and model, oldest first; every bucket of the range appears for every
        model seen in it, so a chart shows a quiet hour as zero rather than a gap."""
        self.access.require(actor, "usage.read", target="usage")
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
        rows = self._calls(since, until)
        cells: dict[tuple[datetime, str], list[ApiCall]] = defaultdict(list)
        for row in rows:
            cells[(bucket_start(row.created_at, bucket), row.model or "(none)")].append(row)
        models = sorted({model for _, model in cells})
        timeline = []
        start, step = bucket_start(since, bucket), BUCKETS[bucket]
        while start < until:
            for model in models:
                timeline.append(_timeline_row(start, model, cells.get((start, model), [])))
            start += step
        return timeline

    def csv(self, actor: Actor, since: datetime, until: datetime) -> str:
        """The raw call log: a header row, then one row per call, oldest first, ISO 8601
        UTC times. Only the columns in CSV_COLUMNS; no prompt, reply or key is stored there."""
        self.access.require(actor, "usage.read", target="usage")
        out = io.StringIO()
        writer = csv_module.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in self._calls(since, until):
            writer.writerow([csv_cell(getattr(row, column)) for column in CSV_COLUMNS])
        return out.getvalue()


def _timeline_row(start: datetime, model: str, rows: list[ApiCall]) -> TimelineRow:
    outcomes = Counter(row.outcome for row in rows)
    return TimelineRow(
        bucket=start,
        model=model,
        calls=len(rows),
        ok=outcomes.get("ok", 0),
        partial=outcomes.get("partial", 0),
        error=outcomes.get("error", 0),
        input_tokens=sum(row.input_tokens for row in rows),
        output_tokens=sum(row.output_tokens for row in rows),
        cache_tokens=sum(row.cache_creation_input_tokens + row.cache_read_input_tokens for row in rows),
        cost_usd=math.fsum(row.cost_usd for row in rows if row.cost_usd is not None),
        unpriced_calls=sum(1 for row in rows if row.cost_usd is None),
    )
