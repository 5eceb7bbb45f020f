"""Reading a JSON export back: validate all of it, then create new conversations in one
transaction. Used through `Exports.import_json`.

Nothing is overwritten: every conversation becomes a new one (new ids; replies, notes,
tags, ratings and the golden flag re-attached to the new ids). Either the whole file is
imported or nothing is. Costs in the file are not imported: they come from API-call
records, and creating those would count spending that did not happen (usage, budgets).

Names in the file are another installation's (or typed by hand): they are never taken as
accounts here. A local account that happens to share a name must not be handed someone
else's conversations, nor appear to have rated or written what it did not. So the
importer owns every imported conversation and is the author of its ratings, notes, tags
and golden mark; the file's names are kept, as words, in one note per conversation that
says where it came from. A reply keeps one rating (one per person per reply): its
owner's if they rated it, else the first; the others are left out and counted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from chatbot import store
from chatbot.errors import InputError
from chatbot.store import qa as qa_store
from chatbot.store.conversations import MAX_TITLE_LENGTH
from chatbot.store.models import MessageRole, MessageStatus
from chatbot.store.qa_models import Annotation, Feedback, GoldenCase

log = logging.getLogger("chatbot.exports")

FORMAT = "chatbot.conversations"
VERSION = 1
MAX_IMPORT_CHARS = 50_000_000
MAX_CONVERSATIONS = 10_000
MAX_MESSAGES = 10_000  # per conversation
MAX_ERRORS_SHOWN = 5
NAMES_SHOWN = 5  # per list in the note an imported conversation carries

Text = Annotated[StrictStr, Field(max_length=1_000_000)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Count = Annotated[StrictInt, Field(ge=0)]
Millis = Annotated[StrictFloat, Field(ge=0)]


class _Model(BaseModel):
    # A misspelt field is an error, not silently dropped data.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedbackIn(_Model):
    owner: Name
    rating: Literal[1, -1]
    comment: Text | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class MessageIn(_Model):
    id: StrictInt | None = None  # the exporting database's; ignored
    position: Count
    role: Literal[tuple(r.value for r in MessageRole)]  # type: ignore[valid-type]
    content: Text
    status: Literal[tuple(s.value for s in MessageStatus)]  # type: ignore[valid-type]
    error: Text | None = None
    model: Name | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    cache_creation_input_tokens: Count | None = None
    cache_read_input_tokens: Count | None = None
    stop_reason: Name | None = None
    request_id: Name | None = None
    ttft_ms: Millis | None = None
    total_ms: Millis | None = None
    context_dropped: Count | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    cost_usd: StrictFloat | None = None  # informational; see the module docstring
    feedback: list[FeedbackIn] = []


class AnnotationIn(_Model):
    kind: Literal["note", "tag"]
    text: Text
    created_by: Name
    created_at: AwareDatetime
    message_position: Count | None = None  # None: on the whole conversation


class GoldenIn(_Model):
    added_by: Name
    added_at: AwareDatetime
    note: Text | None = None


class ConversationIn(_Model):
    id: StrictInt | None = None  # the exporting database's; ignored
    title: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TITLE_LENGTH)]
    title_locked: StrictBool = False
    persona: Name
    persona_version: Annotated[StrictInt, Field(ge=1)] | None = None
    persona_vars: dict[StrictStr, Text] = {}
    owner: Name
    created_at: AwareDatetime
    updated_at: AwareDatetime
    archived: StrictBool = False
    golden: GoldenIn | None = None
    messages: Annotated[list[MessageIn], Field(max_length=MAX_MESSAGES)]
    annotations: list[AnnotationIn] = []


class DocumentIn(_Model):
    format: Literal[FORMAT]  # type: ignore[valid-type]
    version: Literal[VERSION]  # type: ignore[valid-type]
    exported_at: AwareDatetime | None = None
    conversations: Annotated[list[ConversationIn], Field(max_length=MAX_CONVERSATIONS)]


@dataclass(frozen=True)
class ImportResult:
    """What was created: (id in the file, new id) per conversation, in file order."""

    conversations: list[tuple[int | None, int]]
    messages: int
    by: str  # the importer, who owns what was created
    original_owners: tuple[str, ...] = ()  # the file's owner names, first seen first
    ratings_left_out: int = 0  # a reply rated by several people keeps one rating


def parse_document(text: str | bytes) -> DocumentIn:
    """The validated document, or an InputError naming what is wrong and where."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(f"The file is not UTF-8 text (byte {error.start}).") from None
    if len(text) > MAX_IMPORT_CHARS:
        raise InputError(
            f"The file is too large to import: {len(text):,} characters, at most "
            f"{MAX_IMPORT_CHARS:,}. Export fewer conversations per file."
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"The file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    # Format and version first: a file of another kind gets one clear sentence, not a
    # list of every field that differs.
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'This is not a conversation export (expected "format": "{FORMAT}").')
    if data.get("version") != VERSION:
        raise InputError(
            f"This export is version {data.get('version')!r}; this app reads version {VERSION}."
        )
    try:
        document = DocumentIn.model_validate(data)
    except ValidationError as error:
        raise InputError(_describe(error)) from None
    for i, conversation in enumerate(document.conversations):
        _check_links(f"conversations[{i}]", conversation)
    return document


