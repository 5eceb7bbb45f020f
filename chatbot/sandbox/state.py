"""What a running sandbox remembers: queued faults and the requests it received."""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from .batches import BatchStore
from .faults import Fault, FaultQueue, parse_faults

REQUEST_LOG_SIZE = 100
# Never recorded, so a test log or a debugging dump cannot leak a key.
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})


def loggable_request(path: str, body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    lowered = {name.lower(): value for name, value in headers.items()}
    return {
        "path": path,
        "body": body,
        "headers": {name: value for name, value in lowered.items() if name not in SECRET_HEADERS},
        "has_key": any(lowered.get(name, "").strip() for name in SECRET_HEADERS),
    }


class SandboxState:
    """Thread-safe access to the fault queue, the request log and the message batches
    (`batches`, a `BatchStore`) of one sandbox.

    >>> state = SandboxState()
    >>> state.add_faults([{"kind": "status", "status": 529}])
    >>> state.requests()
    []
    """

    def __init__(self) -> None:
        self.faults = FaultQueue()
        self.batches = BatchStore()
        self._lock = threading.Lock()
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def add_faults(self, specs: Iterable[Fault | dict[str, Any]]) -> None:
        """Parse every spec first so a bad one queues nothing."""
        self.faults.extend(parse_faults(list(specs) if isinstance(specs, (list, tuple)) else specs))

    def next_fault(self) -> Fault | None:
        return self.faults.pop()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._requests))

    def clear_faults(self) -> None:
        self.faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def clear(self) -> None:
        self.clear_faults()
        self.clear_requests()
        self.batches.clear()
