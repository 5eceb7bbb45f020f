"""Ticket summaries: "Summarise this conversation" as a validated, stored record.

    summary = runtime.summaries.summarise(actor, conversation_id)        # a stored row
    card = runtime.summaries.card(actor, conversation_id, messages)       # for the page

The conversation's complete messages go to the model routed for the "summary" purpose
(configuration: `AppSettings.purpose_models`, CHATBOT_MODEL_SUMMARY), not the persona's
chat model: a summary is a short structured job that a small, cheap model does well.
The answer is forced into the `TicketSummary` shape by `chatbot.llm.structured`, and
every call it makes (a repair included) is recorded as an api_call with purpose "summary"
and its cost. It runs synchronously: one short non-streaming call, rarely two.
Summarising needs write access to the conversation (its owner, or an admin), reading a
summary read access; another person's conversation is "not found", as a missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.config import DEFAULT_PURPOSE_MODELS, AppSettings, model_for
from chatbot.errors import InputError
from chatbot.llm import ChatRequest, LLMClient, LLMError, Turn
from chatbot.llm.types import estimate_tokens
from chatbot.store.summaries import add_ticket_summary, latest_ticket_summary

from .budgets import BudgetService
from .call_log import accounted_structured, opaque_user, settle_budgets
from .context import history_budget
from .conversations import load_transcript

log = logging.getLogger("chatbot.summary")

PURPOSE = "summary"
TOOL_NAME = "record_ticket_summary"
MAX_TOKENS = 1024
SYSTEM = (
    "You write ticket summaries of customer-support conversations for a helpdesk. In each "
    "conversation a support agent (typing the customer's questions or their own notes) talks "
    "with an AI assistant. Report only what the conversation says: never invent order "
    "numbers, names or promises. Answer by calling the record_ticket_summary tool."
)
LABELS = {"user": "Agent", "assistant": "Assistant"}


class Category(StrEnum):
    BILLING = "billing"
    SHIPPING = "shipping"
    RETURNS = "returns"
    ACCOUNT = "account"
    TECHNICAL = "technical"
    PRODUCT = "product"
    OTHER = "other"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    FRUSTRATED = "frustrated"


class TicketSummary(BaseModel):
    """Record the ticket summary of a customer-support conversation."""

    issue: str = Field(
        min_length=1, max_length=500, description="The customer's issue in one or two plain sentences."
    )
    category: Category = Field(description="The support area the issue belongs to.")
    sentiment: Sentiment = Field(description="The customer's mood by the end of the conversation.")
    resolved: bool = Field(description="True only if the issue was fully resolved in this conversation.")
    next_steps: list[str] = Field(
        max_length=8,
        description="Concrete follow-up actions for the agent or team, shortest first; empty if none.",
    )


@dataclass(frozen=True)
class SummaryCard:
    """The newest summary as the page shows it."""

    row: store.TicketSummary
    summary: TicketSummary | None  # None: stored by an older schema that no longer validates
    newer_messages: int  # complete messages added after it: > 0 means out of date

    @property
    def out_of_date(self) -> bool:
        return self.newer_messages > 0


def summarisable(messages: Sequence[store.Message]) -> list[store.Message]:
    """Complete messages only: a failed, partial or in-progress reply says nothing settled."""
    return [m for m in messages if m.status == store.MessageStatus.COMPLETE and m.content.strip()]


def transcript_text(messages: Sequence[store.Message], *, budget_tokens: int) -> tuple[str, int]:
    """The newest messages that fit in `budget_tokens` as labelled text, and how many
    older ones were left out (the newest state of a ticket matters most)."""
    kept: list[str] = []
    used = estimate_tokens(SYSTEM) + 200  # the framing around the transcript
    for message in reversed(messages):
        line = f"{LABELS.get(message.role, 'Agent')}: {message.content.strip()}"
        cost = estimate_tokens(line) + 4
        if kept and used + cost > budget_tokens:
            break
        kept.append(line)
        used += cost
    return "\n\n".join(reversed(kept)), len(messages) - len(kept)


class SummaryService:
    """Summarises conversations on the routed model and keeps every summary."""

    def __init__(
        self,
        *,
        engine: Engine,
        client: LLMClient,
        settings: AppSettings,
        budgets: BudgetService | None = None,
        access: Access | None = None,
    ) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))
        self.client = client
        self.settings = settings
        self.budgets = budgets

    @property
    def model(self) -> str:
        return model_for(PURPOSE, self.settings, DEFAULT_PURPOSE_MODELS[PURPOSE])

    def summarise(self, actor: Actor, conversation_id: int) -> store.TicketSummary:
        """Summarise the conversation's complete messages and store the result.

        Raises `InputError` when there is nothing to summarise, `NotFoundError` for a gone
        conversation (or another person's), and the client's `LLMError`s
        (`StructuredOutputError` included).
        """
        self.access.require(actor, "chat")
        transcript = load_transcript(self.engine, conversation_id)  # one snapshot
        self.access.conversation(actor, transcript.conversation if transcript else None, write=True)
        assert transcript is not None  # the check above refuses a missing conversation
        owner = actor.username
        messages = transcript.messages
        included = summarisable(messages)
        if not any(m.role == "user" for m in included):
            raise InputError(
                "There is nothing to summarise yet: send a message and wait for the reply, "
                "then summarise."
            )
        if self.budgets is not None:  # over budget, a summary is refused before any call
            self.budgets.check(PURPOSE, owner)
        model = self.model
        request = self._request(included, model=model, owner=owner)

        try:
            result = accounted_structured(
                self.engine, self.client, request, TicketSummary, tool_name=TOOL_NAME,
                purpose=PURPOSE, owner=owner, conversation_id=conversation_id,
            )
        except LLMError as error:
            log.warning("summary of conversation %s failed: %s", conversation_id, error)
            raise
        finally:
            settle_budgets(self.budgets, owner)
        with store.write_session(self.engine) as session:
            return add_ticket_summary(
                session=session,
                conversation_id=conversation_id,
                through_message_id=included[-1].id,
                model=result.reply.model or model,
                data=result.value.model_dump(mode="json"),
                created_by=owner,
            )

    def latest(self, actor: Actor, conversation_id: int) -> store.TicketSummary | None:
        with store.read_session(self.engine) as session:
            row = store.get_conversation(session=session, conversation_id=conversation_id)
            self.access.conversation(actor, row)
            return latest_ticket_summary(session=session, conversation_id=conversation_id)

    def card(
        self, actor: Actor, conversation_id: int, messages: Sequence[store.Message]
    ) -> SummaryCard | None:
        """The newest summary with how many complete messages came after it."""
        row = self.latest(actor, conversation_id)
        if row is None:
            return None
        try:
            summary = TicketSummary.model_validate(row.data)
        except ValidationError:
            summary = None
        through = row.through_message_id or 0
        newer = sum(1 for m in summarisable(messages) if m.id > through)
        return SummaryCard(row, summary, newer)

    # -- internals ------------------------------------------------------------------------

    def _request(self, messages: Sequence[store.Message], *, model: str, owner: str) -> ChatRequest:
        budget = history_budget(model, MAX_TOKENS, self.settings.context_tokens)
        text, dropped = transcript_text(messages, budget_tokens=budget)
        note = f"({dropped} earlier messages are left out for length.)\n" if dropped else ""
        prompt = (
            f"Summarise this support conversation as a ticket.\n\n{note}"
            f"<conversation>\n{text}\n</conversation>"
        )
        return ChatRequest(
            model=model,
            messages=[Turn("user", prompt)],
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            temperature=0.0,  # the same conversation should give the same ticket
            metadata={"user_id": opaque_user(owner)},
        )
