"""The Message Batches API in the sandbox: envelope checks, a deterministic in-memory store
and the results file. No I/O here; `app.py` routes requests to a `BatchStore`.

Processing is simulated in polls, not in time, so tests drive it without sleeping. A batch
answers `in_progress` when created; after poll k (a `GET /v1/messages/batches/{id}`)
`total * k // polls_to_end` requests are processed, so the batch is `ended` exactly at
poll `polls_to_end` (default 1; 0 ends it on creation). `polls_to_end` comes from the
`x-sandbox-batch-polls` header of the create request, else `BatchStore.polls_to_end`.
`finish()` and `expire()` end batches at once, as success or as the 24-hour limit.

Each request's `params` is checked like a /v1/messages body only when it is processed, as
the real API does: a bad one becomes that request's `errored` result, never a 400 for the
batch. A succeeded result holds the same message /v1/messages would have answered.

Where the public docs do not say what the API answers (results of a batch still in
progress, deleting one, cancelling an ended one), we answer a 400 `invalid_request_error`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import replies, tools, wire
from .errors import ApiError, invalid_request
from .validation import validate_messages_request

MAX_REQUESTS = 100_000
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
EXPIRES_AFTER = 24 * 3600.0  # seconds from creation, as the real API
POLLS_HEADER = "x-sandbox-batch-polls"
PAGE_DEFAULT, PAGE_MAX = 20, 1000


def new_batch_id() -> str:
    return "msgbatch_" + secrets.token_hex(12)


def rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def check_envelope(body: Any) -> ApiError | None:
    """The checks that refuse a whole batch with a 400; `params` is only checked later."""
    if not isinstance(body, dict):
        return invalid_request("Input should be a valid dictionary")
    if "requests" not in body:
        return invalid_request("requests: Field required")
    items = body["requests"]
    if not isinstance(items, list):
        return invalid_request("requests: Input should be a valid list")
    if not items:
        return invalid_request("requests: List should have at least 1 item after validation, not 0")
    if len(items) > MAX_REQUESTS:
        return invalid_request(
            f"requests: List should have at most {MAX_REQUESTS} items after validation, not {len(items)}"
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"requests.{index}"
        if not isinstance(item, dict):
            return invalid_request(f"{where}: Input should be a valid dictionary")
        custom_id = item.get("custom_id")
        if custom_id is None:
            return invalid_request(f"{where}.custom_id: Field required")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            return invalid_request(f"{where}.custom_id: String should match pattern '{CUSTOM_ID.pattern}'")
        if custom_id in seen:
            return invalid_request(f"{where}.custom_id: duplicate custom_id {custom_id!r}; each must be unique")
        seen.add(custom_id)
        if "params" not in item:
            return invalid_request(f"{where}.params: Field required")
        if not isinstance(item["params"], dict):
            return invalid_request(f"{where}.params: Input should be a valid dictionary")
    return None


def parse_polls(raw: str | None) -> int | None:
    """The `x-sandbox-batch-polls` header: a whole number of polls, 0 or more."""
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ValueError("must be a whole number, 0 or more")
    return int(raw)


def process(params: dict[str, Any]) -> dict[str, Any]:
    """One request's result, made by the same validation and reply code as /v1/messages."""
    error = validate_messages_request(params)
    if error is None and params.get("stream"):
        error = invalid_request("stream: streaming is not supported in a message batch")
    if error is not None:
        return {"type": "errored", "error": wire.error_body(error.error_type, error.message, wire.new_request_id())}
    input_tokens = tools.prompt_tokens(params)
    message_id = wire.new_message_id()
    call = tools.answer(params)
    if call is not None:
        message = wire.tool_message_body(message_id, params["model"], call, input_tokens)
    else:
        message = wire.message_body(message_id, params["model"], replies.complete(params), input_tokens)
    return {"type": "succeeded", "message": message}


@dataclass
class Batch:
    id: str
    custom_ids: list[str]
    params: list[dict[str, Any]]
    polls_to_end: int
    created_at: float
    polls: int = 0
    results: list[dict[str, Any] | None] = field(default_factory=list)
    cancel_initiated_at: float | None = None
    ended_at: float | None = None

    @property
    def status(self) -> str:
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    @property
    def processed(self) -> int:
        return len(self.results)

    def counts(self) -> dict[str, int]:
        counts = {"processing": len(self.custom_ids) - self.processed}
        for kind in ("succeeded", "errored", "canceled", "expired"):
            counts[kind] = sum(1 for result in self.results if result and result["type"] == kind)
        return counts

    def to_wire(self, base_url: str) -> dict[str, Any]:
        ended = self.ended_at is not None
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.counts(),
            "ended_at": rfc3339(self.ended_at),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.created_at + EXPIRES_AFTER),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "results_url": f"{base_url.rstrip('/')}/v1/messages/batches/{self.id}/results" if ended else None,
        }

    def jsonl(self) -> bytes:
        lines = (
            json.dumps({"custom_id": custom_id, "result": result}, separators=(",", ":"))
            for custom_id, result in zip(self.custom_ids, self.results)
        )
        return ("\n".join(lines) + "\n").encode()


