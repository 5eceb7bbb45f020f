"""Running a planned replay: the part of a replay run that happens on its worker thread.

    status = runner.run(run, turns, checks, cancel=event, retry_errors=True)

Turns go through `run_batch` (the client's retries, rate limiter and bounded
concurrency), without the response cache (a replay must measure a new reply), in slices
with a budget check before each. Each finished turn is committed at once by the batch's
`on_result`, with its api_call (purpose "replay"), its check outcomes and the run's
counters in one transaction, so an interruption loses at most the calls in flight.
An offline run (`replay_offline`) stores its batch's results through the same `save`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from chatbot import store
from chatbot.llm import LLMClient
from chatbot.llm.batch import BatchCancelled, BatchResult, run_batch
from chatbot.store import replays as rows

from .call_log import record_call, settle_budgets
from .checks import evaluate
from .checks_service import CheckDef
from .replay_plan import ReplayTurn

log = logging.getLogger("chatbot.replay")
PURPOSE = "replay"
MAX_DETAIL_CHARS = 2_000


class ReplayRunner:
    """Sends a run's missing turns and stores each as it completes. Thread-safe."""

    def __init__(
        self,
        *,
        engine: Engine,
        client: LLMClient,
        budgets: object | None = None,  # BudgetService: check(purpose, owner), after_call(owner)
        judge: object | None = None,  # JudgeService (for_turn), or a plain checks.Judge callable
        concurrency: int = 4,
        slice_size: int | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.budgets = budgets
        self.judge = judge
        self.concurrency = concurrency
        self.slice_size = slice_size or concurrency * 4

    def check_budget(self, owner: str, *, upfront_usd: float | None = None) -> None:
        """Raises the budget service's refusal (a StatedError) when replays must stop.
        `upfront_usd`: what a Message Batch about to be submitted should cost, all of it
        committed at once (a live run is stopped between slices instead)."""
        if self.budgets is None:
            return
        if upfront_usd:
            self.budgets.check(PURPOSE, owner, upfront_usd=upfront_usd)  # type: ignore[attr-defined]
        else:
            self.budgets.check(PURPOSE, owner)  # type: ignore[attr-defined]

    def begin(
        self, run: store.ReplayRun, turns: Sequence[ReplayTurn], *, retry_errors: bool
    ) -> tuple[set[int], set[int]]:
        """Mark the run running; returns the source ids of the turns it has, and of those
        whose error was just forgotten so that they are sent again."""
        with store.write_session(self.engine) as session:
            retried: set[int] = set()
            if retry_errors:  # failed outright, nothing billed: worth another try
                had = rows.result_sources(session=session, run_id=run.id)
                retried = {source for source, status in had.items() if status == "error"}
                rows.delete_error_results(session=session, run_id=run.id)
            have = set(rows.result_sources(session=session, run_id=run.id))
            rows.recount(session=session, run_id=run.id)
            rows.set_run(session=session, run_id=run.id, status="running", error=None, finished_at=None,
                         turns_total=len(turns))
        return have, retried

    def run(
        self,
        run: store.ReplayRun,
        turns: Sequence[ReplayTurn],
        checks: Sequence[CheckDef],
        *,
        cancel: threading.Event,
        retry_errors: bool,
    ) -> str:
        """Send the turns `run` has no result for; returns its end status, done or
        cancelled. Raises the budget refusal when spend runs out between slices."""
        have, _ = self.begin(run, turns, retry_errors=retry_errors)
        todo = [t for t in turns if t.source_message_id not in have]
        for start in range(0, len(todo), self.slice_size):
            if cancel.is_set():
                break
            self.check_budget(run.created_by)  # spend may have grown since the last slice
            part = todo[start:start + self.slice_size]
            run_batch(
                self.client, [t.request for t in part], concurrency=self.concurrency,
                cancel=cancel, use_cache=False,
                on_result=lambda result, part=part: self.save(run, part[result.index], result, checks),
            )
        with store.read_session(self.engine) as session:
            stored = rows.result_sources(session=session, run_id=run.id)
        missing = {t.source_message_id for t in turns} - set(stored)
        return "cancelled" if cancel.is_set() and missing else "done"

    def save(
        self, run: store.ReplayRun, turn: ReplayTurn, result: BatchResult, checks: Sequence[CheckDef],
        *, batch: bool = False,
    ) -> None:
        """Commit one finished turn: its api_call, its result with check outcomes, and the
        run's counters. Called on the batch's worker threads. `batch`: the turn came back
        in a Message Batch (half price, no latency of its own)."""
        if isinstance(result.error, BatchCancelled):
            return  # never sent: nothing to record, a resume sends it
        owner, reply, error = run.created_by, result.reply, result.error
        status = reply.status if reply is not None and error is None else "error"
        text = reply.text if reply is not None else ""
        usage = reply.usage if reply is not None else None
        outcomes, judge_cost = self.grade(owner, turn, text, checks) if status != "error" else ([], 0.0)
        fields = dict(
            run_id=run.id, conversation_id=turn.conversation_id, source_message_id=turn.source_message_id,
            position=turn.position, status=status, text=text,
            error=error.user_message if error is not None else None,
            persona_version=turn.persona_version,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            ttft_ms=None,  # not streamed: no first-token time to compare
        )
        with store.write_session(self.engine) as session:
            call = record_call(
                session, purpose=PURPOSE, owner=owner, model=turn.request.model, reply=reply, error=error,
                conversation_id=turn.conversation_id, batch=batch,
            )
            # As the call log has them: the model that answered, the request id, and no
            # latency for a batch item (it waited in the provider's queue).
            fields.update(model=call.model, total_ms=call.total_ms, request_id=call.request_id)
            fields["cost_usd"] = call.cost_usd  # None: the model has no price on file
            spent = (call.cost_usd or 0.0) + judge_cost
            try:
                with session.begin_nested():
                    rows.add_result(session=session, checks=outcomes, run_cost_usd=spent, **fields)
            except IntegrityError:  # another process (a replica resuming it too) stored it first
                log.warning("replay run %s already has turn %s", run.id, turn.source_message_id)
                rows.add_run_cost(session=session, run_id=run.id, cost_usd=spent)
        settle_budgets(self.budgets, owner)

    def judge_for(self, owner: str, conversation_id: int | None) -> object | None:
        """The rubric judge, its calls owned by `owner` (and recorded against the conversation)."""
        judge = self.judge
        if judge is not None and hasattr(judge, "for_turn"):
            return judge.for_turn(owner=owner, conversation_id=conversation_id)
        return judge

    def grade(
        self, owner: str, turn: ReplayTurn, text: str, checks: Sequence[CheckDef]
    ) -> tuple[list[tuple[int, bool, str | None]], float]:
        """The outcomes worth storing (graded ones only: "not graded" is neither a pass nor
        a fail, so it is logged, not stored) and what the judge spent."""
        if not checks:
            return [], 0.0
        judge = self.judge_for(owner, turn.conversation_id)
        outcomes = []
        for check in checks:
            try:
                passed, detail = evaluate(check, text, judge=judge, question=turn.question)  # type: ignore[arg-type]
            except Exception:  # a bug in one check must not lose the reply that was paid for
                log.exception("check %r crashed on message %s", check.name, turn.source_message_id)
                continue
            if passed is None:
                log.warning("check %r not graded for message %s: %s", check.name, turn.source_message_id, detail)
                continue
            outcomes.append((check.id, passed, detail[:MAX_DETAIL_CHARS]))
        return outcomes, float(getattr(judge, "cost_usd", 0.0) or 0.0)
