"""The chat page with more than one agent: another agent's conversation by URL is a
missing one, and an agent downloads their own open conversation (Markdown, JSON)."""

from __future__ import annotations

import json

from ui_helpers import conversation_id, send, transcript, walk

from chatbot.personas import SUPPORT

SECRET_CASE = "Refund for Dana Whitfield, order 1042"
MESSAGES = "SELECT id, conversation_id, role, content, status, updated_at FROM message ORDER BY id"


def rendered_text(at) -> str:
    """Every body, label and value the page drew, sidebar included."""
    protos = [n.proto for n in walk(at._tree) if getattr(n, "proto", None) is not None]
    return "\n".join(
        str(getattr(p, field)) for p in protos for field in ("body", "label", "value", "default")
        if hasattr(p, field)
    )


def test_another_agents_conversation_by_url_is_a_missing_one(new_app, sandbox, db):
    owner = new_app()
    send(owner, SECRET_CASE)
    cid = conversation_id(owner)
    rows = db(MESSAGES), db("SELECT * FROM conversation ORDER BY id")
    sent = len(sandbox.state.requests())

    other = new_app({"c": str(cid)}, user="agent2")

    assert [w.value for w in other.warning] == ["That conversation no longer exists; here is a new one."]
    assert other.title[0].value == "New conversation"
    assert transcript(other) == [("assistant", SUPPORT.greeting)]
    assert "c" not in other.query_params
    assert "Dana Whitfield" not in rendered_text(other)  # neither its title nor a message
    assert not other.get("download_button")
    assert (db(MESSAGES), db("SELECT * FROM conversation ORDER BY id")) == rows
    assert len(sandbox.state.requests()) == sent

    # What agent2 types next starts a conversation of their own; the other is untouched.
    send(other, "Hello, a new case")
    assert conversation_id(other) != cid
    assert db("SELECT owner FROM conversation WHERE id = ?", conversation_id(other)) == [("agent2",)]
    assert [r for r in db(MESSAGES) if r[1] == cid] == [r for r in rows[0] if r[1] == cid]



def test_the_open_conversation_downloads_as_markdown_and_json_on_click(new_app, served, db):
    at = new_app()
    send(at, SECRET_CASE)
    cid = conversation_id(at)

    md, js = served[f"download-md-{cid}"], served[f"download-json-{cid}"]
    assert (md["label"], md["file_name"], md["mime"]) == ("Markdown", f"conversation-{cid}.md", "text/markdown")
    assert (js["label"], js["file_name"]) == ("JSON", f"conversation-{cid}.json")
    # Drawing the page exports nothing: each download is generated (and audited) on click.
    assert callable(md["data"]) and callable(js["data"])
    assert db("SELECT count(*) FROM audit_entry WHERE action = 'conversation.export'") == [(0,)]

    markdown = md["data"]()
    assert markdown.startswith(f"# {SECRET_CASE}") and "## Assistant" in markdown
    (exported,) = json.loads(js["data"]())["conversations"]
    assert exported["id"] == cid and exported["messages"][0]["content"] == SECRET_CASE
    assert db("SELECT actor, target, detail FROM audit_entry WHERE action = 'conversation.export' "
              "ORDER BY id") == [("agent", f"conversation:{cid}", "md"), ("agent", f"conversation:{cid}", "json")]
