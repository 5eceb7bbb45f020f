"""The call log: one `api_call` row per call to the API, written the same way by every
purpose, and who made it.

The Messages API's `metadata.user_id` is for the provider's abuse detection: it needs a
stable id per agent, not their name, so we send a hash. The per-agent rate limit keys on
the same id, which is why the usage page maps ids back to the agents it knows.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import pricing, store
from chatbot.llm import ChatRequest, LLMClient, LLMError, Reply, Usage
from chatbot.llm.errors import StructuredOutputError
from chatbot.llm.structured import Attempt, StructuredResult, structured

if TYPE_CHECKING:
    from .budgets import BudgetService

log = logging.getLogger("chatbot.calls")
T = TypeVar("T", bound=BaseModel)


def opaque_user(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:32]


def name_users(counts: Mapping[str, int], owners: Iterable[str]) -> list[tuple[str, int]]:
    """`{opaque id: count}` -> [(agent, count)], most first; ids of no known agent are shown
    shortened, so a flag is never silently dropped."""
    names = {opaque_user(owner): owner for owner in owners}
    named = [(names.get(key, f"unknown agent {key[:8]}…"), count) for key, count in counts.items()]
    return sorted(named, key=lambda pair: (-pair[1], pair[0]))


def record_call(
    session: Session,
    *,
    purpose: str,
    owner: str,
    model: str,
    reply: Reply | None = None,
    error: BaseException | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    invalid_output: bool = False,
    batch: bool = False,
) -> store.ApiCall:
    """Record one API call, whatever made it (chat, summary, judge, replay...).

    `reply` is what arrived (complete, partial, or nothing); `error` what ended it; a reply
    the caller refused (structured output that failed its schema) is `invalid_output`: an
    error outcome, so error rates show a model that cannot follow the schema, but billed.
    An error response with no reply is not billed: its cost is 0, not unknown.

    A `batch` call (one item of a Message Batch) is billed at the batch price, half the
    list price. It has no latency of its own (it waited in the provider's queue for up
    to a day), so its times are None rather than a 0 that would flatter the latency figures.
    """
    usage = reply.usage if reply is not None else Usage()
    billed_model = (reply.model if reply is not None else None) or model
    if invalid_output:
        outcome, error_type = "error", "invalid_output"
    else:
        status = reply.status if reply is not None else "error"
        outcome = {"complete": "ok"}.get(status, status)
        error_type = (getattr(error, "error_type", None) or type(error).__name__) if error else None
    ttft_ms: float | None = None
    total_ms: float | None = None
    if batch:
        pass  # no times of its own: see above
    elif reply is not None:
        ttft_ms = reply.ttft * 1000 if reply.ttft is not None else None
        total_ms = reply.total * 1000
    else:
        total_ms = getattr(error, "elapsed", 0.0) * 1000
    return store.record_api_call(
        session=session,
        conversation_id=conversation_id,
        message_id=message_id,
        owner=owner,
        purpose=purpose,
        model=billed_model,
        outcome=outcome,
        status_code=getattr(error, "status", None),
        error_type=error_type,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        ttft_ms=ttft_ms,
        total_ms=total_ms,
        attempts=getattr(error, "attempts", None) or (reply.attempts if reply is not None else 1),
        request_id=(reply.request_id if reply is not None else None)
        or getattr(error, "request_id", None),
        cache_hit=reply.cache_hit if reply is not None else False,
        cost_usd=pricing.cost_usd(billed_model, usage, cache_hit=reply.cache_hit, batch=batch)
        if reply is not None
        else 0.0,
    )


def settle_budgets(budgets: BudgetService | None, owner: str) -> None:
    """After a call is recorded: the next budget check sees it and alerts are raised. The
    call is saved already, so a failure here is logged, never passed on."""
    if budgets is None:
        return
    try:
        budgets.after_call(owner)
    except Exception:
        log.exception("could not update budgets after a call for %s", owner)


def log_call(engine: Engine, **fields: Any) -> store.ApiCall:
    """`record_call` in its own transaction (for calls made outside a turn's write)."""
    with store.write_session(engine) as session:
        return record_call(session, **fields)


def accounted_structured(
    engine: Engine,
    client: LLMClient,
    request: ChatRequest,
    schema: type[T],
    *,
    tool_name: str,
    purpose: str,
    owner: str,
    conversation_id: int | None = None,
    on_cost: Callable[[float], None] | None = None,
) -> StructuredResult[T]:
    """`structured(...)` with every call it makes recorded under `purpose`: each attempt
    (a refused one as `invalid_output`), or the error that ended it. `on_cost` hears each
    recorded cost, failures included, so a caller can total what a task spent."""
    who = dict(purpose=purpose, owner=owner, model=request.model, conversation_id=conversation_id)

    def record(attempt: Attempt) -> None:
        row = log_call(engine, reply=attempt.reply, invalid_output=attempt.problem is not None, **who)
        if on_cost is not None:
            on_cost(row.cost_usd or 0.0)

    try:
        return structured(client, request, schema, tool_name=tool_name, on_attempt=record)
    except LLMError as error:
        if not isinstance(error, StructuredOutputError):  # its attempts are recorded already
            log_call(engine, error=error, **who)
        raise
