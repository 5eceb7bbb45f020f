"""Conversations out of (and back into) the app: JSON for a full-fidelity, re-importable
copy, Markdown for reading, CSV with one row per message for spreadsheets.

    exports = Exports(engine)
    text = exports.json([12, 15])                    # or qa.matching_ids(filters)
    result = exports.import_json(text, by="quinn")   # new conversations; nothing overwritten
    exports.markdown([12]); exports.csv([12, 15])

The JSON format is `{"format": "chatbot.conversations", "version": 1, "conversations":
[...]}`: each conversation with its fields, its messages with every recorded field and
their ratings, notes and tags (a reply's by its `message_position`) and the golden flag.
Ids are the exporting database's, for reference only. `cost_usd` is informational and not
imported (see `conversation_import`).
"""

from __future__ import annotations

import csv as csv_module
import io
import json as json_module
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.store.qa_records import ConversationRecord, load_records

from .conversation_import import FORMAT, VERSION, ImportResult, import_document, parse_document
from chatbot.spreadsheet import csv_cell  # one CSV-injection guard for every export

MESSAGE_FIELDS = (
    "id", "position", "role", "content", "status", "error", "model", "input_tokens",
    "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "stop_reason",
    "request_id", "ttft_ms", "total_ms", "context_dropped", "created_at", "updated_at",
)  # fmt: skip
CONVERSATION_FIELDS = (
    "id", "title", "title_locked", "persona", "persona_version", "persona_vars", "owner",
    "created_at", "updated_at", "archived",
)  # fmt: skip
CSV_COLUMNS = (
    "conversation_id", "title", "persona", "persona_version", "owner", "position", "role",
    "status", "created_at", "model", "input_tokens", "output_tokens", "cost_usd",
    "stop_reason", "request_id", "error", "feedback", "content",
)  # fmt: skip
_ROLE_NAMES = {"user": "Agent", "assistant": "Assistant"}


