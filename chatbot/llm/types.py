"""Plain data that goes into and comes out of the backend client."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str


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

    @property
    def input_tokens_estimate(self) -> int:
        """System prompt and turns, estimated without a call (the rate limiter's reservation)."""
        chars = sum(len(turn.content) for turn in self.messages) + len(self.system or "")
        return tokens_for_chars(chars)

    def to_body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": t.role, "content": t.content} for t in self.messages],
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
