"""The backend client: every model call in the product goes through `LLMClient`.

It owns the network and the API key. Policy (what to retry, how long to wait, how events
become a reply) lives in pure modules beside it (`retry.py`, `sse.py`, `accumulate.py`);
this module only does the I/O and maps httpx's exceptions onto ours at the boundary.

    client = LLMClient(load_client_settings())
    with client.stream(ChatRequest(model=..., messages=[Turn("user", "Hi")])) as reply:
        for text in reply:
            print(text, end="")
    print(reply.result.usage)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from . import errors
from .accumulate import reply_from_message
from .cache import CachedReplyStream, ResponseCache, cache_key, should_cache
from .ratelimit import RateLimiter, Reservation
from .retry import error_from_response, is_retryable, retry_delay
from .settings import API_VERSION, ClientSettings, Secret
from .stream import ReplyStream, translate
from .types import ChatRequest, Reply

log = logging.getLogger("chatbot.llm")
T = TypeVar("T")


class _ApiKeyAuth(httpx.Auth):
    """Adds the key to each request at the last moment, so it is never part of the client's
    default headers, its repr, or anything logged about it."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-api-key"] = self._key.reveal()
        yield request

    def __repr__(self) -> str:
        return "_ApiKeyAuth(key=<hidden>)"


class LLMClient:
    """A pooled, thread-safe client for the Messages API; create one per process."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        cache: ResponseCache | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.limiter = limiter
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        t = settings.timeouts
        self._http = httpx.Client(
            base_url=settings.base_url,
            auth=_ApiKeyAuth(settings.api_key),
            headers={
                "anthropic-version": API_VERSION,
                "content-type": "application/json",
                "user-agent": f"support-chatbot/0.1 httpx/{httpx.__version__}",
            },
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.connect),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        key = "set" if self.settings.has_key else "not set"
        return f"LLMClient(base_url={self.settings.base_url!r}, api_key={key})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------

    def create(self, request: ChatRequest, *, use_cache: bool = True) -> Reply:
        """One non-streaming call; retried as a whole on transient failures."""
        key = self._cache_key(request, use_cache)
        if key is not None and (hit := self.cache.get(key)) is not None:
            return hit.to_reply()
        started = self._clock()

        def attempt() -> Reply:
            reservation = self._acquire(request)
            response = self._send("/v1/messages", request.to_body(stream=False), stream=False)
            reply = reply_from_message(response.json(), request_id=response.headers.get("request-id"))
            if reservation is not None:
                usage = reply.usage
                reservation.settle(usage.output_tokens, input_tokens=usage.input_tokens or None)
            return reply

        reply, attempts = self._with_retries(attempt, started)
        reply.attempts = attempts
        reply.total = self._clock() - started
        reply.ttft = reply.total
        if key is not None:
            self.cache.put(key, reply)
        return reply

    def stream(
        self,
        request: ChatRequest,
        *,
        use_cache: bool = True,
        on_wait: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ReplyStream | CachedReplyStream:
        """A streaming call: iterate for text deltas, then read `.result`. An identical
        request answered within the cache's TTL streams from the cache (`cache_hit`).
        `on_wait(seconds)` is called when the rate limiter makes the call wait for capacity,
        so a page can say so instead of looking stuck; setting `cancel` ends that wait
        (`RateLimitWaitCancelled`, nothing sent)."""
        key = self._cache_key(request, use_cache)
        if key is not None and (hit := self.cache.get(key)) is not None:
            return CachedReplyStream(hit)
        return ReplyStream(self, request, cache_key=key, on_wait=on_wait, cancel=cancel)

    def _cache_key(self, request: ChatRequest, use_cache: bool) -> str | None:
        if self.cache is None or not should_cache(request, enabled=use_cache):
            return None
        return cache_key(request)

    def count_tokens(self, request: ChatRequest) -> int:
        body = request.to_body(stream=False)
        for name in ("max_tokens", "temperature", "stop_sequences", "metadata"):
            body.pop(name, None)
        started = self._clock()
        response, _ = self._with_retries(
            lambda: self._send("/v1/messages/count_tokens", body, stream=False), started
        )
        return int(response.json()["input_tokens"])

    def list_models(self) -> list[dict[str, Any]]:
        started = self._clock()
        response, _ = self._with_retries(lambda: self._request("GET", "/v1/models"), started)
        return list(response.json().get("data", []))

    # -- plumbing shared by every call ------------------------------------------------

    def _require_key(self) -> None:
        if not self.settings.has_key:
            raise errors.ConfigurationError(
                "No API key is configured: set ANTHROPIC_API_KEY, or unset it to use the sandbox"
            )

    def _acquire(
        self,
        request: ChatRequest,
        on_wait: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Reservation | None:
        """Wait for capacity under the client-side limits (never send just to get a 429).
        Every attempt takes capacity, retries included."""
        if self.limiter is None:
            return None
        return self.limiter.acquire(
            request.model,
            # corrected by `settle` once the API reports the real count
            input_tokens_estimate=request.input_tokens_estimate,
            max_wait=self.settings.max_retry_wait,
            user=(request.metadata or {}).get("user_id"),
            on_wait=on_wait,
            cancel=cancel,
        )

    def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        self._require_key()
        request = self._http.build_request("POST", path, json=body)
        limited = self.limiter is not None and path == "/v1/messages"
        try:
            response = self._dispatch(request, stream=stream)
        except errors.RateLimited as error:
            if limited and not isinstance(error, errors.SpendLimitReached):
                # The server's retry-after pauses every session, not just this one.
                self.limiter.observe_429(body["model"], error.retry_after)
            raise
        if limited:
            self.limiter.observe_headers(body["model"], response.headers)
        return response

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """A call without a body (GET, DELETE): not rate-limited, errors mapped as any call's."""
        self._require_key()
        request = self._http.build_request(method, url, params=params, headers=headers)
        return self._dispatch(request, stream=stream)

    def _dispatch(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise translate(exc) from exc
        if response.status_code >= 400:
            try:
                body = response.read()
            except httpx.HTTPError:
                body = b""
            finally:
                response.close()
            raise error_from_response(
                response.status_code, response.headers, body, now=time.time()
            )
        return response

    def _with_retries(self, fn: Callable[[], T], started: float) -> tuple[T, int]:
        """Run `fn` under the retry policy; returns its result and the attempts it took."""
        settings = self.settings
        state: dict[str, int] = {"attempts": 0}

        def counted() -> T:
            state["attempts"] += 1
            return fn()

        def wait(rs: RetryCallState) -> float:
            error = rs.outcome.exception() if rs.outcome else None
            return retry_delay(error, rs.attempt_number, settings, self._rng)

        def over_total(rs: RetryCallState) -> bool:
            elapsed = self._clock() - started
            return elapsed + (rs.upcoming_sleep or 0.0) > settings.timeouts.total

        def before_sleep(rs: RetryCallState) -> None:
            error = rs.outcome.exception() if rs.outcome else None
            log.warning(
                "retrying in %.2f s after %s (attempt %d of %d)",
                rs.upcoming_sleep,
                error,
                rs.attempt_number,
                settings.max_attempts,
            )

        retrying = Retrying(
            stop=stop_after_attempt(settings.max_attempts) | over_total,
            wait=wait,
            retry=retry_if_exception(lambda e: is_retryable(e, settings)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(counted), state["attempts"]
        except errors.LLMError as error:
            error.attempts = state["attempts"]
            error.elapsed = self._clock() - started
            raise
