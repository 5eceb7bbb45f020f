"""API-call records: one row per request to the Messages API, for cost and error accounting.

Append-only: rows are written once and never updated by the app.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from chatbot.store.models import ApiCall, ApiCallOutcome, utc_now

_WRITABLE_FIELDS = frozenset(ApiCall.model_fields) - {"id"}


def record_api_call(*, session: Session, **fields: Any) -> ApiCall:
    """Store one API call; `model` and `outcome` are required, the rest have defaults."""
    unknown = set(fields) - _WRITABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown api_call fields: {', '.join(sorted(unknown))}")
    missing = {"model", "outcome"} - set(fields)
    if missing:
        raise TypeError(f"missing api_call fields: {', '.join(sorted(missing))}")
    fields["outcome"] = ApiCallOutcome(fields["outcome"]).value
    fields.setdefault("created_at", utc_now())
    # None means "not reported" for counters; store 0 so sums need no COALESCE.
    for counter in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        if fields.get(counter) is None:
            fields[counter] = 0
    api_call = ApiCall(**fields)
    session.add(api_call)
    session.flush()
    return api_call


def list_api_calls(
    *, session: Session, conversation_id: int | None = None, limit: int = 1000
) -> list[ApiCall]:
    """Newest first; all calls, or those of one conversation."""
    query = select(ApiCall)
    if conversation_id is not None:
        query = query.where(ApiCall.conversation_id == conversation_id)
    query = query.order_by(col(ApiCall.created_at).desc(), col(ApiCall.id).desc()).limit(limit)
    return list(session.exec(query).all())
