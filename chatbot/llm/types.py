"""Plain data that goes into and comes out of the backend client."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]


def tokens_for_chars(chars: int) -> int:
    """A cheap upper-side token estimate (about 3.5 characters a token for English prose);
    the exact count costs an API call, and a slight over-estimate only errs on the safe side."""
    return (chars * 2 + 6) // 7


def estimate_tokens(text: str) -> int:
    return tokens_for_chars(len(text))


#: A turn's content: plain text, or the API's content blocks (tool_use, tool_result, text).
Content = str | Sequence[Mapping[str, Any]]


def content_chars(content: Content) -> int:
    """Characters a turn sends, for estimates; blocks count as their JSON."""
    if isinstance(content, str):
        return len(content)
    return len(json.dumps(list(content), default=str))


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: Content

    def to_wire(self) -> dict[str, Any]:
        content = self.content
        return {
            "role": self.role,
            "content": content if isinstance(content, str) else [dict(b) for b in content],
        }


@dataclass(frozen=True, slots=True)
class ToolUse:
    """A `tool_use` block of a reply: the model called tool `name` with `input`."""

    id: str
    name: str
    input: Any  # the parsed JSON the model produced; a dict when it followed the schema

    def to_block(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class ChatRequest:
    """One Messages API call, as our code thinks of it.

    >>> ChatRequest(model="claude-sonnet-4-5", messages=(Turn("user", "Hi"),)).to_body(stream=True)["stream"]
    True
    """

    model: str
    messages: Sequence[Turn]
    max_tokens: int = 1024
    system: str | None = None
    temperature: float | None = None
    stop_sequences: Sequence[str] = ()
    metadata: Mapping[str, str] | None = None
    # Mark the system prompt for Anthropic prompt caching (reads cost a tenth of input).
    cache_system: bool = False
    # Tool definitions ({"name", "description", "input_schema"}) and how to choose among
    # them, sent as given; `chatbot.llm.structured` uses them to force a JSON shape.
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: Mapping[str, Any] | None = None

    @property
    def input_tokens_estimate(self) -> int:
        """System prompt, turns and tools, estimated without a call (the rate limiter's
        reservation)."""
        chars = sum(content_chars(turn.content) for turn in self.messages) + len(self.system or "")
        if self.tools:
            chars += content_chars(self.tools)
        return tokens_for_chars(chars)

    def to_body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [t.to_wire() for t in self.messages],
        }
        if self.system and self.cache_system:
            body["system"] = [
                {"type": "text", "text": self.system, "cache_control": {"type": "ephemeral"}}
            ]
        elif self.system:
            body["system"] = self.system
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.stop_sequences:
            body["stop_sequences"] = list(self.stop_sequences)
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        if self.tools:
            body["tools"] = [dict(tool) for tool in self.tools]
        if self.tool_choice is not None:
            body["tool_choice"] = dict(self.tool_choice)
        if stream:
            body["stream"] = True
        return body


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def update(self, raw: Mapping[str, Any] | None) -> None:
        """Take the API's numbers; `message_delta` usage is cumulative, so overwrite."""
        if not raw:
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ):
            value = raw.get(name)
            if isinstance(value, int):
                setattr(self, name, value)


@dataclass
class Reply:
    """What a call produced: the whole text, or as much as arrived before it broke off."""

    text: str = ""
    tool_uses: list[ToolUse] = field(default_factory=list)
    model: str | None = None
    message_id: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    request_id: str | None = None
    ttft: float | None = None  # seconds from the call to the first text delta
    total: float = 0.0  # seconds for the whole call, retries included
    attempts: int = 1
    complete: bool = False  # True once `message_stop` (or a whole JSON reply) arrived
    cache_hit: bool = False  # served from the response cache: no call, nothing billed
    error: Exception | None = None

    @property
    def status(self) -> str:
        """How the reply is stored: complete, partial (some text, then a failure) or error."""
        if self.complete and self.error is None:
            return "complete"
        return "partial" if self.text else "error"
