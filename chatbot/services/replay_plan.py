"""Planning a replay: which requests to send, and what they will cost. Pure functions.

A conversation is replayed turn by turn *as it actually happened*: the request for each
original reply carries the original earlier messages (user and assistant, exactly as
stored), never the replayed ones, so every replayed reply answers the same situation the
original did. The request is built by the chat's own builder (`context.build_request`,
after `turns_from_messages` and `fit_history`), only with the target's persona version
and model, so a replay differs from the original call in nothing but the target.

Which turns are replayed (one per original assistant reply):
- a complete or partial reply with text is a turn; its history is everything before it,
  with the chat's own rules: failed and in-progress replies left out, partial replies kept
  as the agent saw them, neighbouring messages of one role merged;
- a reply that failed with no text is not a turn of its own (there is no original to
  compare with); the agent's message it failed on reaches the next reply's history merged
  with the next message, exactly as the chat sent it;
- a reply still streaming, and a last user message with no reply, are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from chatbot import pricing
from chatbot.errors import InputError
from chatbot.llm import ChatRequest, Usage
from chatbot.personas import PersonaSpec

from .context import StoredMessage, build_request, fit_history, history_budget, turns_from_messages

REPLAYABLE = ("complete", "partial")
# How a run is sent: live, each turn now at the list price; offline, every turn in one
# Message Batch, answered within 24 hours at half the price.
MODES = ("live", "offline")


@dataclass(frozen=True)
class ReplayTarget:
    """What to replay against. `persona` with `version` None means its newest version
    (the draft being worked on); no persona keeps each conversation's own version; no
    model keeps the persona version's model."""

    persona: str | None = None
    version: int | None = None
    model: str | None = None

    def describe(self) -> str:
        who = f"{self.persona} v{self.version}" if self.persona and self.version else self.persona
        parts = [who or "each conversation's own persona version"]
        if self.model:
            parts.append(f"on {self.model}")
        return " ".join(parts)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"Unknown replay mode {mode!r}: choose live or offline.")
    return mode


class SourceMessage(StoredMessage, Protocol):
    id: int
    position: int
    output_tokens: int | None


@dataclass(frozen=True)
class ReplayTurn:
    """One request to send, and the original reply it stands for."""

    conversation_id: int
    source_message_id: int  # the original assistant reply
    position: int  # of the original reply in its conversation
    question: str  # the user turn being answered (what a rubric judge reads)
    original_text: str
    original_output_tokens: int | None
    persona: str
    persona_version: int | None
    request: ChatRequest
    dropped: int  # oldest turns left out to fit the context budget, as the chat would


def target_spec(spec: PersonaSpec, model: str | None) -> PersonaSpec:
    """The persona version's spec with the target model, if any: the one thing a model
    target changes in the request."""
    return spec if not model or model == spec.model else dataclasses.replace(spec, model=model)


def plan_conversation(
    conversation_id: int,
    messages: Sequence[SourceMessage],
    *,
    persona: str,
    persona_version: int | None,
    spec: PersonaSpec,
    variables: Mapping[str, str] | None,
    user_id: str,
    model: str | None = None,
    context_tokens: int | None = None,
) -> list[ReplayTurn]:
    """The replay turns of one conversation, in order. `messages` in position order;
    `spec` is the persona version to replay against. Raises the persona's `TemplateError`
    when its prompt cannot be rendered with the conversation's case details."""
    spec = target_spec(spec, model)
    system = spec.system_prompt(variables)
    budget = history_budget(spec.model, spec.max_tokens, context_tokens)
    ordered = sorted(messages, key=lambda m: m.position)
    turns: list[ReplayTurn] = []
    for index, message in enumerate(ordered):
        if message.role != "assistant" or message.status not in REPLAYABLE or not message.content.strip():
            continue
        history = turns_from_messages(ordered[:index])
        if not history or history[-1].role != "user":
            continue  # nothing was asked right before it (e.g. a greeting)
        fitted = fit_history(history, system=system, budget_tokens=budget)
        question = history[-1].content
        turns.append(
            ReplayTurn(
                conversation_id=conversation_id,
                source_message_id=message.id,
                position=message.position,
                question=question if isinstance(question, str) else str(question),
                original_text=message.content,
                original_output_tokens=message.output_tokens,
                persona=persona,
                persona_version=persona_version,
                request=build_request(spec, system=system, turns=fitted.turns, metadata={"user_id": user_id}),
                dropped=fitted.dropped,
            )
        )
    return turns


class Estimate(NamedTuple):
    """Before a run starts: how much it sends. `cost_usd` is None when a model it uses
    has no price on file (never shown as $0)."""

    turns: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


def output_estimate(turn: ReplayTurn) -> int:
    """The original reply's length when known (a replay usually answers at a similar
    length), else the persona's max_tokens (the most it can cost)."""
    limit = turn.request.max_tokens
    known = turn.original_output_tokens
    return min(known, limit) if known else limit


def estimate(
    turns: Sequence[ReplayTurn], prices: pricing.PriceTable | None = None, *, batch: bool = False
) -> Estimate:
    """`batch`: priced as Message Batch items (an offline run), at half the list price."""
    input_tokens = output_tokens = 0
    cost: float | None = 0.0
    try:
        table = prices or pricing.default_prices()
    except pricing.PriceFileError:
        table = None
    for turn in turns:
        sent, answered = turn.request.input_tokens_estimate, output_estimate(turn)
        input_tokens += sent
        output_tokens += answered
        usage = Usage(input_tokens=sent, output_tokens=answered)
        priced = table.cost(turn.request.model, usage, batch=batch) if table else None
        if priced is None or priced.usd is None:
            cost = None
        elif cost is not None:
            cost += priced.usd
    return Estimate(len(turns), input_tokens, output_tokens, cost)
