"""Replay runs: re-send saved conversations, turn by turn, to a persona version and/or a
model, grade the new replies with checks, and compare them with the originals.

    replays = runtime.replays
    replays.preview(actor, [12, 15], ReplayTarget("support", 4))  # Estimate(turns, in, out, cost_usd)
    run_id = replays.start(actor, [12, 15], ReplayTarget("support", 4), check_ids=[1, 2])
    run_id = replays.start(actor, [12, 15], target, mode="offline")  # one Message Batch, half price
    replays.progress(actor, run_id)                  # done / total / status / cost so far
    replays.results(actor, run_id)                   # per turn: original vs replay, diff, checks
    replays.pass_rates(actor, "support")             # per persona version and model

Every entry point a page calls takes the acting user and needs "replays.run"; start,
resume and cancel are audited. A run's calls (budgets, the call log, the user id sent
upstream) stay on the account of its creator (`created_by`), whoever resumes it.

What each replayed turn sees is `replay_plan`'s job (pure); sending and saving is
`replay_worker`'s (through `run_batch`, each turn committed as it finishes, so an
interruption loses at most the calls in flight); an offline run sends every turn in one
Message Batch (`replay_offline`, answered within 24 h at half the price) and saves its
results through the same path; the page's views are `replay_views`'.
This module owns the runs' lifecycle: each runs on a worker of this service's own pool,
never inside a page's script run (Streamlit stops those at every click).

Resuming re-plans the run and sends only the turns without a result; turns that failed
outright (status error, nothing billed) are tried again unless asked not to. A run whose
process died stays "running" in the database: `progress().interrupted` says so (status
pending/running with no worker in this process) and `resume` picks it up. It is not
rewritten at start-up, because with several replicas another process may be running it.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import ChatbotError, InputError, NotFoundError
from chatbot.llm import BatchInfo, LLMClient
from chatbot.store import checks as check_rows
from chatbot.store import replays as rows

from .call_log import opaque_user
from .checks_service import ChecksService
from .context import turns_from_messages
from .conversations import load_transcript
from .personas import PersonaService
from .replay_offline import OfflineReplay
from .replay_plan import Estimate, ReplayTarget, ReplayTurn, check_mode, estimate, plan_conversation
from .replay_views import ACTIVE, PassRate, RunProgress, TurnComparison, compare, pass_rates, progress_of
from .replay_worker import ReplayRunner

__all__ = ["ReplayService", "ReplayTarget", "ReplayTurn", "RunProgress", "Estimate", "estimate"]

log = logging.getLogger("chatbot.replay")
PERMISSION = "replays.run"


class _Worker:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.closing = threading.Event()  # the app stops: an offline run's batch goes on
        self.finished = threading.Event()


class ReplayService:
    """Plans, runs, resumes and reports replay runs. One per process, thread-safe."""

    def __init__(
        self,
        *,
        engine: Engine,
        client: LLMClient,
        personas: PersonaService,
        checks: ChecksService | None = None,
        budgets: object | None = None,  # BudgetService: check(purpose, owner), after_call(owner)
        judge: object | None = None,  # JudgeService (for_turn), or a plain checks.Judge callable
        context_tokens: int | None = None,
        concurrency: int = 4,
        slice_size: int | None = None,
        max_runs: int = 2,
        batch_poll_interval: float = 30.0,  # seconds between polls of an offline run's batch
        batch_sleep: Callable[[float], None] | None = None,  # tests: a fake, never sleeping
        access: Access | None = None,
    ) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))
        self.personas = personas
        self.checks = checks or ChecksService(engine)
        self.context_tokens = context_tokens
        self.runner = ReplayRunner(engine=engine, client=client, budgets=budgets, judge=judge,
                                   concurrency=concurrency, slice_size=slice_size)
        self.offline = OfflineReplay(self.runner, poll_interval=batch_poll_interval, sleep=batch_sleep)
        self._seen: dict[int, BatchInfo] = {}  # run id -> its batch as last polled here
        self._pool = ThreadPoolExecutor(max_workers=max_runs, thread_name_prefix="replay")
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()

    # -- planning -------------------------------------------------------------------------

    def plan(
        self, conversation_ids: Sequence[int], target: ReplayTarget, *, owner: str, missing_ok: bool = False
    ) -> list[ReplayTurn]:
        """Every turn to send, in conversation order, on `owner`'s account. NotFoundError for
        a gone conversation (skipped with `missing_ok`); InputError when the target cannot be
        rendered for one. Internal (preview, start and the worker): it asks no policy."""
        version = self._target_version(target)
        turns: list[ReplayTurn] = []
        for conversation_id in dict.fromkeys(conversation_ids):  # once each, in order
            transcript = load_transcript(self.engine, conversation_id)
            if transcript is None:
                if missing_ok:
                    continue
                raise NotFoundError(f"Conversation {conversation_id} no longer exists; remove it from the selection.")
            conversation, messages = transcript.conversation, transcript.messages
            key = target.persona or conversation.persona
            number = version if target.persona else conversation.persona_version
            if number is None:  # started before versions were recorded: the chat's rule
                number = self.personas.published(key).number
            try:
                turns += plan_conversation(
                    conversation_id, messages, persona=key, persona_version=number,
                    spec=self.personas.spec(key, number), variables=conversation.persona_vars,
                    user_id=opaque_user(owner), model=target.model, context_tokens=self.context_tokens,
                )
            except ChatbotError as error:
                raise InputError(
                    f"Conversation {conversation_id} ({conversation.title!r}) cannot be replayed on "
                    f"{key} v{number}: {error.user_message}"
                ) from error
        return turns

    @staticmethod
    def estimate(turns: Sequence[ReplayTurn], *, mode: str = "live") -> Estimate:
        return estimate(turns, batch=check_mode(mode) == "offline")

    def preview(
        self, actor: Actor, conversation_ids: Sequence[int], target: ReplayTarget, *, mode: str = "live"
    ) -> Estimate:
        """What the page shows before start: turns, tokens and cost (None: unpriced)."""
        self.access.require(actor, PERMISSION)
        return self.estimate(self.plan(conversation_ids, target, owner=actor.username), mode=mode)

    def _target_version(self, target: ReplayTarget) -> int | None:
        if not target.persona:
            if target.version is not None:
                raise InputError("Choose the persona the version belongs to.")
            return None
        if target.version is None:
            return self.personas.latest_number(target.persona)
        return self.personas.version(target.persona, target.version).number  # NotFoundError if absent

    # -- runs -----------------------------------------------------------------------------

    def start(
        self,
        actor: Actor,
        conversation_ids: Sequence[int],
        target: ReplayTarget,
        check_ids: Sequence[int] = (),
        *,
        label: str = "",
        mode: str = "live",
    ) -> int:
        """Create the run and start it in the background; returns its id. Refuses (nothing
        stored or sent) when over budget, when there is nothing to replay, or when a
        conversation or check is gone. `mode` "offline" sends every turn as one Message
        Batch: half the price, answered within 24 hours."""
        self.access.require(actor, PERMISSION)
        return self._start(actor, conversation_ids, target, check_ids, label=label, mode=mode)

    def _start(
        self, actor: Actor, conversation_ids: Sequence[int], target: ReplayTarget, check_ids: Sequence[int],
        *, label: str, mode: str,
    ) -> int:
        by = actor.username
        check_mode(mode)
        self.runner.check_budget(by)
        # Pinned now: "the newest version" must not move if a draft is saved mid-run.
        target = dataclasses.replace(target, version=self._target_version(target))
        turns = self.plan(conversation_ids, target, owner=by)
        if not turns:
            raise InputError("These conversations have no replies to replay yet.")
        checks = self.checks.many(list(check_ids))
        expected = self.estimate(turns, mode=mode)
        if mode == "offline":  # paid as a whole: the budget must hold all of it
            self.runner.check_budget(by, upfront_usd=expected.cost_usd)
        with store.write_session(self.engine) as session:
            run = rows.create_run(
                session=session,
                label=label.strip() or f"Replay on {target.describe()}",
                persona=target.persona,
                persona_version=target.version,
                model=target.model,
                conversation_ids=list(dict.fromkeys(conversation_ids)),
                check_ids=[c.id for c in checks],
                turns_total=len(turns),
                estimated_cost_usd=expected.cost_usd,
                created_by=by,
                mode=mode,
            )
            run_id = run.id
            self.access.audit.append(session, actor, "replay.start", target=f"replay:{run_id}",
                                     detail=f"{target.describe()}, {len(turns)} turns, {mode}")
        self._launch(run_id, retry_errors=False)
        return run_id  # type: ignore[return-value]

    def replay_golden(
        self, actor: Actor, persona_key: str, version: int | None, *, check_ids: Sequence[int] = (),
        model: str | None = None, mode: str = "live",
    ) -> int:
        """Replay every conversation of the golden set against a (draft) persona version."""
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            golden = rows.golden_conversation_ids(session=session)
        if not golden:
            raise InputError("The golden set is empty: add conversations to it first.")
        number = self._target_version(ReplayTarget(persona_key, version, model))
        return self._start(actor, golden, ReplayTarget(persona_key, number, model), check_ids,
                           label=f"Golden set on {persona_key} v{number}", mode=mode)

    def resume(self, actor: Actor, run_id: int, *, retry_errors: bool = True) -> None:
        """Send the turns the run does not have yet (after a cancel, a failure or a dead
        process). The run stays on its creator's account, whoever resumes it."""
        self.access.require(actor, PERMISSION)
        run = self._run(run_id)
        if self._active(run_id):
            raise InputError("This run is still going; wait for it or cancel it first.")
        self.runner.check_budget(run.created_by)
        with store.write_session(self.engine) as session:
            self.access.audit.append(session, actor, "replay.resume", target=f"replay:{run_id}",
                                     detail=f"{run.status}, {run.turns_done} of {run.turns_total} turns done")
            # Last in the transaction: a launch refused ("already going") records nothing.
            self._launch(run_id, retry_errors=retry_errors)

    def cancel(self, actor: Actor, run_id: int) -> None:
        """Stop sending; calls in flight finish and are kept (an offline run's batch is
        cancelled at the provider, and what it answered before is saved). A run with no
        worker here (interrupted) is marked cancelled, its batch cancelled too; one that
        has ended is left as it is."""
        self.access.require(actor, PERMISSION)
        batch_id = None
        with store.write_session(self.engine) as session:
            run = self._run(run_id, session)
            with self._lock:
                worker = self._workers.get(run_id)
            if worker is None and run.status not in ACTIVE:
                return
            self.access.audit.append(session, actor, "replay.cancel", target=f"replay:{run_id}",
                                     detail=f"{run.status} -> cancelled, {run.turns_done} of {run.turns_total} turns done")
            if worker is None:
                batch_id = run.provider_batch_id
                rows.set_run(session=session, run_id=run_id, status="cancelled", finished_at=store.utc_now())
        if worker is not None:
            worker.cancel.set()  # the worker records "cancelled" when it stops
        if batch_id:
            self.offline.cancel_batch(batch_id)  # a resume saves what it had answered

    def is_active(self, actor: Actor, run_id: int) -> bool:
        self.access.require(actor, PERMISSION)
        return self._active(run_id)

    def _active(self, run_id: int) -> bool:
        with self._lock:
            return run_id in self._workers

    def wait(self, run_id: int, timeout: float | None = None) -> bool:
        """Block until the run's worker ends (True) or `timeout` passes (False)."""
        with self._lock:
            worker = self._workers.get(run_id)
        return True if worker is None else worker.finished.wait(timeout)

    def progress(self, actor: Actor, run_id: int) -> RunProgress:
        self.access.require(actor, PERMISSION)
        return self._progress(self._run(run_id))

    def runs(self, actor: Actor, limit: int = 50) -> builtins.list[RunProgress]:
        """Every run, newest first: QA share them (there is no per-person rule for runs)."""
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            return [self._progress(run) for run in rows.list_runs(session=session, limit=limit)]

    def close(self) -> None:
        """Stop every run (calls in flight finish and are saved), then the pool."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.closing.set()
            worker.cancel.set()
        self._pool.shutdown(wait=True)

    # -- views ----------------------------------------------------------------------------

    def results(self, actor: Actor, run_id: int) -> builtins.list[TurnComparison]:
        """Per turn, in conversation order: original vs replayed reply, diff, deltas, checks."""
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            self._run(run_id, session)
            results = rows.list_results(session=session, run_id=run_id)
            verdicts = rows.check_results(session=session, result_ids=[r.id for r in results])
            messages = {
                cid: store.list_messages(session=session, conversation_id=cid)
                for cid in dict.fromkeys(r.conversation_id for r in results)
            }
            names = self._check_names(session)
        shown = []
        for result in results:
            history = messages[result.conversation_id]
            index = next(i for i, m in enumerate(history) if m.id == result.source_message_id)
            before = turns_from_messages(history[:index])
            question = before[-1].content if before and before[-1].role == "user" else ""
            shown.append(compare(history[index], result, verdicts.get(result.id, []),
                                 question=str(question), check_names=names))
        return shown

    def pass_rates(self, actor: Actor, persona: str | None = None) -> builtins.list[PassRate]:
        """Per persona version and model, over every run: turns, errors, pass rate per check
        and overall (see `replay_views.baseline` for the version to compare with)."""
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            grades = rows.grade_rows(session=session, persona=persona)
            names = self._check_names(session)
        return pass_rates(grades, names)

    @staticmethod
    def _check_names(session: Session) -> dict[int, str]:
        # Not through the checks service: naming a run's verdicts is part of reading the run.
        return {c.id: c.name for c in check_rows.list_checks(session=session, include_archived=True)}  # type: ignore[misc]

    # -- the worker -----------------------------------------------------------------------

    def _launch(self, run_id: int, *, retry_errors: bool) -> None:
        with self._lock:
            if run_id in self._workers:
                raise InputError("This run is already going.")
            worker = self._workers[run_id] = _Worker()
        try:
            self._pool.submit(self._work, run_id, worker, retry_errors)
        except RuntimeError:  # the pool is shut down: the process is stopping
            with self._lock:
                self._workers.pop(run_id, None)
            raise InputError("The app is shutting down; resume the run after it restarts.") from None

    def _work(self, run_id: int, worker: _Worker, retry_errors: bool) -> None:
        try:
            status, error = self._execute(run_id, worker, retry_errors), None
        except ChatbotError as exc:  # a budget refusal, a persona that no longer renders...
            status, error = "failed", exc.user_message
            log.warning("replay run %s stopped: %s", run_id, exc)
        except Exception as exc:  # the worker must never die silently
            log.exception("replay run %s crashed", run_id)
            status, error = "failed", f"The replay stopped on an unexpected error ({type(exc).__name__})."
        try:
            with store.write_session(self.engine) as session:
                rows.set_run(session=session, run_id=run_id, status=status, error=error,
                             finished_at=None if status in ACTIVE else store.utc_now())
        except Exception:
            log.exception("could not record the end of replay run %s", run_id)
        finally:
            with self._lock:
                self._workers.pop(run_id, None)
            worker.finished.set()

    def _execute(self, run_id: int, worker: _Worker, retry_errors: bool) -> str:
        run = self._run(run_id)
        target = ReplayTarget(run.persona, run.persona_version, run.model)
        turns = self.plan(run.conversation_ids, target, owner=run.created_by, missing_ok=True)
        checks = self.checks.many(run.check_ids) if run.check_ids else []
        if run.mode == "offline":
            return self.offline.run(run, turns, checks, cancel=worker.cancel, closing=worker.closing,
                                    retry_errors=retry_errors, on_batch=lambda info: self._saw(run_id, info))
        return self.runner.run(run, turns, checks, cancel=worker.cancel, retry_errors=retry_errors)

    def _saw(self, run_id: int, info: BatchInfo) -> None:
        with self._lock:
            self._seen[run_id] = info

    # -- internals ------------------------------------------------------------------------

    def _run(self, run_id: int, session: Session | None = None) -> store.ReplayRun:
        if session is None:
            with store.read_session(self.engine) as session:
                return self._run(run_id, session)
        run = rows.get_run(session=session, run_id=run_id)
        if run is None:
            raise NotFoundError("That replay run no longer exists.")
        return run

    def _progress(self, run: store.ReplayRun) -> RunProgress:
        return progress_of(run, active=self._active(run.id), batch=self._seen.get(run.id))  # type: ignore[arg-type]
