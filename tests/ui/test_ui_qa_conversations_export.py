"""The QA Conversations page, continued: JSON / Markdown / CSV downloads for one
conversation and for the filtered set, a JSON export re-imported through the uploader,
the import's errors, the hand-off to the Replays page, and hostile text kept inert."""

from __future__ import annotations

import csv
import io
import json
import re

from test_ui_qa_conversations import bodies, chat, listed, open_qa, run
from actors import AGENT, QA
from ui_helpers import walk

from chatbot import store
from chatbot.ui import qa_state
from chatbot.ui.resources import get_runtime



def content(download: dict) -> str:
    data = download["data"]
    return data() if callable(data) else data  # generated on click


def comparable(conversation_id: int) -> dict:
    """What an import must reproduce: the transcript without ids and the golden flag's date."""
    view = get_runtime().qa.transcript(QA, conversation_id)
    fields = ("role", "content", "status", "error", "model", "input_tokens", "output_tokens",
              "stop_reason", "request_id", "ttft_ms", "total_ms")  # fmt: skip
    return {
        "title": view.title,
        "persona": (view.persona, view.persona_version, view.persona_vars),
        "system_prompt": view.system_prompt,
        "messages": [
            {name: getattr(m, name) for name in fields}
            | {"feedback": [(f.owner, f.rating, f.comment) for f in m.feedback],
               "notes": [n.text for n in m.notes], "tags": [t.text for t in m.tags]}
            for m in view.messages
        ],
        "notes": [n.text for n in view.notes],
        "tags": [t.text for t in view.tags],
        "golden": view.golden is not None and view.golden.note,
    }


