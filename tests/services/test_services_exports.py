"""Exports: JSON that re-imports to the same data (as new conversations), refusals that
name what is wrong and import nothing, readable Markdown and injection-safe CSV. The key
paths run on PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.errors import InputError
from chatbot.services import conversation_import
from chatbot.services.exports import CSV_COLUMNS, MESSAGE_FIELDS, Exports
from chatbot.services.personas import PersonaService
from chatbot.services.qa import QAService
from chatbot.store.search import SearchFilters

ANA = Actor("ana", Role.AGENT)  # owns the exported conversation
BO = Actor("bo", Role.ADMIN)  # an admin may rate a reply in anyone's conversation

T0 = datetime(2026, 2, 3, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def exports(engine) -> Exports:
    return Exports(engine)


@pytest.fixture
def qa(engine) -> QAService:
    return QAService(engine, PersonaService(engine))


def rich_conversation(engine, qa, *, title="Refund for order #1042", archived=False) -> int:
    """A conversation using every field: statuses, usage, ratings, notes, tags, golden."""
    with store.write_session(engine) as session:
        c = store.create_conversation(session=session, persona="billing", persona_version=3, owner="ana",
                                      persona_vars={"customer_name": "Zoë", "ticket_id": "T-9"}, title=title)
        store.add_message(session=session, conversation_id=c.id, role="user",
                          content="=HYPERLINK(\"evil\")\nWhere, exactly, is my \"refund\"? 🙂")
        reply = store.add_message(
            session=session, conversation_id=c.id, role="assistant", content="It was sent on Monday.",
            model="claude-sonnet-5-5", input_tokens=120, output_tokens=30, cache_creation_input_tokens=5,
            cache_read_input_tokens=7, stop_reason="end_turn", request_id="req_abc", ttft_ms=210.5,
            total_ms=900.25, context_dropped=2,
        )
        store.add_message(session=session, conversation_id=c.id, role="user", content="-1 stars")
        failed = store.add_message(session=session, conversation_id=c.id, role="assistant", content="Par",
                                   status="partial", error="The reply was cut off.", model="claude-sonnet-5-5")
        store.record_api_call(session=session, model="claude-sonnet-5-5", outcome="ok", message_id=reply.id,
                              cost_usd=0.0125)
        c.archived = archived
        # Distinct, old timestamps: an import must keep them, not stamp "now".
        c.created_at, c.updated_at = T0, T0 + timedelta(hours=2)
        session.add(c)
    qa.rate(ANA, reply.id, 1, "great")
    qa.rate(BO, reply.id, -1)
    qa.rate(ANA, failed.id, -1, "@cut short")
    qa.note(c.id, "Policy check\nsecond line", by="quinn")
    qa.note(c.id, "Too terse.", by="quinn", message_id=failed.id)
    qa.tag(c.id, "Refund", by="quinn")
    qa.tag(c.id, "truncated", by="quinn", message_id=failed.id)
    qa.set_golden(c.id, True, by="quinn", note="refund regression")
    return c.id


def comparable(text: str) -> list[dict]:
    """The export without what an import changes by design: ids and informational cost."""
    conversations = json.loads(text)["conversations"]
    for c in conversations:
        c.pop("id")
        for m in c["messages"]:
            m.pop("id")
            m.pop("cost_usd")
    return conversations



@pytest.mark.also_postgresql
def test_json_round_trip_recreates_the_same_data(engine, exports, qa):
    first = rich_conversation(engine, qa)
    second = rich_conversation(engine, qa, title="Second", archived=True)
    text = exports.json([first, second])

    result = exports.import_json(text, by="quinn")
    new_ids = [new for _, new in result.conversations]
    assert [old for old, _ in result.conversations] == [first, second]
    assert set(new_ids).isdisjoint({first, second}) and result.messages == 8
    assert comparable(exports.json(new_ids)) == comparable(text)
    assert comparable(exports.json([first, second])) == comparable(text)  # originals untouched

    # The copy is a first-class conversation: searchable, filterable, in the golden set.
    found = {r.id for r in qa.find(SearchFilters(text="sent Monday", include_archived=True)).rows}
    assert found == {first, second, *new_ids}
    assert {r.id for r in qa.find(SearchFilters(tags=("truncated",), golden=True, feedback="down",
                                                status="partial", include_archived=True)).rows} == {
        first, second, *new_ids}


def test_export_covers_every_message_column(engine, exports, qa):
    # A column added to Message later fails here until the export (and import) carry it.
    columns = set(store.Message.model_fields) - {"conversation_id"}
    assert set(MESSAGE_FIELDS) == columns
    data = json.loads(exports.json([rich_conversation(engine, qa)]))
    assert data["format"] == "chatbot.conversations" and data["version"] == 1
    message = data["conversations"][0]["messages"][1]
    assert message["cost_usd"] == 0.0125 and message["created_at"].endswith("+00:00")
    assert data["conversations"][0]["created_at"] == T0.isoformat()


def test_importing_twice_makes_two_copies(engine, exports, qa):
    text = exports.json([rich_conversation(engine, qa)])
    a = exports.import_json(text, by="q").conversations[0][1]
    b = exports.import_json(text.encode(), by="q").conversations[0][1]
    assert len({a, b}) == 2 and len(qa.find(SearchFilters()).rows) == 3


def good_document(engine, exports, qa) -> dict:
    return json.loads(exports.json([rich_conversation(engine, qa)]))


def edit(doc: dict, path: str, value) -> dict:
    """Set (or, with value ..., delete) a dotted path like conversations.0.messages.1.role."""
    *parents, last = path.split(".")
    target = doc
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("format", "something.else", "not a conversation export"),
        ("version", 2, "version 2; this app reads version 1"),
        ("conversations", ..., r"conversations: Field required"),
        ("conversations.0.persona", ..., r"conversations\[0\]\.persona: Field required"),
        ("conversations.0.title", 7, r"conversations\[0\]\.title: Input should be a valid string"),
        ("conversations.0.messages.1.role", "system", r"conversations\[0\]\.messages\[1\]\.role"),
        ("conversations.0.messages.1.input_tokens", "120", r"messages\[1\]\.input_tokens"),
        ("conversations.0.messages.1.input_tokens", True, r"messages\[1\]\.input_tokens"),
        ("conversations.0.messages.1.input_tokens", -1, r"messages\[1\]\.input_tokens"),
        ("conversations.0.messages.0.created_at", "2026-01-01T10:00:00", "timezone"),
        ("conversations.0.messages.0.created_at", "yesterday", r"messages\[0\]\.created_at"),
        ("conversations.0.messages.1.feedback.0.rating", 5, r"feedback\[0\]\.rating"),
        ("conversations.0.messages.1.surprise", 1, r"messages\[1\]\.surprise: Extra inputs"),
        ("conversations.0.messages.1.position", 0, "same position"),
        ("conversations.0.annotations.1.message_position", 9, "no message at position 9"),
        ("conversations.0.annotations.2.text", "Refund", "not in stored form"),
        ("conversations.0.annotations.0.text", "   ", "note cannot be empty"),
        ("conversations.0.messages.1.feedback.1.owner", "ana", "rated it twice"),
        ("conversations.0.messages.0.feedback", [{"owner": "a", "rating": 1, "comment": None,
                                                   "created_at": T0.isoformat(),
                                                   "updated_at": T0.isoformat()}], "only replies"),
        ("conversations.0.golden", "yes", r"conversations\[0\]\.golden"),
        ("conversations.0.persona_vars", {"x": 1}, r"persona_vars\.x"),
    ],
)
def test_malformed_imports_name_the_problem_and_import_nothing(engine, exports, qa, path, value, message):
    doc = good_document(engine, exports, qa)
    with pytest.raises(InputError, match=message):
        exports.import_json(json.dumps(edit(doc, path, value)), by="q")
    assert len(qa.find(SearchFilters(include_archived=True)).rows) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON: Expecting value at line 1, column 1"),
        ("{\"format\": ", "not valid JSON"),
        ("[1, 2]", "not a conversation export"),
        ("null", "not a conversation export"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_not_an_export_at_all(exports, text, message):
    with pytest.raises(InputError, match=message):
        exports.import_json(text, by="q")


def test_many_problems_are_summarised(engine, exports, qa):
    doc = good_document(engine, exports, qa)
    for m in doc["conversations"][0]["messages"]:
        m["role"] = "robot"
        m["status"] = "odd"
    with pytest.raises(InputError, match=r"\(and 3 more\)"):
        exports.import_json(json.dumps(doc), by="q")


def test_huge_files_are_refused_before_parsing(exports, monkeypatch):
    monkeypatch.setattr(conversation_import, "MAX_IMPORT_CHARS", 1_000)
    with pytest.raises(InputError, match="too large to import: 2,000 characters"):
        exports.import_json("x" * 2_000, by="q")


@pytest.mark.also_postgresql
def test_a_failure_midway_leaves_nothing_behind(engine, exports, qa, monkeypatch):
    doc = good_document(engine, exports, qa)
    doc["conversations"].append(json.loads(json.dumps(doc["conversations"][0])))
    calls = []
    real = conversation_import._create

    def fail_on_second(session, item):
        calls.append(item)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(session, item)

    monkeypatch.setattr(conversation_import, "_create", fail_on_second)
    with pytest.raises(RuntimeError):
        exports.import_json(json.dumps(doc), by="q")
    assert len(calls) == 2
    assert len(qa.find(SearchFilters(include_archived=True)).rows) == 1
    assert qa.find(SearchFilters(text="Monday")).total == 1  # no orphan rows in the index


def test_markdown_reads_like_a_transcript(engine, exports, qa):
    cid = rich_conversation(engine, qa)
    text = exports.markdown([cid])
    assert text.startswith("# Refund for order #1042\n")
    for expected in (
        "persona `billing` v3 · agent ana",
        "Started 2026-02-03 09:30 UTC",
        "Case details: customer_name: Zoë, ticket_id: T-9",
        "Golden case, added by quinn: refund regression",
        "- Tags: refund",
        "- Note (quinn, ", "Policy check\n  second line",
        "## Agent · ", "## Assistant · ",
        "claude-sonnet-5-5 · 120 in / 30 out tokens · $0.0125",
        "**partial**", "> Error: The reply was cut off.",
        "> 👍 ana: great", "> 👎 bo", "> Tags: truncated", "> Note (quinn, ",
    ):
        assert expected in text
    assert text.index("Where, exactly") < text.index("It was sent") < text.index("-1 stars")
    two = exports.markdown([cid, cid + 1000, cid])
    assert two.count("# Refund for order #1042") == 1  # unknown and repeated ids skipped


@pytest.mark.also_postgresql
def test_csv_has_one_safe_row_per_message(engine, exports, qa):
    cid = rich_conversation(engine, qa)
    rows = list(csv.DictReader(io.StringIO(exports.csv([cid]))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4
    assert [r["position"] for r in rows] == ["0", "1", "2", "3"]
    user, reply, stars, partial = rows
    assert user["content"] == "'=HYPERLINK(\"evil\")\nWhere, exactly, is my \"refund\"? 🙂"
    assert stars["content"] == "'-1 stars"
    assert (reply["cost_usd"], reply["input_tokens"], reply["request_id"]) == ("0.0125", "120", "req_abc")
    assert reply["feedback"] == "up by ana: great; down by bo"
    assert partial["feedback"] == "down by ana: @cut short"  # not at the start: left alone
    assert (partial["status"], partial["error"]) == ("partial", "The reply was cut off.")
    assert user["title"] == "Refund for order #1042" and user["persona_version"] == "3"
    assert user["created_at"].endswith("+00:00") and user["cost_usd"] == ""
