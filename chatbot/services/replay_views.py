"""What the QA page shows of replay runs, shaped from stored rows. Pure functions.

    comparison = compare(original_message, result, verdicts, question=...)   # one turn
    rates = pass_rates(grade_rows, check_names)                             # per version
    shown = progress_of(run, active=True, batch=None)                       # a run's state
    before = baseline(rates, rates[0])        # the previous version, to compare a draft with

Deltas are replay minus original, None when either side is unknown. Replays are sent
without streaming (through the batch machinery), so they have no first-token time of
their own: the latency to compare is `total_ms`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chatbot import store
from chatbot.llm import BatchInfo
from chatbot.store.replays import GradeRow

from .word_diff import Segment, word_diff


ACTIVE = ("pending", "running")


@dataclass(frozen=True)
class RunProgress:
    run_id: int
    label: str
    status: str  # pending | running | done | cancelled | failed
    done: int
    total: int
    cost_usd: float
    estimated_cost_usd: float | None
    error: str | None
    active: bool  # a worker in this process is on it
    persona: str | None
    persona_version: int | None
    model: str | None
    created_by: str
    created_at: datetime | None = None
    finished_at: datetime | None = None
    mode: str = "live"
    provider_batch_id: str | None = None
    batch: BatchInfo | None = None  # the batch as this process last saw it (offline runs)

    @property
    def interrupted(self) -> bool:
        """Left pending/running by a process that stopped: resume it."""
        return self.status in ACTIVE and not self.active

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0


def progress_of(run: store.ReplayRun, *, active: bool, batch: BatchInfo | None) -> RunProgress:
    return RunProgress(
        run_id=run.id, label=run.label, status=run.status, done=run.turns_done,  # type: ignore[arg-type]
        total=run.turns_total, cost_usd=run.cost_usd, estimated_cost_usd=run.estimated_cost_usd,
        error=run.error, active=active, persona=run.persona,
        persona_version=run.persona_version, model=run.model, created_by=run.created_by,
        created_at=run.created_at, finished_at=run.finished_at, mode=run.mode,
        provider_batch_id=run.provider_batch_id, batch=batch,
    )


@dataclass(frozen=True)
class CheckVerdict:
    check_id: int
    name: str
    passed: bool
    detail: str | None


@dataclass(frozen=True)
class TurnComparison:
    """One turn: the original reply beside the replayed one."""

    conversation_id: int
    source_message_id: int
    position: int
    question: str
    original_text: str
    original_status: str
    original_model: str | None
    replay_text: str
    replay_status: str  # complete | partial | error
    replay_error: str | None
    replay_model: str | None
    persona_version: int | None
    diff: list[Segment]
    length_delta: int  # characters
    words_delta: int
    total_ms: tuple[float | None, float | None]  # (original, replay)
    total_ms_delta: float | None
    input_tokens_delta: int | None
    output_tokens_delta: int | None
    cost_usd: float | None
    checks: list[CheckVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """Every graded check passed; None when nothing was graded."""
        return all(c.passed for c in self.checks) if self.checks else None


def _delta(new: float | None, old: float | None) -> float | None:
    return None if new is None or old is None else new - old


def compare(
    original: store.Message,
    result: store.ReplayResult,
    verdicts: Sequence[store.CheckResult],
    *,
    question: str,
    check_names: Mapping[int, str],
) -> TurnComparison:
    return TurnComparison(
        conversation_id=result.conversation_id,
        source_message_id=result.source_message_id,
        position=result.position,
        question=question,
        original_text=original.content,
        original_status=original.status,
        original_model=original.model,
        replay_text=result.text,
        replay_status=result.status,
        replay_error=result.error,
        replay_model=result.model,
        persona_version=result.persona_version,
        diff=word_diff(original.content, result.text),
        length_delta=len(result.text) - len(original.content),
        words_delta=len(result.text.split()) - len(original.content.split()),
        total_ms=(original.total_ms, result.total_ms),
        total_ms_delta=_delta(result.total_ms, original.total_ms),
        input_tokens_delta=_delta(result.input_tokens, original.input_tokens),  # type: ignore[arg-type]
        output_tokens_delta=_delta(result.output_tokens, original.output_tokens),  # type: ignore[arg-type]
        cost_usd=result.cost_usd,
        checks=[
            CheckVerdict(v.check_id, check_names.get(v.check_id, f"check {v.check_id}"), v.passed, v.detail)
            for v in verdicts
        ],
    )


# -- pass rates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRate:
    check_id: int
    name: str
    passed: int
    graded: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None


@dataclass(frozen=True)
class PassRate:
    """All replayed turns of one persona version on one model, over every run."""

    persona: str
    version: int | None
    model: str | None
    runs: int
    turns: int
    errors: int  # turns with no reply at all (not counted as check failures)
    graded_turns: int  # turns with at least one graded check
    passed_turns: int  # ...of which every check passed
    checks: list[CheckRate]

    @property
    def rate(self) -> float | None:
        """The share of graded turns that passed every check."""
        return self.passed_turns / self.graded_turns if self.graded_turns else None

    def check(self, check_id: int) -> CheckRate | None:
        return next((c for c in self.checks if c.check_id == check_id), None)


def pass_rates(rows: Sequence[GradeRow], check_names: Mapping[int, str]) -> list[PassRate]:
    """Grouped by (persona, version, model); newest version first within a persona."""
    groups: dict[tuple[str, int | None, str | None], list[GradeRow]] = defaultdict(list)
    for row in rows:
        groups[(row.persona, row.persona_version, row.model)].append(row)
    rates = []
    for (persona, version, model), members in groups.items():
        turns: dict[int, list[bool]] = {}
        statuses: dict[int, str] = {}
        per_check: dict[int, list[bool]] = defaultdict(list)
        for row in members:
            statuses[row.result_id] = row.status
            outcomes = turns.setdefault(row.result_id, [])
            if row.check_id is not None and row.passed is not None:
                outcomes.append(bool(row.passed))
                per_check[row.check_id].append(bool(row.passed))
        graded = [o for o in turns.values() if o]
        rates.append(
            PassRate(
                persona=persona,
                version=version,
                model=model,
                runs=len({row.run_id for row in members}),
                turns=len(turns),
                errors=sum(1 for s in statuses.values() if s == "error"),
                graded_turns=len(graded),
                passed_turns=sum(1 for o in graded if all(o)),
                checks=sorted(
                    (
                        CheckRate(cid, check_names.get(cid, f"check {cid}"), sum(v), len(v))
                        for cid, v in per_check.items()
                    ),
                    key=lambda c: c.name.lower(),
                ),
            )
        )
    rates.sort(key=lambda r: (r.persona, -(r.version or 0), r.model or ""))
    return rates


def baseline(rates: Sequence[PassRate], of: PassRate) -> PassRate | None:
    """The same persona and model at the closest earlier version: what a draft is
    compared with before it is published."""
    earlier = [
        r for r in rates
        if r.persona == of.persona and r.model == of.model and r.version is not None
        and of.version is not None and r.version < of.version
    ]
    return max(earlier, key=lambda r: r.version or 0, default=None)
