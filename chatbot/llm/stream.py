"""One streaming reply: `ReplyStream` reads the SSE events of a Messages API call and
folds them into a `Reply`, retrying only before the first text delta reached the caller.
The policy it follows lives in pure modules (`retry.py`, `sse.py`, `accumulate.py`); the
connection and the key belong to the `LLMClient` that made it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from . import errors
from .accumulate import Snapshot, accumulate_event, parse_event
from .ratelimit import Reservation
from .sse import SSEDecoder
from .types import ChatRequest, Reply

if TYPE_CHECKING:
    from .client import LLMClient


def translate(exc: httpx.HTTPError) -> errors.LLMError:
    """httpx's exception -> ours; the message names the failure, never the request headers."""
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return errors.Timeout(f"{kind} timeout talking to the API")
    return errors.ConnectionFailed(f"connection to the API failed: {type(exc).__name__}")



class ReplyStream:
    """One streaming reply. Iterate it once for the text deltas; `result` always holds the
    reply so far (complete, or partial with `error` set). Closing it closes the connection.

    Retries happen only before the first delta reaches the caller: after that, a failure
    raises a `StreamError` and the text that arrived stays in `result` as a partial reply.
    """

    cache_hit = False

    def __init__(
        self,
        client: LLMClient,
        request: ChatRequest,
        *,
        cache_key: str | None = None,
        on_wait: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self._client = client
        self._on_wait = on_wait
        self._cancel = cancel
        self._request = request
        self._cache_key = cache_key
        self._reservation: Reservation | None = None
        self._response: httpx.Response | None = None
        self._snapshot = Snapshot()
        self._iterated = False
        self._result = Reply(model=request.model)

    @property
    def result(self) -> Reply:
        self._sync()
        return self._result

    def __enter__(self) -> ReplyStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def __iter__(self) -> Iterator[str]:
        if self._iterated:
            raise RuntimeError("a ReplyStream can be iterated only once")
        self._iterated = True
        return self._deltas()

    def text(self) -> str:
        """Drain the stream and return the whole text (raises like iteration does)."""
        for _ in self:
            pass
        return self.result.text

    def _deltas(self) -> Iterator[str]:
        client = self._client
        started = client._clock()
        result = self._result
        try:
            (first, events), result.attempts = client._with_retries(self._open, started)
            if first is not None:
                result.ttft = client._clock() - started
                yield first
            deadline = started + client.settings.timeouts.total
            yield from self._rest(events, deadline)
            if not self._snapshot.stopped:
                raise errors.StreamInterrupted("the stream ended before message_stop")
            result.complete = True
            if self._cache_key is not None and client.cache is not None:
                # Only here: errors, partial replies and early stops are never cached.
                client.cache.put(self._cache_key, self.result)
        except errors.LLMError as error:
            result.error = error
            if isinstance(error, errors.StreamError) and result.attempts:
                error.attempts = result.attempts
            raise
        finally:
            result.total = client._clock() - started
            if self._reservation is not None:
                usage = self._snapshot.usage
                self._reservation.settle(usage.output_tokens, input_tokens=usage.input_tokens or None)
            self.close()

    def _open(self) -> tuple[str | None, Iterator[dict[str, Any]]]:
        """One attempt: send, then read up to the first text delta (still retryable here)."""
        self.close()
        self._snapshot = Snapshot()
        self._reservation = self._client._acquire(self._request, self._on_wait, self._cancel)
        response = self._client._send(
            "/v1/messages", self._request.to_body(stream=True), stream=True
        )
        self._response = response
        self._result.request_id = response.headers.get("request-id")
        events = self._events(response)
        try:
            for event in events:
                text = accumulate_event(event, self._snapshot)
                if text:
                    return text, events
        except errors.LLMError as error:
            # Nothing reached the caller yet, so `is_retryable` decides as for any error.
            error.request_id = error.request_id or self._result.request_id
            raise
        if self._snapshot.stopped:
            return None, iter(())  # a complete reply with no text at all
        raise errors.StreamInterrupted(
            "the stream ended before any text", request_id=self._result.request_id
        )

    def _events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        decoder = SSEDecoder()
        try:
            for chunk in response.iter_bytes():
                for sse in decoder.feed(chunk):
                    event = parse_event(sse)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise translate(exc) from exc
        for sse in decoder.close():
            event = parse_event(sse)
            if event is not None:
                yield event

    def _rest(self, events: Iterator[dict[str, Any]], deadline: float) -> Iterator[str]:
        clock = self._client._clock
        snapshot = self._snapshot
        try:
            for event in events:
                text = accumulate_event(event, snapshot)
                if text:
                    yield text
                if clock() > deadline:
                    raise errors.Timeout("the reply took longer than the total timeout")
        except errors.TransportError as exc:
            # After text was shown nothing is retried: the reply ends here as partial.
            raise errors.StreamInterrupted(
                f"the stream broke off: {exc.message}", request_id=self._result.request_id
            ) from exc
        except errors.StreamErrorEvent as exc:
            exc.request_id = exc.request_id or self._result.request_id
            raise

    def _sync(self) -> None:
        s, r = self._snapshot, self._result
        r.text = s.text
        r.tool_uses = list(s.tool_uses)
        r.model = s.model or r.model
        r.message_id = s.message_id
        r.stop_reason = s.stop_reason
        r.stop_sequence = s.stop_sequence
        r.usage = s.usage
