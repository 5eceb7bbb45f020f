"""Deciding what an error is and whether, and when, to try again. Pure: no I/O, no clock
except the `now` passed in, no randomness except the `rng` passed in."""

from __future__ import annotations

import email.utils
import json
import random
import re
from collections.abc import Mapping
from typing import Any

from . import errors
from .settings import ClientSettings

# Status -> error class. 408/409 are the API's "try again" signals for timeouts and lock
# conflicts; the 5xx gateway family is transient by nature.
_BY_STATUS: dict[int, type[errors.APIStatusError]] = {
    400: errors.BadRequest,
    401: errors.AuthenticationFailed,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    408: errors.ServerError,
    409: errors.ServerError,
    413: errors.RequestTooLarge,
    429: errors.RateLimited,
    500: errors.ServerError,
    502: errors.ServerError,
    503: errors.ServerError,
    504: errors.ServerError,
    529: errors.Overloaded,
}

_SPEND_LIMIT = re.compile(r"spend(ing)? limit|usage limit|credit balance|billing", re.I)


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, else `retry-after` as seconds
    or as an HTTP date (relative to `now`, a UNIX time)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _should_retry_header(headers: Mapping[str, str]) -> bool | None:
    value = (headers.get("x-should-retry") or "").strip().lower()
    return {"true": True, "false": False}.get(value)


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: float
) -> errors.APIStatusError:
    """The exception for an error response, with the API's own type and message."""
    error_type = None
    message = None
    request_id = headers.get("request-id")
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict):
            error_type = inner.get("type")
            message = inner.get("message")
        request_id = request_id or payload.get("request_id")
    cls = _BY_STATUS.get(status) or (
        errors.ServerError if status >= 500 else errors.APIStatusError
    )
    if cls is errors.RateLimited and message and _SPEND_LIMIT.search(message):
        cls = errors.SpendLimitReached
    return cls(
        message or f"HTTP {status} from the API",
        status=status,
        error_type=error_type,
        request_id=request_id,
        retry_after=parse_retry_after(headers, now),
        should_retry=_should_retry_header(headers),
    )


def is_retryable(error: BaseException, settings: ClientSettings) -> bool:
    """Whether this error is worth another attempt, before any token reached the caller."""
    if not isinstance(error, errors.LLMError):
        return False
    if isinstance(error, errors.SpendLimitReached):
        return False  # a header cannot make waiting useful here
    if error.should_retry is not None:
        return error.should_retry
    if not error.retryable:
        return False
    # A server asking for a longer pause than we are willing to hold a person for.
    return error.retry_after is None or error.retry_after <= settings.max_retry_wait


def retry_delay(
    error: BaseException | None, attempt: int, settings: ClientSettings, rng: random.Random
) -> float:
    """Seconds to wait before attempt `attempt + 1`: the server's word if it gave one,
    else exponential backoff with jitter (so many sessions do not retry in step)."""
    if isinstance(error, errors.LLMError) and error.retry_after is not None:
        return error.retry_after
    base = min(settings.backoff_max, settings.backoff_initial * (2 ** (attempt - 1)))
    return base * (1 - 0.25 * rng.random())
