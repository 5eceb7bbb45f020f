"""One conversation exported from the chat page by the person holding it: the same JSON
and Markdown as the QA exports (`exports.py` renders both), cut to what the chat page
shows them.

Left out: QA's notes, tags and golden flag (QA's own work, not shown on the chat page),
other people's ratings, and costs (usage and cost are for admins). The JSON stays a
valid, re-importable `chatbot.conversations` document.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.policy import Access
from chatbot.store.qa_records import ConversationRecord, load_records

from .exports import json_document, markdown_document

EXPORT_FORMATS = ("md", "json")


def own_view(record: ConversationRecord, actor: Actor) -> ConversationRecord:
    """The record with only what the chat page shows `actor` about it."""
    mine = {
        message_id: [f for f in rows if f.owner == actor.username]
        for message_id, rows in record.feedback.items()
    }
    return replace(record, feedback=mine, annotations=[], golden=None, cost_usd={})


def export_own(engine: Engine, access: Access, actor: Actor, conversation_id: int, fmt: str) -> str:
    """Markdown ("md") or JSON ("json") of one conversation `actor` may read; NotFoundError
    (as for a missing id) otherwise. Nothing is returned before the check."""
    with store.read_session(engine) as session:
        records = load_records(session=session, conversation_ids=[conversation_id])
    access.conversation(actor, records[0].conversation if records else None)
    record = own_view(records[0], actor)
    return (markdown_document if fmt == "md" else json_document)([record])
