"""An optional request limit for the sandbox: at most N requests in any sliding window.

Stricter than the real API (a continuously refilled bucket), so a client that never gets a
429 here will not get one there either. Every /v1/messages response carries the API's
`anthropic-ratelimit-requests-*` headers; a refused request gets 429 with `retry-after`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

from .errors import ApiError

PREFIX = "anthropic-ratelimit-requests-"


class RequestWindow:
    """Admits a request if fewer than `limit` were admitted in the last `window` seconds.

    >>> window = RequestWindow(1, clock=lambda: 0.0, wall=lambda: 0.0)
    >>> window.admit(), window.admit()
    (True, False)
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the limit must be at least 1 request in a positive window")
        self.limit = limit
        self.window = window
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self.refused = 0  # how many 429s were sent: a benchmark's figure

    def admit(self) -> bool:
        """Count this request if there is room; refused requests do not count."""
        with self._lock:
            now = self._expire()
            if len(self._admitted) >= self.limit:
                self.refused += 1
                return False
            self._admitted.append(now)
            return True

    def headers(self) -> dict[str, str]:
        """The state as the API reports it: the limit per minute, what remains of it in the
        window, and (`reset`) when the window will be empty."""
        with self._lock:
            now = self._expire()
            newest = self._admitted[-1] if self._admitted else now - self.window
            reset = self._wall() + (newest + self.window - now)
            return {
                # The API's limit header is per minute, whatever window we count in.
                PREFIX + "limit": f"{self.limit * 60 / self.window:g}",
                PREFIX + "remaining": str(self.limit - len(self._admitted)),
                PREFIX + "reset": datetime.fromtimestamp(reset, tz=timezone.utc)
                .isoformat(timespec="seconds").replace("+00:00", "Z"),
            }

    def rejection(self) -> ApiError:
        """The 429 for a refused request: retry once the oldest request leaves the window."""
        with self._lock:
            now = self._expire()
            wait = self._admitted[0] + self.window - now if self._admitted else 0.0
        # Whole seconds, as the API sends them; rounding up so retrying then succeeds.
        return ApiError(
            429, "rate_limit_error",
            f"This request would exceed the rate limit of {self.limit} requests per "
            f"{self.window:g} s. Please slow down and retry later.",
            {"retry-after": str(max(1, math.ceil(wait)))},
        )

    def _expire(self) -> float:
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()
        return now
