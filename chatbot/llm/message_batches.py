"""The Message Batches API: many calls submitted at once, answered within 24 hours, billed
at half price (`chatbot.pricing.cost(..., batch=True)`). For offline work where the wait
is acceptable: QA replays, bulk summaries. Not to be confused with `batch.run_batch`, which
makes ordinary concurrent calls and answers in seconds at the full price.

Every HTTP call goes through the `LLMClient`'s own send, error mapping and retry policy;
this module only knows the batch endpoints' shapes.

    batches = MessageBatches(client)
    info = batches.submit([("conv-17", request17), ("conv-18", request18)])
    info = batches.wait(info.id, poll_interval=60, on_progress=lambda i: print(i.counts))
    for custom_id, outcome in batches.results(info):
        if isinstance(outcome, LLMError):
            print(custom_id, outcome.user_message)
        else:
            print(custom_id, outcome.text, outcome.usage)

Results come in no guaranteed order on the real API: match them by `custom_id`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from . import errors
from .accumulate import reply_from_message
from .batch import BatchCancelled
from .client import LLMClient
from .retry import error_from_response
from .stream import translate
from .types import ChatRequest, Reply

log = logging.getLogger("chatbot.llm.message_batches")

PATH = "/v1/messages/batches"
MAX_REQUESTS = 100_000
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# An errored item carries only the API's error type; the status it would have had picks
# our error class through the same table as a failed call (retry.error_from_response).
_STATUS_FOR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class BatchItemExpired(errors.LLMError):
    """The batch reached its 24-hour limit before this item was processed."""

    advice = "The batch ran out of time before this item was answered. Submit it again."


class BatchWaitTimeout(errors.LLMError):
    """`wait` gave up before the batch ended; the batch itself goes on (and is billed)."""

    advice = "The batch has not finished yet. Check again later; its results are kept for 29 days."


@dataclass(frozen=True)
class BatchCounts:
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired

    @property
    def done(self) -> int:
        return self.total - self.processing


@dataclass(frozen=True)
class BatchInfo:
    """A message batch as last seen: `status` is in_progress, canceling or ended."""

    id: str
    status: str
    counts: BatchCounts
    created_at: datetime | None = None
    ended_at: datetime | None = None
    expires_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results_url: str | None = None

    @property
    def ended(self) -> bool:
        return self.status == "ended"

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> BatchInfo:
        counts = payload.get("request_counts") or {}
        return cls(
            id=payload["id"],
            status=payload.get("processing_status") or "in_progress",
            counts=BatchCounts(**{name: int(counts.get(name) or 0) for name in BatchCounts.__dataclass_fields__}),
            created_at=_time(payload.get("created_at")),
            ended_at=_time(payload.get("ended_at")),
            expires_at=_time(payload.get("expires_at")),
            cancel_initiated_at=_time(payload.get("cancel_initiated_at")),
            results_url=payload.get("results_url"),
        )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None  # a timestamp we cannot read is not worth failing a poll over


def outcome_from_result(result: dict[str, Any]) -> Reply | errors.LLMError:
    """One line's `result` as a `Reply` (usage included) or the error the item ended with."""
    kind = result.get("type")
    if kind == "succeeded":
        return reply_from_message(result.get("message") or {})
    if kind == "errored":
        body = result.get("error") or {}
        inner = body.get("error") if isinstance(body.get("error"), dict) else {}
        status = _STATUS_FOR_TYPE.get(inner.get("type") or "", 500)
        headers = {"request-id": body["request_id"]} if body.get("request_id") else {}
        return error_from_response(status, headers, json.dumps(body).encode(), now=time.time())
    if kind == "canceled":
        return BatchCancelled("the batch was canceled before this item was processed", error_type="canceled")
    if kind == "expired":
        return BatchItemExpired("the batch expired before this item was processed", error_type="expired")
    return errors.LLMError(f"unknown batch result type {kind!r}", error_type=str(kind))


def _parse_line(line: str) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not isinstance(entry.get("custom_id"), str):
        raise errors.LLMError("the batch results file has a line that is not a result", error_type="invalid_results")
    return entry


def batch_body(items: Sequence[tuple[str, ChatRequest]]) -> dict[str, Any]:
    """The create body; refuses (ValueError) what the API would refuse for the whole batch."""
    if not 1 <= len(items) <= MAX_REQUESTS:
        raise ValueError(f"a message batch holds 1 to {MAX_REQUESTS} requests, not {len(items)}")
    seen: set[str] = set()
    for custom_id, _ in items:
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise ValueError(f"custom_id {custom_id!r} must be 1-64 letters, digits, '_' or '-'")
        if custom_id in seen:
            raise ValueError(f"custom_id {custom_id!r} is used twice; each must be unique")
        seen.add(custom_id)
    return {
        "requests": [{"custom_id": cid, "params": request.to_body(stream=False)} for cid, request in items]
    }


