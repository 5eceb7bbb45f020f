"""The Messages API wire format: response bodies, error bodies and SSE event sequences.

Pure builders; ids are passed in so the same inputs always give the same bytes.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .catalog import MODELS, ModelInfo
from .replies import Completion
from .tools import ToolAnswer

DELTA_PATTERN = re.compile(r"\s*\S+\s*")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def message_body(message_id: str, model: str, completion: Completion, input_tokens: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": completion.text}],
        "stop_reason": completion.stop_reason,
        "stop_sequence": completion.stop_sequence,
        "usage": usage(input_tokens, completion.output_tokens),
    }


def tool_message_body(message_id: str, model: str, call: ToolAnswer, input_tokens: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [call.block()],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": usage(input_tokens, call.output_tokens),
    }


def model_entry(model: ModelInfo) -> dict[str, str]:
    return {"type": "model", "id": model.id, "display_name": model.display_name, "created_at": model.created_at}


def models_page() -> dict[str, Any]:
    return {
        "data": [model_entry(model) for model in MODELS],
        "has_more": False,
        "first_id": MODELS[0].id,
        "last_id": MODELS[-1].id,
    }


def split_deltas(text: str) -> list[str]:
    """One chunk per word with its trailing whitespace, so the chunks join back to `text`."""
    return DELTA_PATTERN.findall(text)


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass(frozen=True)
class StreamEvents:
    """A reply as SSE: what precedes the text, one event per text delta, what closes it."""

    head: tuple[bytes, ...]
    deltas: tuple[bytes, ...]
    tail: tuple[bytes, ...]


def stream_events(message_id: str, model: str, completion: Completion, input_tokens: int) -> StreamEvents:
    start = message_body(message_id, model, completion, input_tokens)
    # message_start carries an empty message; the real API reports one output token so far.
    start.update(content=[], stop_reason=None, stop_sequence=None, usage=usage(input_tokens, 1))
    head = (
        sse_event("message_start", {"type": "message_start", "message": start}),
        sse_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        sse_event("ping", {"type": "ping"}),
    )
    deltas = tuple(
        sse_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
        )
        for chunk in split_deltas(completion.text)
    )
    tail = (
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": completion.stop_reason, "stop_sequence": completion.stop_sequence},
                "usage": usage(input_tokens, completion.output_tokens),
            },
        ),
        sse_event("message_stop", {"type": "message_stop"}),
    )
    return StreamEvents(head, deltas, tail)


def error_event(error_type: str, message: str) -> bytes:
    return sse_event("error", {"type": "error", "error": {"type": error_type, "message": message}})


def tool_stream_events(message_id: str, model: str, call: ToolAnswer, input_tokens: int) -> StreamEvents:
    """A tool call as SSE: the block starts with an empty input, the input follows as
    `input_json_delta` pieces of JSON text, and the message stops for `tool_use`."""
    start = tool_message_body(message_id, model, call, input_tokens)
    start.update(content=[], stop_reason=None, usage=usage(input_tokens, 1))
    head = (
        sse_event("message_start", {"type": "message_start", "message": start}),
        sse_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {**call.block(), "input": {}}},
        ),
        sse_event("ping", {"type": "ping"}),
    )
    deltas = tuple(
        sse_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": chunk}},
        )
        for chunk in split_deltas(json.dumps(call.input))
    )
    tail = (
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": usage(input_tokens, call.output_tokens),
            },
        ),
        sse_event("message_stop", {"type": "message_stop"}),
    )
    return StreamEvents(head, deltas, tail)
