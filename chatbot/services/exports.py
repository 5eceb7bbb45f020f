"""Conversations out of (and back into) the app: JSON for a full-fidelity, re-importable
copy, Markdown for reading, CSV with one row per message for spreadsheets.

    exports = Exports(engine, access=identity.access)
    text = exports.json(actor, [12, 15])          # or qa.matching_ids(actor, filters)
    result = exports.import_json(actor, text)     # new conversations, owned by the actor
    exports.markdown(actor, [12]); exports.csv(actor, [12, 15])

Who may: "qa.transfer" (QA, admins) exports any conversation and imports; an agent
exports only their own: any other id is "not found", exactly like one that does not
exist. Every export and import is in the audit log with its author and the ids.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor, can
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.spreadsheet import csv_cell  # one CSV-injection guard for every export
from chatbot.store.qa_records import ConversationRecord, conversation_owners, load_records

from .conversation_import import FORMAT, VERSION, ImportResult, import_document, parse_document

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
IDS_IN_AUDIT = 50  # ids named in one audit entry; the count says how many there were


@dataclass(frozen=True)
class _Ref:
    """A conversation's id and owner: enough for the policy to decide before loading it."""

    id: int
    owner: str


class Exports:
    """Export conversations by id and import JSON exports; see the module docstring."""

    def __init__(self, engine: Engine, *, access: Access | None = None) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))

    def _records(self, actor: Actor, conversation_ids: Sequence[int], kind: str) -> list[ConversationRecord]:
        """The conversations to export, after the policy said yes, with the export recorded.

        With "qa.transfer", ids that no longer exist are skipped (a filtered set can lose
        one between the search and the click); without it, every id must be the actor's.
        """
        ids = list(dict.fromkeys(conversation_ids))
        with store.read_session(self.engine) as session:
            if not can(actor, "qa.transfer"):
                self._own_only(session, actor, ids)
            records = load_records(session=session, conversation_ids=ids)
        found = [r.conversation.id for r in records]
        self.access.audit.record(
            actor, "conversation.export", target=_target(found),
            detail=f"{kind}, {_count(len(found))}: {_ids(found)}",
        )
        return records

    def _own_only(self, session: Any, actor: Actor, ids: list[int]) -> None:
        if not can(actor, "chat"):  # no conversations of their own either: refused outright
            self.access.require(actor, "qa.transfer", target=_target(ids))
        owners = conversation_owners(session=session, conversation_ids=ids)
        for cid in ids:
            self.access.conversation(actor, _Ref(cid, owners[cid]) if cid in owners else None)

    # -- JSON --------------------------------------------------------------------------------

    def json(self, actor: Actor, conversation_ids: Sequence[int]) -> str:
        return json_document(self._records(actor, conversation_ids, "json"))

    def import_json(self, actor: Actor, text: str | bytes) -> ImportResult:
        """Validate all of `text`, then create its conversations as new ones, owned by the
        actor, in one transaction with its audit entry. InputError (naming the field and
        where) if anything is wrong; see `conversation_import` for what is kept of the file's
        names."""
        self.access.require(actor, "qa.transfer", target="conversations")
        document = parse_document(text)
        with store.write_session(self.engine) as session:
            result = import_document(session, document, importer=actor.username)
            new = [new_id for _, new_id in result.conversations]
            what = f"{_count(len(new))} ({_count(result.messages, 'message')})"
            originally = ", ".join(result.original_owners) or "nobody"
            self.access.audit.append(
                session, actor, "conversation.import", target=_target(new),
                detail=f"{what}, originally of {originally}: {_ids(new)}",
            )
        return result

    # -- Markdown ----------------------------------------------------------------------------

    def markdown(self, actor: Actor, conversation_ids: Sequence[int]) -> str:
        return markdown_document(self._records(actor, conversation_ids, "markdown"))

    # -- CSV ---------------------------------------------------------------------------------

    def csv(self, actor: Actor, conversation_ids: Sequence[int]) -> str:
        """One row per message; cells a spreadsheet would run as formulas are defused."""
        out = io.StringIO()
        writer = csv_module.writer(out)
        writer.writerow(CSV_COLUMNS)
        for record in self._records(actor, conversation_ids, "csv"):
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


def _target(ids: Sequence[int]) -> str:
    """"conversation:42" for one, "conversations:12,15,..." for a set (clipped by the log)."""
    if len(ids) == 1:
        return f"conversation:{ids[0]}"
    return "conversations:" + ",".join(str(i) for i in ids[:IDS_IN_AUDIT])


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:IDS_IN_AUDIT]) or "none"
    return shown + (f" and {len(ids) - IDS_IN_AUDIT:,} more" if len(ids) > IDS_IN_AUDIT else "")


def json_document(records: Sequence[ConversationRecord]) -> str:
    """The re-importable JSON export (`chatbot.conversations`) of these conversations."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(store.utc_now()),
        "conversations": [_conversation_dict(r) for r in records],
    }
    return json_module.dumps(document, ensure_ascii=False, indent=1) + "\n"


def markdown_document(records: Sequence[ConversationRecord]) -> str:
    """The conversations as one Markdown document, for reading."""
    return "\n\n---\n\n".join(_markdown(r) for r in records) + "\n"


def _count(n: int, word: str = "conversation") -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


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
