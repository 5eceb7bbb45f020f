"""Offline replay runs: every turn of a run in one Message Batch, answered within 24 hours
at half the price, for replays where the wait is acceptable.

    offline = OfflineReplay(runner, poll_interval=30.0)
    status = offline.run(run, turns, checks, cancel=event, closing=event, retry_errors=True)

The batch's id is committed on the run right after submit, before any waiting: a run
interrupted while it waits (a restart, a poll that failed) resumes by polling that batch,
never by paying for its turns again. Results are saved one by one through
`ReplayRunner.save`, the live runs' own path, priced as batch calls. While the provider
works, the run's `turns_done` follows the batch's counts so the page's progress bar moves;
once the batch has ended it is recounted from the stored results.

Cancel asks the provider to cancel the batch and polls on until it has ended: what was
answered before is paid for, so it is saved. Closing the app only stops the watching: the
batch goes on at the provider, the run stays "running" (interrupted) and a resume collects it.

On resume, a run with a batch first saves that batch's results for the turns it has not
stored (except turns whose error is being retried: the same batch would give the same
error). Whatever is still missing then (items that expired or were cancelled, retried
turns, a batch the provider no longer has) goes out as one new batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatbot import store
from chatbot.errors import StatedError
from chatbot.llm import BatchInfo, MessageBatches, errors
from chatbot.llm.batch import BatchCancelled, BatchResult
from chatbot.llm.message_batches import BatchItemExpired
from chatbot.store import replays as rows

from .checks_service import CheckDef
from .replay_plan import ReplayTurn, estimate
from .replay_worker import ReplayRunner

log = logging.getLogger("chatbot.replay")
# Items the provider never processed: not billed, so nothing is recorded and they are sent again.
UNPROCESSED = (BatchCancelled, BatchItemExpired)


def custom_id(turn: ReplayTurn) -> str:
    """The batch item's id: the original reply's, unique in a run and within the API's
    pattern (1-64 letters, digits, '_' or '-')."""
    return f"m{turn.source_message_id}"


class _Detached(Exception):
    """The app is closing: stop watching the batch, leave it going at the provider."""


@dataclass
class _Job:
    run: store.ReplayRun
    turns: Sequence[ReplayTurn]
    checks: Sequence[CheckDef]
    cancel: threading.Event
    closing: threading.Event
    on_batch: Callable[[BatchInfo], None]


class OfflineReplay:
    """Runs replay runs through the Message Batches API. Holds no per-run state."""

    def __init__(
        self,
        runner: ReplayRunner,
        *,
        poll_interval: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        wait_timeout: float = 25 * 3600.0,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.runner = runner
        self.batches = MessageBatches(runner.client)
        self.poll_interval = poll_interval
        # None: wait on the run's cancel event, so a cancel is acted on at once (tests
        # pass a fake that never sleeps).
        self.sleep = sleep
        self.wait_timeout = wait_timeout

    def run(
        self,
        run: store.ReplayRun,
        turns: Sequence[ReplayTurn],
        checks: Sequence[CheckDef],
        *,
        cancel: threading.Event,
        closing: threading.Event,
        retry_errors: bool,
        on_batch: Callable[[BatchInfo], None] | None = None,
    ) -> str:
        """Collect the run's batch, send what is missing as one new batch, save each result.
        Returns done, cancelled, or running (the app is closing, the batch goes on); raises
        the budget refusal, or a StatedError when turns came back unanswered."""
        have, retried = self.runner.begin(run, turns, retry_errors=retry_errors)
        job = _Job(run, turns, checks, cancel, closing, on_batch or (lambda info: None))
        todo = [t for t in turns if t.source_message_id not in have]
        try:
            wanted = [t for t in todo if t.source_message_id not in retried]
            if wanted and run.provider_batch_id:
                # Paid for already: collect it before sending anything again.
                info = self._watch(job, run.provider_batch_id)
                if info is not None:
                    self._collect(job, info, wanted)
                todo = self._missing(job)
            if todo and not cancel.is_set():
                info = self._watch(job, self._submit(job, todo).id)
                if info is not None:
                    self._collect(job, info, todo)
                todo = self._missing(job)
        except _Detached:
            log.info("replay run %s: the app is closing; its batch goes on and a resume collects it", run.id)
            return "running"
        finally:
            self._recount(run)  # the batch's counts stood in for it while waiting
        if not todo:
            return "done"
        if cancel.is_set():
            return "cancelled"
        raise StatedError(
            f"{len(todo)} turn{'s' * (len(todo) != 1)} came back unanswered: the batch expired or "
            "was lost before the provider processed them. Resume the run to send only those again."
        )

    def cancel_batch(self, batch_id: str) -> None:
        """Ask the provider to stop a batch; one that has ended already is left as it is."""
        try:
            self.batches.cancel(batch_id)
        except (errors.BadRequest, errors.NotFound):
            log.info("message batch %s had already ended or is gone: nothing to cancel", batch_id)

    # -- the steps ------------------------------------------------------------------------

    def _submit(self, job: _Job, todo: Sequence[ReplayTurn]) -> BatchInfo:
        # The whole batch is committed at once and cannot be stopped between calls, so
        # the budget must hold all of it (at the batch price), not only the next call.
        self.runner.check_budget(job.run.created_by, upfront_usd=estimate(todo, batch=True).cost_usd)
        info = self.batches.submit([(custom_id(t), t.request) for t in todo])
        # Committed before any wait: whatever happens next, a resume finds this batch.
        with store.write_session(self.runner.engine) as session:
            rows.set_run(session=session, run_id=job.run.id, provider_batch_id=info.id)
        log.info("replay run %s: %d turns in message batch %s", job.run.id, len(todo), info.id)
        job.on_batch(info)
        return info

    def _watch(self, job: _Job, batch_id: str) -> BatchInfo | None:
        """Poll until the batch has ended; None when the provider no longer has it."""
        base = self._recount(job.run)
        cancel_sent = False

        def seen(info: BatchInfo) -> None:
            nonlocal cancel_sent
            job.on_batch(info)
            if job.closing.is_set():
                raise _Detached
            if job.cancel.is_set() and not cancel_sent and info.status == "in_progress":
                cancel_sent = True
                self.cancel_batch(batch_id)
            # Capped: on a resume the batch may hold turns that are stored already.
            answered = min(len(job.turns), base + info.counts.succeeded + info.counts.errored)
            with store.write_session(self.runner.engine) as session:
                rows.set_run(session=session, run_id=job.run.id, turns_done=answered)

        def pause(seconds: float) -> None:
            if self.sleep is not None:
                self.sleep(seconds)
            elif not job.cancel.is_set():
                job.cancel.wait(seconds)  # a cancel wakes it: the next poll sends it on
            else:
                job.closing.wait(seconds)  # canceling takes the provider a while

        try:
            return self.batches.wait(batch_id, poll_interval=self.poll_interval, timeout=self.wait_timeout,
                                     on_progress=seen, sleep=pause)
        except errors.NotFound:
            log.warning("message batch %s of replay run %s is gone; its missing turns go out again",
                        batch_id, job.run.id)
            return None

    def _collect(self, job: _Job, info: BatchInfo, wanted: Sequence[ReplayTurn]) -> None:
        """Save the ended batch's result for each wanted turn, through the live runs' path."""
        by_id = {custom_id(t): t for t in wanted}
        self._recount(job.run)  # from here on each save counts its own turn
        for item_id, outcome in self.batches.results(info):
            turn = by_id.pop(item_id, None)
            if turn is None or isinstance(outcome, UNPROCESSED):
                continue  # stored already, retried, or never processed
            if isinstance(outcome, errors.LLMError):
                result = BatchResult(index=0, request=turn.request, error=outcome)
            else:
                result = BatchResult(index=0, request=turn.request, reply=outcome)
            self.runner.save(job.run, turn, result, job.checks, batch=True)

    def _missing(self, job: _Job) -> list[ReplayTurn]:
        with store.read_session(self.runner.engine) as session:
            stored = rows.result_sources(session=session, run_id=job.run.id)
        return [t for t in job.turns if t.source_message_id not in stored]

    def _recount(self, run: store.ReplayRun) -> int:
        with store.write_session(self.runner.engine) as session:
            return rows.recount(session=session, run_id=run.id)  # type: ignore[arg-type]