class Exports:
    """Export conversations by id and import JSON exports; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _records(self, conversation_ids: Sequence[int]) -> list[ConversationRecord]:
        with store.read_session(self.engine) as session:
            return load_records(session=session, conversation_ids=conversation_ids)

    # -- JSON --------------------------------------------------------------------------------

    def json(self, conversation_ids: Sequence[int]) -> str:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": _iso(store.utc_now()),
            "conversations": [_conversation_dict(r) for r in self._records(conversation_ids)],
        }
        return json_module.dumps(document, ensure_ascii=False, indent=1) + "\n"

    def import_json(self, text: str | bytes, *, by: str) -> ImportResult:
        """Validate all of `text`, then create its conversations as new ones in one
        transaction. InputError (naming the field and where) if anything is wrong."""
        return import_document(self.engine, parse_document(text), by=by)

    # -- Markdown ----------------------------------------------------------------------------

    def markdown(self, conversation_ids: Sequence[int]) -> str:
        return "\n\n---\n\n".join(_markdown(r) for r in self._records(conversation_ids)) + "\n"

    # -- CSV ---------------------------------------------------------------------------------

    def csv(self, conversation_ids: Sequence[int]) -> str:
        """One row per message; cells a spreadsheet would run as formulas are defused."""
        out = io.StringIO()
        writer = csv_module.writer(out)
        writer.writerow(CSV_COLUMNS)
        for record in self._records(conversation_ids):
            c = record.conversation
            for m in record.messages:
                row = {
                    "conversation_id": c.id, "title": c.title, "persona": c.persona,
                    "persona_version": c.persona_version, "owner": c.owner,
                    "position": m.position, "role": m.role, "status": m.status,
                    "created_at": m.created_at, "model": m.model,
                    "input_tokens": m.input_tokens, "output_tokens": m.output_tokens,
                    "cost_usd": record.cost_usd.get(m.id),  # type: ignore[arg-type]
                    "stop_reason": m.stop_reason, "request_id": m.request_id,
                    "error": m.error, "feedback": _feedback_cell(record, m.id),
                    "content": m.content,
                }  # fmt: skip
                writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
        return out.getvalue()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _conversation_dict(record: ConversationRecord) -> dict[str, Any]:
    c = record.conversation
    positions = {m.id: m.position for m in record.messages}
    data = {name: _plain(getattr(c, name)) for name in CONVERSATION_FIELDS}
    data["golden"] = (
        None
        if record.golden is None
        else {
            "added_by": record.golden.added_by,
            "added_at": _iso(record.golden.added_at),
            "note": record.golden.note,
        }
    )
    data["messages"] = [
        {name: _plain(getattr(m, name)) for name in MESSAGE_FIELDS}
        | {
            "cost_usd": record.cost_usd.get(m.id),  # type: ignore[arg-type]
            "feedback": [
                {
                    "owner": f.owner,
                    "rating": f.rating,
                    "comment": f.comment,
                    "created_at": _iso(f.created_at),
                    "updated_at": _iso(f.updated_at),
                }
                for f in record.feedback.get(m.id, ())  # type: ignore[arg-type]
            ],
        }
        for m in record.messages
    ]
    data["annotations"] = [
        {
            "kind": a.kind,
            "text": a.text,
            "created_by": a.created_by,
            "created_at": _iso(a.created_at),
            "message_position": None if a.message_id is None else positions.get(a.message_id),
        }
        for a in record.annotations
    ]
    return data


def _feedback_cell(record: ConversationRecord, message_id: int | None) -> str:
    # Words, not "+1"/"-1": a cell starting with "-" would be defused into "'-1 ...".
    return "; ".join(
        f"{'up' if f.rating > 0 else 'down'} by {f.owner}" + (f": {f.comment}" if f.comment else "")
        for f in record.feedback.get(message_id, ())  # type: ignore[arg-type]
    )


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _markdown(record: ConversationRecord) -> str:
    c = record.conversation
    version = f" v{c.persona_version}" if c.persona_version is not None else ""
    lines = [
        f"# {c.title}",
        "",
        f"- Conversation {c.id} · persona `{c.persona}`{version} · agent {c.owner}",
        f"- Started {_when(c.created_at)} · last activity {_when(c.updated_at)}"
        + (" · archived" if c.archived else ""),
    ]
    if c.persona_vars:
        details = ", ".join(f"{k}: {v}" for k, v in sorted(c.persona_vars.items()))
        lines.append(f"- Case details: {details}")
    if record.golden is not None:
        note = f": {record.golden.note}" if record.golden.note else ""
        lines.append(f"- Golden case, added by {record.golden.added_by}{note}")
    lines += _annotation_lines(record, None)
    for m in record.messages:
        lines += ["", f"## {_ROLE_NAMES.get(m.role, m.role)} · {_when(m.created_at)}"]
        facts = [f for f in (m.model, _tokens(m.input_tokens, m.output_tokens)) if f]
        cost = record.cost_usd.get(m.id)  # type: ignore[arg-type]
        if cost is not None:
            facts.append(f"${cost:.4f}")
        # Model names have no "*", but a stray one would unbalance the italics.
        facts_line = f"*{' · '.join(facts).replace('*', '')}*" if facts else ""
        if m.status != "complete":
            facts_line += (" · " if facts_line else "") + f"**{m.status}**"
        if facts_line:
            lines.append(facts_line)
        lines += ["", m.content or "*(no text)*"]
        if m.error:
            lines += ["", f"> Error: {m.error}"]
        for f in record.feedback.get(m.id, ()):  # type: ignore[arg-type]
            thumb = "👍" if f.rating > 0 else "👎"
            lines += ["", f"> {thumb} {f.owner}" + (f": {f.comment}" if f.comment else "")]
        lines += _annotation_lines(record, m.id)
    return "\n".join(lines)


def _tokens(tokens_in: int | None, tokens_out: int | None) -> str:
    if tokens_in is None and tokens_out is None:
        return ""
    return f"{tokens_in or 0} in / {tokens_out or 0} out tokens"


def _annotation_lines(record: ConversationRecord, message_id: int | None) -> list[str]:
    mine = [a for a in record.annotations if a.message_id == message_id]
    tags = [a.text for a in mine if a.kind == "tag"]
    lines = [f"- Tags: {', '.join(tags)}"] if tags and message_id is None else []
    if tags and message_id is not None:
        lines += ["", f"> Tags: {', '.join(tags)}"]
    for note in (a for a in mine if a.kind == "note"):
        prefix, indent = ("- Note", "\n  ") if message_id is None else ("\n> Note", "\n> ")
        text = note.text.replace("\n", indent)  # keeps a multi-line note inside its block
        lines.append(f"{prefix} ({note.created_by}, {_when(note.created_at)}): {text}")
    return lines
