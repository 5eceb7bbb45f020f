"""Exports: JSON that re-imports to the same data (as new conversations, owned by the
importer), refusals that name what is wrong and import nothing, readable Markdown and
injection-safe CSV, who may export what, and the audit entries. The key paths run on
PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import NOT_FOUND
from chatbot.errors import InputError, NotFoundError
from chatbot.services import conversation_import
from chatbot.services.exports import CSV_COLUMNS, MESSAGE_FIELDS, Exports
from chatbot.services.personas import PersonaService
from chatbot.services.qa import QAService
from chatbot.store.audit import AuditFilter
from chatbot.store.search import SearchFilters
from actors import ADMIN, AGENT, AGENT2, QA

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
    qa.note(QA, c.id, "Policy check\nsecond line")
    qa.note(QA, c.id, "Too terse.", message_id=failed.id)
    qa.tag(QA, c.id, "Refund")
    qa.tag(QA, c.id, "truncated", message_id=failed.id)
    qa.set_golden(QA, c.id, True, note="refund regression")
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


def as_imported(conversations: list[dict], importer: str) -> list[dict]:
    """What an import by `importer` makes of exported conversations: every name becomes the
    importer's, a reply keeps one rating (its owner's, else the first)."""
    for c in conversations:
        for m in c["messages"]:
            if m["feedback"]:
                kept = next((f for f in m["feedback"] if f["owner"] == c["owner"]), m["feedback"][0])
                m["feedback"] = [kept | {"owner": importer}]
        for a in c["annotations"]:
            a["created_by"] = importer
        if c["golden"]:
            c["golden"]["added_by"] = importer
        c["owner"] = importer
    return conversations


@pytest.mark.also_postgresql
def test_json_round_trip_recreates_the_same_data_owned_by_the_importer(engine, exports, qa):
    first = rich_conversation(engine, qa)
    second = rich_conversation(engine, qa, title="Second", archived=True)
    text = exports.json(QA, [first, second])

    result = exports.import_json(ADMIN, text)
    new_ids = [new for _, new in result.conversations]
    assert [old for old, _ in result.conversations] == [first, second]
    assert set(new_ids).isdisjoint({first, second}) and result.messages == 8
    assert (result.by, result.original_owners, result.ratings_left_out) == ("admin", ("ana",), 2)
    copies = comparable(exports.json(QA, new_ids))
    # Each copy carries one note more, last: where it came from and whose it was.
    provenance = [c["annotations"].pop() for c in copies]
    assert copies == as_imported(comparable(text), "admin")
    assert comparable(exports.json(QA, [first, second])) == comparable(text)  # originals untouched
    assert [(p["kind"], p["created_by"], p["message_position"]) for p in provenance] == [
        ("note", "admin", None)] * 2
    note = provenance[0]["text"]
    assert note.startswith("Imported by admin from an export of ")
    assert f"conversation #{first} of “ana” there." in note
    assert "There, ratings by “ana”, “bo”; notes and tags by “qa”; the golden mark by “qa”." in note

    # The copy is a first-class conversation: searchable, filterable, in the golden set.
    found = {r.id for r in qa.find(QA, SearchFilters(text="sent Monday", include_archived=True)).rows}
    assert found == {first, second, *new_ids}
    assert {r.id for r in qa.find(QA, SearchFilters(tags=("truncated",), golden=True, feedback="down",
                                                    status="partial", include_archived=True)).rows} == {
        first, second, *new_ids}
    assert {r.id for r in qa.find(QA, SearchFilters(owner="admin", include_archived=True)).rows} == set(new_ids)


def test_export_covers_every_message_column(engine, exports, qa):
    # A column added to Message later fails here until the export (and import) carry it.
    columns = set(store.Message.model_fields) - {"conversation_id"}
    assert set(MESSAGE_FIELDS) == columns
    data = json.loads(exports.json(QA, [rich_conversation(engine, qa)]))
    assert data["format"] == "chatbot.conversations" and data["version"] == 1
    message = data["conversations"][0]["messages"][1]
    assert message["cost_usd"] == 0.0125 and message["created_at"].endswith("+00:00")
    assert data["conversations"][0]["created_at"] == T0.isoformat()


def test_importing_twice_makes_two_copies(engine, exports, qa):
    text = exports.json(QA, [rich_conversation(engine, qa)])
    a = exports.import_json(QA, text).conversations[0][1]
    b = exports.import_json(QA, text.encode()).conversations[0][1]
    assert len({a, b}) == 2 and len(qa.find(QA, SearchFilters()).rows) == 3


def good_document(engine, exports, qa) -> dict:
    return json.loads(exports.json(QA, [rich_conversation(engine, qa)]))


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
        exports.import_json(QA, json.dumps(edit(doc, path, value)))
    assert len(qa.find(QA, SearchFilters(include_archived=True)).rows) == 1


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
        exports.import_json(QA, text)


def test_many_problems_are_summarised(engine, exports, qa):
    doc = good_document(engine, exports, qa)
    for m in doc["conversations"][0]["messages"]:
        m["role"] = "robot"
        m["status"] = "odd"
    with pytest.raises(InputError, match=r"\(and 3 more\)"):
        exports.import_json(QA, json.dumps(doc))


def test_huge_files_are_refused_before_parsing(exports, monkeypatch):
    monkeypatch.setattr(conversation_import, "MAX_IMPORT_CHARS", 1_000)
    with pytest.raises(InputError, match="too large to import: 2,000 characters"):
        exports.import_json(QA, "x" * 2_000)


@pytest.mark.also_postgresql
def test_a_failure_midway_leaves_nothing_behind(engine, exports, qa, monkeypatch):
    doc = good_document(engine, exports, qa)
    doc["conversations"].append(json.loads(json.dumps(doc["conversations"][0])))
    calls = []
    real = conversation_import._create

    def fail_on_second(session, item, *args):
        calls.append(item)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(session, item, *args)

    monkeypatch.setattr(conversation_import, "_create", fail_on_second)
    with pytest.raises(RuntimeError):
        exports.import_json(QA, json.dumps(doc))
    assert len(calls) == 2
    assert len(qa.find(QA, SearchFilters(include_archived=True)).rows) == 1
    assert audit(engine, "conversation.import") == []  # the log claims no import
    assert qa.find(QA, SearchFilters(text="Monday")).total == 1  # no orphan rows in the index


def test_markdown_reads_like_a_transcript(engine, exports, qa):
    cid = rich_conversation(engine, qa)
    text = exports.markdown(QA, [cid])
    assert text.startswith("# Refund for order #1042\n")
    for expected in (
        "persona `billing` v3 · agent ana",
        "Started 2026-02-03 09:30 UTC",
        "Case details: customer_name: Zoë, ticket_id: T-9",
        "Golden case, added by qa: refund regression",
        "- Tags: refund",
        "- Note (qa, ", "Policy check\n  second line",
        "## Agent · ", "## Assistant · ",
        "claude-sonnet-5-5 · 120 in / 30 out tokens · $0.0125",
        "**partial**", "> Error: The reply was cut off.",
        "> 👍 ana: great", "> 👎 bo", "> Tags: truncated", "> Note (qa, ",
    ):
        assert expected in text
    assert text.index("Where, exactly") < text.index("It was sent") < text.index("-1 stars")
    two = exports.markdown(QA, [cid, cid + 1000, cid])
    assert two.count("# Refund for order #1042") == 1  # unknown and repeated ids skipped


@pytest.mark.also_postgresql
def test_csv_has_one_safe_row_per_message(engine, exports, qa):
    cid = rich_conversation(engine, qa)
    rows = list(csv.DictReader(io.StringIO(exports.csv(QA, [cid]))))
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


# -- who may --------------------------------------------------------------------------------

WAITING = Actor("newbie", Role.NONE, "Signed in by SSO, no role yet")
FORMATS = ("json", "markdown", "csv")


def plain_conversation(engine, owner: str, text: str = "Where is my refund?") -> int:
    with store.write_session(engine) as session:
        c = store.create_conversation(session=session, persona="support", owner=owner, title=text)
        store.add_message(session=session, conversation_id=c.id, role="user", content=text)
    return c.id


def audit(engine, action: str) -> list:
    return AuditLog(engine).page(ADMIN, AuditFilter(action=action)).rows


@pytest.mark.parametrize("kind", FORMATS)
def test_an_agent_exports_their_own_and_nobody_elses(engine, exports, kind):
    mine = plain_conversation(engine, AGENT.username, "Mine")
    theirs = plain_conversation(engine, AGENT2.username, "Theirs")
    render = getattr(exports, kind)

    assert "Mine" in render(AGENT, [mine]) and "Theirs" not in render(AGENT, [mine])
    with pytest.raises(NotFoundError) as other:
        render(AGENT, [mine, theirs])
    with pytest.raises(NotFoundError) as missing:
        render(AGENT, [mine, theirs + 1000])
    # Someone else's id reads exactly like one that does not exist.
    assert other.value.user_message == missing.value.user_message == NOT_FOUND

    exported = audit(engine, "conversation.export")
    assert [(e.actor, e.target, e.detail) for e in exported] == [
        ("agent", f"conversation:{mine}", f"{kind}, 1 conversation: {mine}")] * 2
    (refused,) = audit(engine, "access.denied")  # only the real one; a missing id is no refusal
    assert (refused.actor, refused.target, refused.detail) == ("agent", f"conversation:{theirs}", "read")


@pytest.mark.parametrize("kind", FORMATS)
def test_qa_and_admins_export_anyones_and_each_export_is_audited(engine, exports, kind):
    a = plain_conversation(engine, AGENT.username, "First")
    b = plain_conversation(engine, AGENT2.username, "Second")
    for actor in (QA, ADMIN):
        text = getattr(exports, kind)(actor, [a, b, b + 1000])  # a gone id is skipped for them
        assert "First" in text and "Second" in text
    entries = audit(engine, "conversation.export")
    assert [(e.actor, e.role, e.address, e.target, e.detail) for e in entries] == [
        ("admin", "admin", ADMIN.address, f"conversations:{a},{b}", f"{kind}, 2 conversations: {a}, {b}"),
        ("qa", "qa", QA.address, f"conversations:{a},{b}", f"{kind}, 2 conversations: {a}, {b}"),
    ]


@pytest.mark.parametrize("kind", FORMATS)
def test_a_role_with_no_conversations_cannot_export(engine, exports, kind):
    cid = plain_conversation(engine, AGENT.username)
    with pytest.raises(AccessDenied) as refused:
        getattr(exports, kind)(WAITING, [cid])
    assert refused.value.permission == "qa.transfer"
    assert audit(engine, "conversation.export") == []
    assert [(e.actor, e.detail) for e in audit(engine, "access.denied")] == [("newbie", "qa.transfer")]


@pytest.mark.parametrize("actor", [AGENT, WAITING], ids=["agent", "no role"])
def test_only_qa_and_admins_import(engine, exports, qa, actor):
    text = exports.json(QA, [plain_conversation(engine, actor.username)])
    with pytest.raises(AccessDenied) as refused:
        exports.import_json(actor, text)
    assert refused.value.permission == "qa.transfer"
    assert "cannot export or import conversations" in refused.value.user_message
    assert qa.find(QA, SearchFilters()).total == 1  # nothing created
    assert audit(engine, "conversation.import") == []
    assert [(e.actor, e.detail) for e in audit(engine, "access.denied")] == [(actor.username, "qa.transfer")]


def test_imported_conversations_belong_to_the_importer_not_to_a_namesake(engine, exports, qa):
    # Exported elsewhere by someone called "agent2": a local agent2 must not receive it.
    theirs = plain_conversation(engine, AGENT2.username, "Made elsewhere")
    text = exports.json(QA, [theirs])

    result = exports.import_json(QA, text)

    ((_, copy),) = result.conversations
    assert (result.by, result.original_owners) == ("qa", ("agent2",))
    with store.read_session(engine) as session:
        assert store.get_conversation(session=session, conversation_id=copy).owner == "qa"
        assert [c.id for c in store.list_conversations(session=session, owner="agent2")] == [theirs]
    (note,) = qa.transcript(QA, copy).notes
    assert note.created_by == "qa" and f"conversation #{theirs} of “agent2” there." in note.text
    with pytest.raises(NotFoundError):
        exports.json(AGENT2, [copy])
    (entry,) = audit(engine, "conversation.import")
    assert (entry.actor, entry.role, entry.address) == ("qa", "qa", QA.address)
    assert entry.target == f"conversation:{copy}"
    assert entry.detail == f"1 conversation (1 message), originally of agent2: {copy}"

