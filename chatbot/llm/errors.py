"""The backend client's exceptions. Everything it raises is an `LLMError`:

    LLMError                        base: .user_message, .status, .error_type, .request_id
    ├── ConfigurationError          the client is not set up to make calls (no key, bad URL)
    ├── TransportError              no usable HTTP response
    │   ├── ConnectionFailed        could not connect, or the connection dropped (retried)
    │   └── Timeout                 connect, read-between-chunks or total time ran out
    ├── APIStatusError              the API answered with an error status
    │   ├── BadRequest              400 invalid_request_error (never retried)
    │   ├── AuthenticationFailed    401 (never retried)
    │   ├── PermissionDenied        403 (never retried)
    │   ├── NotFound                404, e.g. an unknown model (never retried)
    │   ├── RequestTooLarge         413 (never retried)
    │   ├── RateLimited             429 (retried, honouring retry-after)
    │   │   ├── SpendLimitReached   429 because a spend limit was hit (never retried)
    │   │   ├── RateLimitWaitExceeded   (ratelimit.py) our limiter: capacity too far off
    │   │   └── RateLimitWaitCancelled  (ratelimit.py) stopped while waiting; nothing sent
    │   ├── ServerError             408, 409, 5xx (retried)
    │   └── Overloaded              529 overloaded_error (retried)
    ├── StreamError                 the stream broke after it started
    │   ├── StreamErrorEvent        the API sent an `error` event
    │   └── StreamInterrupted       the connection dropped, stalled or ended early
    ├── StructuredOutputError       structured output failed its schema, even after a repair
    ├── BatchCancelled              a batch item never sent: run_batch cancelled, or a
    │                               message batch canceled before the item (batch.py)
    ├── BatchItemExpired            a message batch hit its 24 h limit first (message_batches.py)
    └── BatchWaitTimeout            MessageBatches.wait gave up; the batch goes on

Pages catch `LLMError` and show `user_message`, which says what happened and what to do
next; `str(error)` adds the details for logs (status, type, request id). None of them ever
holds the API key: they are built from status codes and the API's own error text.
"""

from __future__ import annotations

from chatbot.errors import ChatbotError


class LLMError(ChatbotError):
    """Base of every error the backend client raises."""

    retryable = False
    #: What an agent reads; `{tries}` is filled with how often and how long we tried.
    advice = "The assistant could not answer. Try again; if it keeps failing, tell an admin."

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        self.retry_after = retry_after
        self.should_retry = should_retry
        self.attempts = 1
        self.elapsed = 0.0

    @property
    def user_message(self) -> str:
        text = self.advice
        if self.attempts > 1:
            text = text.replace(
                "{tries}", f"tried {self.attempts} times over {self.elapsed:.0f} s"
            )
        else:
            text = text.replace("; {tries}", "").replace("{tries}", "")
        return text

    def __str__(self) -> str:
        details = [
            f"status={self.status}" if self.status is not None else None,
            f"type={self.error_type}" if self.error_type else None,
            f"request_id={self.request_id}" if self.request_id else None,
            f"attempts={self.attempts}" if self.attempts > 1 else None,
        ]
        extra = ", ".join(d for d in details if d)
        return f"{self.message} ({extra})" if extra else self.message


class ConfigurationError(LLMError):
    advice = "The assistant is not configured correctly. Ask an admin to check the settings."


class TransportError(LLMError):
    retryable = True


class ConnectionFailed(TransportError):
    advice = (
        "Could not reach the assistant; {tries}. Check the network connection and try again."
    )


class Timeout(TransportError):
    advice = "The assistant took too long to answer; {tries}. Try again in a moment."


class APIStatusError(LLMError):
    """An error status from the API."""


class BadRequest(APIStatusError):
    advice = (
        "The request was refused as invalid. Edit the message and try again; "
        "if it keeps happening, tell an admin."
    )


class AuthenticationFailed(APIStatusError):
    advice = "The API key was rejected. An admin needs to check ANTHROPIC_API_KEY."


class PermissionDenied(APIStatusError):
    advice = "The API key may not use this model or feature. Ask an admin to check access."


class NotFound(APIStatusError):
    advice = "The model or endpoint was not found. Ask an admin to check the persona's model."


class RequestTooLarge(APIStatusError):
    advice = "The conversation is too large to send. Start a new conversation or shorten it."


class RateLimited(APIStatusError):
    retryable = True
    advice = (
        "The assistant is receiving too many requests; {tries}. Wait a minute and try again."
    )


class SpendLimitReached(RateLimited):
    retryable = False
    advice = "The API spend limit has been reached. An admin needs to raise it before chats can continue."


class ServerError(APIStatusError):
    retryable = True
    advice = "The assistant's service had an error; {tries}. Try again in a minute."


class Overloaded(APIStatusError):
    retryable = True
    advice = "The assistant is overloaded; {tries}. Try again in a minute."


class StreamError(LLMError):
    """The reply broke off after it started; what arrived is kept as a partial reply."""


class StreamErrorEvent(StreamError):
    advice = "The reply stopped because the assistant's service reported an error. Retry to get a full reply."

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # Before the first token it is just an error response that came late.
        return self.error_type in {"overloaded_error", "api_error", "rate_limit_error"}


class StreamInterrupted(StreamError):
    retryable = True
    advice = "The reply was cut off (the connection dropped). Retry to get a full reply."


class StructuredOutputError(LLMError):
    """The model's tool input did not match the schema, twice (first try and one repair).

    `problem` is the last validation report and `attempts` the calls made (each one billed);
    `chatbot.llm.structured` raises it, never the HTTP layer, so it is not retried.
    """

    advice = (
        "The assistant's answer did not have the expected shape, even after one correction. "
        "Try again; if it keeps failing, tell an admin (a smaller routed model may be too weak)."
    )

    def __init__(self, message: str, *, problem: str, attempts: list | None = None) -> None:
        super().__init__(message, error_type="invalid_output")
        self.problem = problem
        #: `chatbot.llm.structured.Attempt`s, so a caller can still account for their cost.
        self.structured_attempts = list(attempts or [])
        self.attempts = len(self.structured_attempts) or 1