def import_document(session: Any, document: DocumentIn, *, importer: str) -> ImportResult:
    """Create every conversation of a validated document in the caller's transaction,
    owned by (and attributed to) `importer`."""
    created: list[tuple[int | None, int]] = []
    messages = left_out = 0
    owners: dict[str, None] = {}
    for item in document.conversations:
        new_id, dropped = _create(session, item, importer, document.exported_at)
        created.append((item.id, new_id))
        messages += len(item.messages)
        left_out += dropped
        owners.setdefault(_name(item.owner))
    log.info("%s imported %d conversations (%d messages)", importer, len(created), messages)
    return ImportResult(created, messages, importer, tuple(owners), left_out)


def _create(
    session: Any, item: ConversationIn, importer: str, exported_at: datetime | None
) -> tuple[int, int]:
    """The new conversation's id, and how many ratings were left out."""
    fields = item.model_dump(
        include={"title", "title_locked", "persona", "persona_version", "persona_vars",
                 "created_at", "updated_at", "archived"}
    )
    conversation = store.Conversation(**fields, owner=importer)
    session.add(conversation)
    session.flush()
    cid = conversation.id
    rows = {}
    for m in item.messages:
        data = m.model_dump(exclude={"id", "cost_usd", "feedback"})
        rows[m.position] = store.Message(conversation_id=cid, **data)
    session.add_all(rows.values())
    session.flush()  # the new message ids, for what hangs off them
    left_out = 0
    for m in item.messages:
        if m.feedback:
            kept = next((f for f in m.feedback if f.owner == item.owner), m.feedback[0])
            left_out += len(m.feedback) - 1
            data = kept.model_dump(exclude={"owner"})
            session.add(Feedback(message_id=rows[m.position].id, owner=importer, **data))
    for a in item.annotations:
        target = None if a.message_position is None else rows[a.message_position].id
        data = a.model_dump(exclude={"message_position", "created_by"})
        session.add(Annotation(conversation_id=cid, message_id=target, created_by=importer, **data))
    if item.golden is not None:
        session.add(GoldenCase(conversation_id=cid, **item.golden.model_dump(exclude={"added_by"}),
                               added_by=importer))
    session.add(Annotation(conversation_id=cid, kind=qa_store.NOTE, created_by=importer,
                           text=_provenance(item, importer, exported_at), created_at=store.utc_now()))
    session.flush()
    return cid, left_out  # type: ignore[return-value]



def _provenance(item: ConversationIn, importer: str, exported_at: datetime | None) -> str:
    """The note an imported conversation carries: where it came from, whose it was."""
    where = f"conversation #{item.id}" if item.id is not None else "a conversation"
    when = f" of {exported_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if exported_at else ""
    lines = [f"Imported by {importer} from an export{when}: {where} of {_quoted([item.owner])} there."]
    raters = [f.owner for m in item.messages for f in m.feedback]
    made = [f"ratings by {_quoted(raters)}"] if raters else []
    if item.annotations:
        made.append(f"notes and tags by {_quoted(a.created_by for a in item.annotations)}")
    if item.golden is not None:
        made.append(f"the golden mark by {_quoted([item.golden.added_by])}")
    if made:
        lines.append(f"There, {'; '.join(made)}. Here they are under {importer}'s name.")
    return qa_store.clean_note("\n".join(lines))


def _name(text: str) -> str:
    return " ".join(text.split()) or "(blank)"


def _quoted(names: Any) -> str:
    unique = list(dict.fromkeys(_name(n) for n in names))
    shown = ", ".join(f"“{n}”" for n in unique[:NAMES_SHOWN])
    return shown + (f" and {len(unique) - NAMES_SHOWN} more" if len(unique) > NAMES_SHOWN else "")


def _check_links(where: str, c: ConversationIn) -> None:
    """What the schema alone cannot say: positions unique, references resolvable, one
    rating per person per reply, tags in their stored (normalised) form."""
    positions = [m.position for m in c.messages]
    if len(set(positions)) != len(positions):
        raise InputError(f"{where}.messages: two messages have the same position.")
    for i, m in enumerate(c.messages):
        owners = [f.owner for f in m.feedback]
        if len(set(owners)) != len(owners):
            raise InputError(f"{where}.messages[{i}].feedback: one person rated it twice.")
        if m.feedback and m.role != MessageRole.ASSISTANT.value:
            raise InputError(f"{where}.messages[{i}].feedback: only replies can be rated.")
    for i, a in enumerate(c.annotations):
        if a.message_position is not None and a.message_position not in positions:
            raise InputError(
                f"{where}.annotations[{i}].message_position: no message at position "
                f"{a.message_position}."
            )
        try:
            fixed = qa_store.normalize_tag(a.text) if a.kind == "tag" else qa_store.clean_note(a.text)
        except qa_store.QAInputError as error:
            raise InputError(f"{where}.annotations[{i}].text: {error}") from None
        if fixed != a.text:
            raise InputError(f"{where}.annotations[{i}].text: not in stored form ({fixed!r}).")


def _describe(error: ValidationError) -> str:
    problems = error.errors(include_url=False)
    lines = [f"{_path(p['loc'])}: {p['msg']}" for p in problems[:MAX_ERRORS_SHOWN]]
    more = len(problems) - len(lines)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "The file cannot be imported: " + "; ".join(lines) + suffix + "."


def _path(loc: tuple[Any, ...]) -> str:
    # ("conversations", 3, "messages", 2, "role") -> conversations[3].messages[2].role
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("literal[", "function-")):
            continue  # pydantic's name for a union branch, not a place in the file
        else:
            out += ("." if out else "") + str(part)
    return out or "(the document)"
