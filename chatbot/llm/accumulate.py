"""Folding Messages API stream events into a reply: pure functions, no I/O.

Modelled on the official SDK's `accumulate_event(event, snapshot) -> snapshot`, kept small:
we only need the text blocks, tool calls (for structured output), the stop reason and the usage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import StreamErrorEvent
from .sse import SSEEvent
from .types import Reply, ToolUse, Usage


@dataclass(slots=True)
class Snapshot:
    """The message as known so far. `parts` is a list so that appending stays O(1)."""

    parts: list[str] = field(default_factory=list)
    message_id: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    started: bool = False
    stopped: bool = False
    tool_uses: list[ToolUse] = field(default_factory=list)
    # Streamed tool calls by block index: (id, name, partial JSON pieces) until their stop.
    open_tools: dict[int, tuple[str, str, list[str]]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.parts)


_raw_decode = json.JSONDecoder().raw_decode


def _loads(data: str) -> Any:
    # json.loads spends almost half its time in the two whitespace regexes around the
    # document. The API sends compact JSON, so decode bare first; anything else (padding,
    # trailing data, invalid JSON) gets json.loads' exact verdict.
    try:
        value, end = _raw_decode(data)
    except ValueError:
        return json.loads(data)
    return value if end == len(data) else json.loads(data)


def parse_event(sse: SSEEvent) -> dict[str, Any] | None:
    """The JSON payload of one SSE event, or None for events we have no use for."""
    if sse.event == "ping" or not sse.data:
        return None
    try:
        payload = _loads(sse.data)
    except ValueError:
        return None  # a stray non-JSON line is not worth failing a reply over
    if not isinstance(payload, dict):
        return None
    payload.setdefault("type", sse.event)
    return payload


def accumulate_event(event: dict[str, Any], snapshot: Snapshot) -> str | None:
    """Apply one event to `snapshot`; return the text it adds, if any.

    Raises `StreamErrorEvent` for an `error` event. Unknown event and delta types (thinking,
    citations, future ones) are ignored, as the API's versioning policy asks.
    """
    kind = event.get("type")
    if kind == "content_block_delta":
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            text = delta.get("text") or ""
            if text:
                snapshot.parts.append(text)
            return text or None
        if delta.get("type") == "input_json_delta":
            pending = snapshot.open_tools.get(event.get("index", -1))
            if pending is not None:
                pending[2].append(delta.get("partial_json") or "")
        return None
    if kind == "message_start":
        message = event.get("message") or {}
        snapshot.started = True
        snapshot.message_id = message.get("id")
        snapshot.model = message.get("model")
        snapshot.usage.update(message.get("usage"))
        for block in message.get("content") or ():
            if block.get("type") == "text" and block.get("text"):
                snapshot.parts.append(block["text"])
            elif block.get("type") == "tool_use":  # a whole (non-streaming) reply
                snapshot.tool_uses.append(_tool_use(block))
        return None
    if kind == "content_block_start":
        block = event.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            snapshot.parts.append(block["text"])
            return block["text"]
        if block.get("type") == "tool_use":
            snapshot.open_tools[event.get("index", -1)] = (
                block.get("id") or "", block.get("name") or "", []
            )
        return None
    if kind == "content_block_stop":
        pending = snapshot.open_tools.pop(event.get("index", -1), None)
        if pending is not None:
            raw = "".join(pending[2])
            # The input arrives as JSON text in pieces; an empty input is the object {}.
            # Unparsable text is kept as the string, for the caller's validation to report.
            try:
                value = _loads(raw) if raw.strip() else {}
            except ValueError:
                value = raw
            snapshot.tool_uses.append(ToolUse(pending[0], pending[1], value))
        return None
    if kind == "message_delta":
        delta = event.get("delta") or {}
        snapshot.stop_reason = delta.get("stop_reason", snapshot.stop_reason)
        snapshot.stop_sequence = delta.get("stop_sequence", snapshot.stop_sequence)
        snapshot.usage.update(event.get("usage"))
        return None
    if kind == "message_stop":
        snapshot.stopped = True
        return None
    if kind == "error":
        error = event.get("error") or {}
        raise StreamErrorEvent(
            error.get("message") or "The API reported an error mid-stream",
            error_type=error.get("type") or "api_error",
        )
    return None


def _tool_use(block: dict[str, Any]) -> ToolUse:
    value = block.get("input")
    return ToolUse(block.get("id") or "", block.get("name") or "", value if value is not None else {})


def reply_from_message(message: dict[str, Any], *, request_id: str | None = None) -> Reply:
    """A whole (non-streaming) message JSON as a complete `Reply`: the one conversion for
    `LLMClient.create` and message batch results, folded by the same `accumulate_event`."""
    snapshot = Snapshot()
    accumulate_event({"type": "message_start", "message": message}, snapshot)
    accumulate_event({"type": "message_delta", "delta": message, "usage": message.get("usage")}, snapshot)
    return Reply(
        text=snapshot.text,
        tool_uses=list(snapshot.tool_uses),
        model=snapshot.model,
        message_id=snapshot.message_id,
        stop_reason=snapshot.stop_reason,
        stop_sequence=snapshot.stop_sequence,
        usage=snapshot.usage,
        request_id=request_id,
        complete=True,
    )


def accumulate(events: Iterable[SSEEvent]) -> Snapshot:
    """Fold a whole recorded stream; handy for tests and replays."""
    snapshot = Snapshot()
    for sse in events:
        payload = parse_event(sse)
        if payload is not None:
            accumulate_event(payload, snapshot)
    return snapshot
