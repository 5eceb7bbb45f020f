"""Turning stored messages into the `messages` of a request, within the model's context
budget. Pure functions: the database is never touched here, and nothing left out of a
request is ever left out of the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chatbot.llm import ChatRequest, Turn
from chatbot.llm.types import estimate_tokens
from chatbot.personas import PersonaSpec

# Context windows by model family, as data. Unknown models get the conservative default.
CONTEXT_WINDOWS: dict[str, int] = {
    "claude-opus-": 200_000,
    "claude-sonnet-": 200_000,
    "claude-haiku-": 200_000,
    "claude-3": 200_000,
}
DEFAULT_CONTEXT_WINDOW = 200_000

# The shortest prompt prefix the API will cache, by model family; shorter ones are sent
# without cache_control (marking them would be ignored anyway). Unknown: the larger one.
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-sonnet-": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4-0": 1024,
    "claude-opus-": 4096,
    "claude-haiku-": 4096,
    "claude-3-5-haiku": 2048,
}
DEFAULT_MIN_CACHEABLE = 4096

# Per-message framing the API adds around each turn, in tokens (an over-estimate is safe).
_TURN_OVERHEAD = 8


class StoredMessage(Protocol):
    role: str
    content: str
    status: str


def context_window(model: str) -> int:
    for prefix, size in CONTEXT_WINDOWS.items():
        if model.startswith(prefix):
            return size
    return DEFAULT_CONTEXT_WINDOW


def min_cacheable(model: str) -> int:
    for prefix, size in MIN_CACHEABLE_TOKENS.items():
        if model.startswith(prefix):
            return size
    return DEFAULT_MIN_CACHEABLE


def turns_from_messages(messages: Iterable[StoredMessage]) -> list[Turn]:
    """The conversation as the API must see it: failed and in-progress replies left out,
    partial replies kept (the agent saw them), same-role neighbours merged so roles
    alternate, and the history starting with the user."""
    turns: list[Turn] = []
    for message in messages:
        if message.status in ("error", "streaming") or not message.content.strip():
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role, turns[-1].content + "\n\n" + message.content)
        else:
            turns.append(Turn(role, message.content))
    while turns and turns[0].role != "user":
        turns.pop(0)
    return turns


@dataclass(frozen=True)
class FittedHistory:
    turns: list[Turn]
    dropped: int  # turns left out of this request, oldest first
    tokens: int  # estimated tokens of system prompt + kept turns


def fit_history(
    turns: Sequence[Turn], *, system: str, budget_tokens: int
) -> FittedHistory:
    """Keep the newest turns that fit in `budget_tokens`, always at least the last user
    turn, and always starting on a user turn (the API requires it)."""
    used = estimate_tokens(system)
    kept = 0
    for turn in reversed(turns):
        cost = estimate_tokens(turn.content) + _TURN_OVERHEAD
        if kept and used + cost > budget_tokens:
            break
        used += cost
        kept += 1
    start = len(turns) - kept
    while start < len(turns) - 1 and turns[start].role != "user":
        used -= estimate_tokens(turns[start].content) + _TURN_OVERHEAD
        start += 1
    return FittedHistory(turns=list(turns[start:]), dropped=start, tokens=used)


def history_budget(model: str, max_tokens: int, configured: int | None) -> int:
    """Tokens the request's input may use: the configured budget, else the model's window
    less room for the reply."""
    if configured:
        return configured
    return context_window(model) - max_tokens


def build_request(
    spec: PersonaSpec,
    *,
    system: str,
    turns: Sequence[Turn],
    metadata: dict[str, str] | None = None,
) -> ChatRequest:
    """The Messages API call for a persona version: its model and sampling settings."""
    return ChatRequest(
        model=spec.model,
        messages=list(turns),
        max_tokens=spec.max_tokens,
        system=system,
        temperature=spec.temperature,
        stop_sequences=spec.stop_sequences,
        metadata=metadata,
        # The persona's prompt repeats on every turn of every conversation: worth caching
        # once it is long enough for the API to cache it at all.
        cache_system=estimate_tokens(system) >= min_cacheable(spec.model),
    )
