"""Many independent calls at once, with bounded concurrency.

Each item goes through `LLMClient.create`, so it gets exactly the retry policy, error
mapping (and, once configured, rate limiting) of a single call: nothing here decides what
to retry or how to parse. One failing item becomes that item's error; the batch goes on.

    results = run_batch(client, requests, concurrency=20,
                        on_progress=lambda done, total: print(done, "/", total))
    for result in results:            # in input order
        print(result.reply.text if result.ok else result.error.user_message)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .client import LLMClient
from .errors import LLMError
from .types import ChatRequest, Reply

log = logging.getLogger("chatbot.llm.batch")


class BatchCancelled(LLMError):
    advice = "The batch was cancelled before this item was sent."


@dataclass
class BatchResult:
    index: int
    request: ChatRequest
    reply: Reply | None = None
    error: LLMError | None = None

    @property
    def ok(self) -> bool:
        return self.reply is not None and self.error is None


def run_batch(
    client: LLMClient,
    requests: Sequence[ChatRequest],
    *,
    concurrency: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[BatchResult], None] | None = None,
    use_cache: bool = True,
) -> list[BatchResult]:
    """Run `requests` with at most `concurrency` in flight; results in input order.

    `on_progress(done, total)` is called from worker threads after each item. Setting
    `cancel` stops items not yet sent (they end as `BatchCancelled`); calls in flight
    finish normally, so nothing already paid for is thrown away.

    `on_result(result)` is called from the worker thread as soon as an item finishes
    (cancelled ones included), before `on_progress`: a caller that saves each result
    there loses at most the calls in flight if the process dies. An exception it raises
    is logged and the batch goes on. `use_cache=False` sends every item even when the
    response cache holds an identical request (a replay must measure a new reply).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    total = len(requests)
    results = [BatchResult(index, request) for index, request in enumerate(requests)]
    done = 0
    lock = threading.Lock()

    def work(result: BatchResult) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():
            result.error = BatchCancelled("cancelled before sending")
        else:
            try:
                result.reply = client.create(result.request, use_cache=use_cache)
            except LLMError as error:
                result.error = error
            except Exception as error:  # one bad item must not sink the batch
                result.error = LLMError(f"unexpected failure: {type(error).__name__}: {error}")
        if on_result is not None:
            try:
                on_result(result)
            except Exception:  # nor may one failed save
                log.exception("on_result failed for batch item %d", result.index)
        with lock:
            done += 1
            finished = done
        if on_progress is not None:
            on_progress(finished, total)

    if total:
        with ThreadPoolExecutor(
            max_workers=min(concurrency, total), thread_name_prefix="batch"
        ) as pool:
            # The pool's queue is the bound: at most `concurrency` items run at once.
            for future in [pool.submit(work, result) for result in results]:
                future.result()
    return results