def test_one_conversation_exports_as_json_markdown_and_csv_and_the_json_reimports(new_app, served, db):
    cid = chat(new_app, "Where is my refund for order 1042?", "It arrived broken.")
    qa = get_runtime().qa
    reply = [m for m in qa.transcript(QA, cid).messages if m.role == "assistant"][-1]
    qa.rate(AGENT, reply.id, -1, "missed the photo request")
    qa.note(QA, cid, "Refund policy case.")
    qa.tag(QA, cid, "refund", message_id=reply.id)
    qa.set_golden(QA, cid, True, note="baseline")
    at = open_qa(new_app({"qc": str(cid)}, user="qa"))

    exported = {ext: served[f"qa-export-{cid}-{ext}"] for ext in ("json", "md", "csv")}
    assert [d["file_name"] for d in exported.values()] == [
        f"conversation-{cid}.json", f"conversation-{cid}.md", f"conversation-{cid}.csv"]
    assert exported["json"]["mime"] == "application/json"
    document = json.loads(content(exported["json"]))
    assert [c["id"] for c in document["conversations"]] == [cid]
    markdown = content(exported["md"])
    assert markdown.startswith("# Where is my refund for order 1042?") and "It arrived broken." in markdown
    rows = list(csv.DictReader(io.StringIO(content(exported["csv"]))))
    assert [r["role"] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[3]["feedback"] == "down by agent: missed the photo request"
    # Each download is recorded with who made it; so is the import below.
    assert db("SELECT actor, role, action, target, detail FROM audit_entry WHERE action LIKE 'conversation.%'"
              " ORDER BY id") == [
        ("qa", "qa", "conversation.export", f"conversation:{cid}", f"{kind}, 1 conversation: {cid}")
        for kind in ("json", "markdown", "csv")]

    (uploader,) = at.file_uploader
    run(uploader.set_value(("refund.json", content(exported["json"]).encode(), "application/json")))

    (new_id,) = [int(i) for i in at.session_state[qa_state.IMPORTED]]
    (imported,) = db("SELECT actor, target FROM audit_entry WHERE action = 'conversation.import'")
    assert imported == ("qa", f"conversation:{new_id}")
    assert new_id != cid and at.query_params["qc"] == str(new_id)  # the import is opened
    assert "Imported 1 conversation (4 messages) from refund.json as new conversations, now yours. " \
        "In the file they belonged to agent;" in at.success[0].value
    copy, original = comparable(new_id), comparable(cid)
    provenance = copy["notes"].pop()  # the note saying where the copy came from
    assert provenance.startswith("Imported by qa from an export of ") and f"#{cid} of “agent”" in provenance
    for message in original["messages"]:  # the importer vouches for the ratings now
        message["feedback"] = [("qa", rating, comment) for _, rating, comment in message["feedback"]]
    assert copy == original
    assert get_runtime().qa.transcript(QA, new_id).owner == "qa"  # not the agent's: a copy QA holds
    assert sorted(listed(at)) == sorted([cid, new_id])
    # The uploader starts empty again: the next run does not import the file twice.
    run(at)
    assert len(listed(at)) == 2 and not at.file_uploader[0].value
    at.button(key=f"qa-open-{cid}").click()
    run(at)
    at.button(key=f"qa-imported-{new_id}").click()  # the notice reopens the import
    run(at)
    assert at.query_params["qc"] == str(new_id)
    at.button(key="qa-imported-dismiss").click()
    run(at)
    assert qa_state.IMPORTED not in at.session_state


def test_the_filtered_set_exports_every_match(new_app, served):
    first = chat(new_app, "Where is my refund?")
    chat(new_app, "My parcel never arrived.")
    second = chat(new_app, "A refund for the blender, please.")
    at = open_qa(new_app(user="qa"))

    run(at.text_input(key="q").set_value("refund"))

    assert "Export 2" in [p.proto.popover.label for p in at.get("popover")]
    document = json.loads(content(served["qa-export-set-json"]))
    assert sorted(c["id"] for c in document["conversations"]) == sorted([first, second])
    assert re.fullmatch(r"conversations-\d{8}-\d{4}-2\.csv", served["qa-export-set-csv"]["file_name"])
    rows = list(csv.DictReader(io.StringIO(content(served["qa-export-set-csv"]))))
    assert {int(r["conversation_id"]) for r in rows} == {first, second} and len(rows) == 4
    assert content(served["qa-export-set-md"]).count("\n---\n") == 1


def test_a_file_that_is_not_an_export_is_refused_with_the_reason(new_app):
    chat(new_app, "hello")
    at = open_qa(new_app(user="qa"))

    run(at.file_uploader[0].set_value(("notes.json", b"{not json", "application/json")))
    (error,) = at.error
    assert error.value.startswith("notes.json was not imported. The file is not valid JSON")
    assert "line 1, column 2" in error.value

    other = json.dumps({"format": "something-else", "version": 1}).encode()
    run(at.file_uploader[0].set_value(("other.json", other, "application/json")))
    assert 'This is not a conversation export (expected "format"' in at.error[0].value
    assert len(listed(at)) == 1  # nothing was created


def test_replay_hands_the_open_conversation_and_the_filtered_set_to_the_replays_page(new_app):
    first = chat(new_app, "Where is my refund?")
    second = chat(new_app, "Another refund question")
    at = open_qa(new_app({"qc": str(first)}, user="qa"))

    at.button(key=f"qa-replay-{first}").click()
    run(at)
    assert at.session_state[qa_state.REPLAY_IDS] == [first]
    assert at.title[0].value == "Replays"

    at = open_qa(new_app(user="qa"))
    run(at.text_input(key="q").set_value("refund"))
    at.button(key="qa-replay-set").click()
    run(at)
    assert sorted(at.session_state[qa_state.REPLAY_IDS]) == sorted([first, second])


PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
JS_LINK = re.compile(r"\]\(\s*<?\s*javascript:", re.I)


def test_markup_in_messages_tags_and_notes_stays_inert(new_app):
    cid = chat(new_app, "refund " + PAYLOAD + " :orange-background[fake] **bold**")
    runtime = get_runtime()
    qa = runtime.qa
    with store.write_session(runtime.engine) as session:  # only here, so it is the snippet
        store.add_message(session=session, conversation_id=cid, role="user",
                          content="zebra :orange-background[fake] " + PAYLOAD)
    reply = [m for m in qa.transcript(QA, cid).messages if m.role == "assistant"][0]
    qa.tag(QA, cid, "<img src=x onerror=alert(1)>")
    qa.tag(QA, cid, "x] :red[y", message_id=reply.id)
    qa.note(QA, cid, PAYLOAD, message_id=reply.id)
    at = open_qa(new_app({"qc": str(cid)}, user="qa"))

    run(at.text_input(key="q").set_value("zebra"))

    (snippet,) = [b for b in bodies(at) if ":orange-background[zebra]" in b]
    # One real highlight; the message's own directive is escaped into plain text.
    assert snippet.count(":orange-background[") == 1 and "\\:orange\\-background\\[fake\\]" in snippet
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in " ".join(bodies(at))  # the tag badge
    assert "x\\] \\:red\\[y" in " ".join(bodies(at))
    protos = [n.proto for n in walk(at._tree) if getattr(n, "proto", None) is not None]
    assert not [p for p in protos if getattr(p, "allow_html", False)]
    rendered = [getattr(p, f) for p in protos for f in ("body", "label") if hasattr(p, f)]
    assert sum("alert(1)" in text or "alert\\(1\\)" in text for text in rendered) >= 4
    for text in rendered:
        assert "<" not in text.replace("\\<", ""), text
        assert not JS_LINK.search(text), text