class BatchStore:
    """Thread-safe, in-memory batches: the server's thread serves them, a test's thread
    may `finish()` or `expire()` them. Newest first, like the API's list."""

    def __init__(self, *, polls_to_end: int = 1, clock: Callable[[], float] = time.time) -> None:
        self.default_polls = polls_to_end
        self.polls_to_end = polls_to_end
        self.clock = clock
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}

    def create(self, body: dict[str, Any], *, polls_to_end: int | None = None) -> Batch:
        """`body` must have passed `check_envelope`."""
        items = body["requests"]
        batch = Batch(
            id=new_batch_id(),
            custom_ids=[item["custom_id"] for item in items],
            params=[item["params"] for item in items],
            polls_to_end=self.polls_to_end if polls_to_end is None else polls_to_end,
            created_at=self.clock(),
        )
        with self._lock:
            self._batches[batch.id] = batch
            if batch.polls_to_end == 0:
                self._advance(batch, len(items))
        return batch

    def get(self, batch_id: str) -> Batch | ApiError:
        with self._lock:
            return self._batches.get(batch_id) or _not_found(batch_id)

    def _find(self, batch_id: str) -> Batch | ApiError:
        """The batch, or the API's 404 for it (callers hold the lock)."""
        batch = self._batches.get(batch_id)
        return _not_found(batch_id) if batch is None else batch

    def poll(self, batch_id: str) -> Batch | ApiError:
        """A retrieve: processes the next share of the batch, or ends a cancel."""
        with self._lock:
            batch = self._find(batch_id)
            if isinstance(batch, ApiError):
                return batch
            if batch.ended_at is None and self.clock() >= batch.created_at + EXPIRES_AFTER:
                self._end_remaining(batch, "expired")
            elif batch.ended_at is None:
                batch.polls += 1
                target = len(batch.custom_ids) * min(batch.polls, batch.polls_to_end) // max(1, batch.polls_to_end)
                self._advance(batch, target - batch.processed)
            return batch

    def cancel(self, batch_id: str) -> Batch | ApiError:
        with self._lock:
            batch = self._find(batch_id)
            if isinstance(batch, ApiError):
                return batch
            if batch.ended_at is not None:
                return invalid_request(f"message batch {batch_id} has already ended and cannot be canceled")
            if batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = self.clock()
            return batch

    def delete(self, batch_id: str) -> dict[str, str] | ApiError:
        with self._lock:
            batch = self._find(batch_id)
            if isinstance(batch, ApiError):
                return batch
            if batch.ended_at is None:
                return invalid_request(
                    f"message batch {batch_id} is still processing; cancel it and wait for it to end before deleting it"
                )
            del self._batches[batch_id]
            return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, batch_id: str) -> bytes | ApiError:
        with self._lock:
            batch = self._find(batch_id)
            if isinstance(batch, ApiError):
                return batch
            if batch.ended_at is None:
                return invalid_request(
                    f"message batch {batch_id} has not finished processing (processing_status: {batch.status}); "
                    "results are available once it has ended"
                )
            return batch.jsonl()

    def page(self, base_url: str, *, limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
        with self._lock:
            ordered = list(reversed(self._batches.values()))
            ids = [batch.id for batch in ordered]
            if after_id is not None:
                start = ids.index(after_id) + 1 if after_id in ids else len(ids)
                chosen = ordered[start : start + limit]
                has_more = start + limit < len(ordered)
            elif before_id is not None:
                stop = ids.index(before_id) if before_id in ids else 0
                chosen = ordered[max(0, stop - limit) : stop]
                has_more = stop - limit > 0
            else:
                chosen, has_more = ordered[:limit], len(ordered) > limit
            return {
                "data": [batch.to_wire(base_url) for batch in chosen],
                "has_more": has_more,
                "first_id": chosen[0].id if chosen else None,
                "last_id": chosen[-1].id if chosen else None,
            }

    def finish(self, batch_id: str | None = None) -> None:
        """End one batch (or all): every request is processed, or canceled if canceling."""
        with self._lock:
            for batch in self._select(batch_id):
                self._advance(batch, len(batch.custom_ids))

    def expire(self, batch_id: str | None = None) -> None:
        """End one batch (or all) as the 24-hour limit does: the rest become `expired`."""
        with self._lock:
            for batch in self._select(batch_id):
                if batch.ended_at is None:
                    self._end_remaining(batch, "expired")

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()
            self.polls_to_end = self.default_polls

    def _select(self, batch_id: str | None) -> list[Batch]:
        if batch_id is None:
            return list(self._batches.values())
        return [self._batches[batch_id]]

    def _advance(self, batch: Batch, count: int) -> None:
        if batch.ended_at is not None:
            return
        if batch.cancel_initiated_at is not None:
            # What was not processed before the cancel never will be.
            self._end_remaining(batch, "canceled")
            return
        start = batch.processed
        for params in batch.params[start : start + count]:
            batch.results.append(process(params))
        if batch.processed == len(batch.custom_ids):
            batch.ended_at = self.clock()

    def _end_remaining(self, batch: Batch, kind: str) -> None:
        batch.results.extend({"type": kind} for _ in range(len(batch.custom_ids) - batch.processed))
        batch.ended_at = self.clock()


def _not_found(batch_id: str) -> ApiError:
    return ApiError(404, "not_found_error", f"message batch not found: {batch_id}")


def page_limit(raw: str | None) -> int | ApiError:
    if raw is None:
        return PAGE_DEFAULT
    if not raw.strip().lstrip("-").isdigit():
        return invalid_request("limit: Input should be a valid integer")
    value = int(raw)
    if not 1 <= value <= PAGE_MAX:
        return invalid_request(f"limit: Input should be between 1 and {PAGE_MAX}")
    return value
