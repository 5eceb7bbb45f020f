"""Replies generated in background threads, independent of any page's script run.

Streamlit stops a script run whenever the agent clicks, reloads or switches page, so a
reply cannot live inside one. A `Generation` runs on a worker thread owned by the process;
page runs come and go and watch it through `deltas()`, which replays what already arrived
and then follows along. The database always has the latest saved text (see `chat.py`), so
the in-memory object is never the only copy of anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chatbot.errors import ChatbotError, ConversationBusy

log = logging.getLogger("chatbot.generation")


@dataclass(frozen=True)
class CapacityWait:
    """The reply is queued behind the rate limit; capacity is expected at `until` (epoch s)."""

    until: float

    def seconds_left(self, now: float | None = None) -> float:
        return max(0.0, self.until - (time.time() if now is None else now))


class Generation:
    """One reply in progress, watchable from any number of threads."""

    def __init__(self, conversation_id: int, message_id: int, *, dropped_turns: int = 0) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.dropped_turns = dropped_turns
        self.error: BaseException | None = None
        self._parts: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self._cancel = threading.Event()
        self._waiting: CapacityWait | None = None

    # -- the worker's side --------------------------------------------------------------

    def push(self, text: str) -> None:
        with self._cond:
            self._parts.append(text)
            self._waiting = None
            self._cond.notify_all()

    def waiting_for_capacity(self, seconds: float) -> None:
        """The client's `on_wait`: the request waits `seconds` for rate-limit capacity."""
        with self._cond:
            self._waiting = CapacityWait(time.time() + seconds)
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self.error = error
            self._done = True
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """Set by `cancel`: lets a wait for rate-limit capacity end at once."""
        return self._cancel

    # -- the watchers' side -------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the worker to stop; what arrived so far is kept as a partial reply."""
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def text(self) -> str:
        with self._cond:
            return "".join(self._parts)

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._done, timeout)

    @property
    def waiting(self) -> CapacityWait | None:
        """Set while the request waits for rate-limit capacity, until the first text."""
        with self._cond:
            return self._current_wait()

    def _current_wait(self) -> CapacityWait | None:
        # Only before the first text: once text flows, a wait is no longer news. Under _cond.
        return self._waiting if not self._parts and not self._done else None

    def deltas(self, poll: float = 0.5) -> Iterator[str]:
        """Everything so far as one chunk, then each new piece as it arrives, until done."""
        return (update for update in self.updates(poll) if isinstance(update, str))

    def updates(self, poll: float = 0.5) -> Iterator[str | CapacityWait]:
        """Like `deltas`, with a `CapacityWait` whenever the reply starts (or is already)
        waiting for rate-limit capacity, so a watcher can say why nothing is coming yet."""
        seen, told = 0, None
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._done or len(self._parts) > seen or self._waiting is not told,
                    poll,
                )
                new = self._parts[seen:]
                seen += len(new)
                finished = self._done and seen == len(self._parts)
                waiting = self._current_wait()
                fresh_wait = waiting is not None and waiting is not told
                told = self._waiting
            if fresh_wait:
                yield waiting
            if new:
                yield "".join(new)
            if finished:
                return


class Generations:
    """The process's generations: at most one per conversation, run on a bounded pool."""

    def __init__(self, max_workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="reply")
        self._active: dict[int, Generation] = {}
        self._lock = threading.Lock()

    def get(self, conversation_id: int) -> Generation | None:
        with self._lock:
            return self._active.get(conversation_id)

    def start(
        self, generation: Generation, work: Callable[[Generation], BaseException | None]
    ) -> Generation:
        """Run `work` on the pool; it returns the error the reply ended with, if any."""
        with self._lock:
            if generation.conversation_id in self._active:
                raise ConversationBusy(
                    "The assistant is still answering in this conversation; wait for it to finish."
                )
            self._active[generation.conversation_id] = generation

        def run() -> None:
            error: BaseException | None = None
            try:
                error = work(generation)
            except BaseException as exc:  # the worker must never die silently
                log.exception("reply generation failed for conversation %s", generation.conversation_id)
                error = exc if isinstance(exc, ChatbotError) else ChatbotError(str(exc))
            finally:
                # Unregister before waking watchers: a watcher that then reloads reads the
                # final row from the database, never a stale "in progress" entry.
                with self._lock:
                    self._active.pop(generation.conversation_id, None)
                generation.finish(error)

        self._pool.submit(run)
        return generation

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def active_message_ids(self) -> list[int]:
        with self._lock:
            return [g.message_id for g in self._active.values()]

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)