class MessageBatches:
    """The batch endpoints, over an `LLMClient` (its key, transport and retry policy)."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    def submit(self, items: Sequence[tuple[str, ChatRequest]]) -> BatchInfo:
        """Create a batch of (custom_id, request); it starts processing at once.

        Retried like any call. A retry after a connection lost mid-request may create a
        second batch (the API has no idempotency key); `list` shows both if so.
        """
        body = batch_body(items)
        response = self._call(lambda: self._client._send(PATH, body, stream=False))
        info = BatchInfo.from_wire(response.json())
        log.info("submitted message batch %s with %d requests", info.id, len(items))
        return info

    def retrieve(self, batch_id: str) -> BatchInfo:
        return BatchInfo.from_wire(self._call(lambda: self._client._request("GET", self._path(batch_id))).json())

    def cancel(self, batch_id: str) -> BatchInfo:
        """Ask the API to stop: the batch goes `canceling`, then `ended` with the items it
        had not processed as canceled. Items already answered are kept (and billed)."""
        response = self._call(lambda: self._client._send(self._path(batch_id, "/cancel"), {}, stream=False))
        return BatchInfo.from_wire(response.json())

    def delete(self, batch_id: str) -> None:
        """Delete an ended batch and its results (the API refuses one still processing)."""
        self._call(lambda: self._client._request("DELETE", self._path(batch_id)))

    def list(self, *, page_size: int = 20) -> Iterator[BatchInfo]:
        """Every batch, newest first, fetched a page at a time."""
        params: dict[str, Any] = {"limit": page_size}
        while True:
            page = self._call(lambda: self._client._request("GET", PATH, params=dict(params))).json()
            for entry in page.get("data") or ():
                yield BatchInfo.from_wire(entry)
            if not page.get("has_more") or not page.get("last_id"):
                return
            params["after_id"] = page["last_id"]

    def wait(
        self,
        batch_id: str,
        *,
        poll_interval: float = 60.0,
        timeout: float = 25 * 3600.0,
        on_progress: Callable[[BatchInfo], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> BatchInfo:
        """Poll until the batch has ended and return it. `on_progress(info)` sees every
        poll. `timeout` counts the seconds slept between polls (the real API ends every
        batch within 24 h, so the default only guards against a stuck loop); when it runs
        out, `BatchWaitTimeout` is raised and the batch goes on. `sleep` defaults to the
        client's own (a test's fake)."""
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        sleep = sleep or self._client._sleep
        waited = 0.0
        while True:
            info = self.retrieve(batch_id)
            if on_progress is not None:
                on_progress(info)
            if info.ended:
                return info
            if waited + poll_interval > timeout:
                raise BatchWaitTimeout(
                    f"message batch {batch_id} still {info.status} after {waited:.0f} s "
                    f"({info.counts.done} of {info.counts.total} done)"
                )
            sleep(poll_interval)
            waited += poll_interval

    def results(self, batch: str | BatchInfo) -> Iterator[tuple[str, Reply | errors.LLMError]]:
        """(custom_id, Reply or the item's error) for every item of an ended batch, read
        line by line from the results file. Pass the `BatchInfo` that `wait` returned to
        save a retrieve; a batch that has not ended is refused by the API (`BadRequest`).
        Lazy: nothing is fetched, and nothing raised, until the first item is asked for."""
        info = batch if isinstance(batch, BatchInfo) else self.retrieve(batch)
        url = self._results_url(info)
        response = self._call(
            lambda: self._client._request("GET", url, headers={"accept": "application/binary"}, stream=True)
        )
        try:
            for line in response.iter_lines():
                if line.strip():
                    entry = _parse_line(line)
                    yield entry["custom_id"], outcome_from_result(entry.get("result") or {})
        except httpx.HTTPError as exc:
            raise translate(exc) from exc
        finally:
            response.close()

    def run(
        self, items: Sequence[tuple[str, ChatRequest]], **wait_options: Any
    ) -> dict[str, Reply | errors.LLMError]:
        """Submit, wait (same options as `wait`) and collect the outcomes by custom_id."""
        info = self.wait(self.submit(items).id, **wait_options)
        return dict(self.results(info))

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, fn: Callable[[], httpx.Response]) -> httpx.Response:
        response, _ = self._client._with_retries(fn, self._client._clock())
        return response

    @staticmethod
    def _path(batch_id: str, suffix: str = "") -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", batch_id or ""):
            raise ValueError(f"not a message batch id: {batch_id!r}")
        return f"{PATH}/{batch_id}{suffix}"

    def _results_url(self, info: BatchInfo) -> str:
        """The batch's `results_url`, as the API asks, but only on the API's own host: the
        key goes with the request, so a URL elsewhere is refused, never followed."""
        if not info.results_url:
            return self._path(info.id, "/results")  # not ended: let the API say so
        url = httpx.URL(info.results_url)
        base = self._client._http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise errors.ConfigurationError(
                f"results_url of message batch {info.id} is not on the API host; not following it"
            )
        return str(url)
