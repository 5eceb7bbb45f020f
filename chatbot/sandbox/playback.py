"""Turns a reply and an optional fault into a script the HTTP shell plays back.

A script is a list of actions: send these bytes, pause, or abort the connection. Keeping
the fault logic here means every fault kind can be checked without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .faults import DropFault, ErrorEventFault, Fault, StallFault, TruncateFault
from .wire import StreamEvents, error_event


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Abort:
    """Close the connection without finishing the body, like a network drop."""


Action = Union[Send, Pause, Abort]


def stream_script(events: StreamEvents, fault: Fault | None, delay_seconds: float = 0.0) -> list[Action]:
    script: list[Action] = [Send(event) for event in events.head]
    total = len(events.deltas)
    for index in range(total + 1):
        if _fires_at(fault, index, total):
            if isinstance(fault, StallFault):
                script.append(Pause(fault.seconds))
            else:
                return script + _interruption(fault)
        if index == total:
            break
        if index and delay_seconds > 0:
            script.append(Pause(delay_seconds))
        script.append(Send(events.deltas[index]))
    return script + [Send(event) for event in events.tail]


def _fires_at(fault: Fault | None, index: int, total: int) -> bool:
    """True once `index` deltas were sent and the fault's `after` is reached.

    An `after` beyond the reply's length fires before the closing events, so a queued
    fault is never silently lost on a short reply.
    """
    after = getattr(fault, "after", None)
    if after is None:
        return False
    return after == index or (index == total and after > total)


def _interruption(fault: Fault | None) -> list[Action]:
    if isinstance(fault, ErrorEventFault):
        return [Send(error_event(fault.error_type, fault.message))]
    if isinstance(fault, DropFault):
        return [Abort()]
    assert isinstance(fault, TruncateFault), fault
    return []


def json_script(body: bytes, fault: Fault | None) -> list[Action]:
    """A non-streaming body under a fault: drop sends half then aborts, stall pauses first.

    `truncate` and `error_event` do not apply here (error_event is turned into an error
    status by the caller); `after` is meaningless without deltas.
    """
    if isinstance(fault, DropFault):
        return [Send(body[: len(body) // 2]), Abort()]
    if isinstance(fault, StallFault):
        return [Pause(fault.seconds), Send(body)]
    return [Send(body)]
