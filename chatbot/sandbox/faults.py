"""Injected faults: what can go wrong with one /v1/messages request, parsed from JSON.

A fault is a flat JSON object with a `kind`:

    {"kind": "status", "status": 429, "error_type": "rate_limit_error", "message": "...",
     "retry_after": "2", "retry_after_ms": "10", "should_retry": true}
    {"kind": "error_event", "after": 3, "error_type": "overloaded_error", "message": "Overloaded"}
    {"kind": "drop", "after": 3}
    {"kind": "truncate", "after": 3}
    {"kind": "slow_first_byte", "seconds": 0.5}
    {"kind": "stall", "after": 3, "seconds": 0.5}
    {"kind": "bad_tool_input"}      a forced tool call whose input breaks the tool's schema

It comes from the `x-sandbox-fault` request header or, failing that, from a FIFO queue
filled through `POST /_sandbox/faults` or `SandboxState.add_faults`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Union, get_args

from .errors import STATUS_FOR_ERROR_TYPE, ApiError, default_error_type, default_message


class FaultSpecError(ValueError):
    """A fault object that cannot be understood; the message names the bad field."""


@dataclass(frozen=True)
class StatusFault:
    status: int
    error_type: str
    message: str
    retry_after: str | None = None
    retry_after_ms: str | None = None
    should_retry: bool | None = None

    def to_error(self) -> ApiError:
        headers = {}
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = self.retry_after_ms
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        return ApiError(self.status, self.error_type, self.message, headers)


@dataclass(frozen=True)
class ErrorEventFault:
    after: int
    error_type: str = "overloaded_error"
    message: str = "Overloaded"

    def to_error(self) -> ApiError:
        """The same failure where no stream is open to carry an event: an error status."""
        return ApiError(STATUS_FOR_ERROR_TYPE.get(self.error_type, 500), self.error_type, self.message)


@dataclass(frozen=True)
class DropFault:
    after: int = 0


@dataclass(frozen=True)
class TruncateFault:
    after: int = 0


@dataclass(frozen=True)
class SlowFirstByteFault:
    seconds: float


@dataclass(frozen=True)
class StallFault:
    after: int
    seconds: float


@dataclass(frozen=True)
class BadToolInputFault:
    """The reply is well-formed but its tool input is not (a no-op for a text reply)."""


Fault = Union[
    StatusFault, ErrorEventFault, DropFault, TruncateFault, SlowFirstByteFault, StallFault, BadToolInputFault
]
_FAULT_TYPES = get_args(Fault)


def parse_fault(spec: Any) -> Fault:
    if isinstance(spec, _FAULT_TYPES):
        return spec
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault must be a JSON object with a 'kind'")
    kind = spec.get("kind")
    if kind == "status":
        status = _int(spec, "status", minimum=400, maximum=599)
        return StatusFault(
            status=status,
            error_type=_str(spec, "error_type", default_error_type(status)),
            message=_str(spec, "message", default_message(status)),
            retry_after=_header_value(spec, "retry_after"),
            retry_after_ms=_header_value(spec, "retry_after_ms"),
            should_retry=_optional_bool(spec, "should_retry"),
        )
    if kind == "error_event":
        error_type = _str(spec, "error_type", "overloaded_error")
        default = "Overloaded" if error_type == "overloaded_error" else "Internal server error"
        return ErrorEventFault(_int(spec, "after", default=0), error_type, _str(spec, "message", default))
    if kind == "drop":
        return DropFault(_int(spec, "after", default=0))
    if kind == "truncate":
        return TruncateFault(_int(spec, "after", default=0))
    if kind == "slow_first_byte":
        return SlowFirstByteFault(_seconds(spec))
    if kind == "stall":
        return StallFault(_int(spec, "after", default=0), _seconds(spec))
    if kind == "bad_tool_input":
        return BadToolInputFault()
    raise FaultSpecError(f"unknown fault kind: {kind!r}")


def parse_faults(specs: Any) -> list[Fault]:
    if not isinstance(specs, list):
        raise FaultSpecError("'faults' must be a list of fault objects")
    return [parse_fault(spec) for spec in specs]


def _int(spec: dict, name: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int:
    value = spec.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FaultSpecError(f"{name}: must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        raise FaultSpecError(f"{name}: out of range")
    return value


def _seconds(spec: dict) -> float:
    value = spec.get("seconds")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise FaultSpecError("seconds: must be a non-negative number")
    return float(value)


def _str(spec: dict, name: str, default: str) -> str:
    value = spec.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise FaultSpecError(f"{name}: must be a string")
    return value


def _header_value(spec: dict, name: str) -> str | None:
    # Numbers are accepted for convenience; headers are strings on the wire.
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FaultSpecError(f"{name}: must be a string or a number")
    return str(value)


def _optional_bool(spec: dict, name: str) -> bool | None:
    value = spec.get(name)
    if value is not None and not isinstance(value, bool):
        raise FaultSpecError(f"{name}: must be true, false or null")
    return value


class FaultQueue:
    """A thread-safe FIFO: tests fill it from their thread, the server pops from its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Fault] = deque()

    def extend(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._items.extend(faults)

    def pop(self) -> Fault | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
