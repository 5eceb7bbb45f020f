"""The QA Conversations page: the empty state, search with highlighted snippets, every
filter, the read-only transcript with what each reply recorded, notes, tags and the golden
flag (checked in the database), and paging."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest
from actors import AGENT, QA
from ui_helpers import conversation_id, send

from chatbot import store
from chatbot.ui.resources import get_runtime

PAGE = "../../pages/qa_conversations.py"


def open_qa(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def listed(at: AppTest) -> list[int]:
    """Conversation ids of the result cards, in order."""
    return [int(b.key.removeprefix("qa-open-")) for b in at.button if (b.key or "").startswith("qa-open-")]


def chat(new_app, *messages: str, user: str = "agent") -> int:
    """A conversation held on the chat page (by `user`, an agent); returns its id."""
    at = new_app(user=user)
    for text in messages:
        send(at, text)
    return conversation_id(at)


def bodies(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def run(target) -> AppTest:
    """Run the app (or a widget's app after `set_value`) and fail on an exception."""
    at = target.run()
    assert not at.exception, at.exception
    return at


def test_a_fresh_database_says_where_conversations_come_from(new_app):
    at = open_qa(new_app(user="qa"))

    assert at.title[0].value == "Conversations"
    assert "No conversations yet" in at.info[0].value and "Chat page" in at.info[0].value
    assert listed(at) == [] and not at.error


def test_search_finds_the_conversation_and_highlights_the_match(new_app):
    refund = chat(new_app, "Where is my refund for order 1042?")
    parcel = chat(new_app, "My parcel never arrived.")
    at = open_qa(new_app(user="qa"))
    assert listed(at) == [parcel, refund]  # newest first without a search

    run(at.text_input(key="q").set_value("refund"))

    assert listed(at) == [refund]
    assert "1 conversation matches." in captions(at)
    assert "Where is my :orange-background[refund] for order 1042\\?" in bodies(at)
    assert any(c.startswith(f"#{refund} ") and "match" in c for c in captions(at))

    run(at.text_input(key="q").set_value('"never arrived"'))
    assert listed(at) == [parcel]
    run(at.text_input(key="q").set_value("arriv*"))
    assert listed(at) == [parcel]

    run(at.text_input(key="q").set_value("lighthouse"))
    assert listed(at) == []
    assert "No conversation matches" in at.info[0].value
    at.button(key="qa-clear-empty").click()
    run(at)
    assert at.text_input(key="q").value == "" and listed(at) == [parcel, refund]


def test_a_search_with_no_word_is_refused_with_a_message(new_app):
    chat(new_app, "hello")
    at = open_qa(new_app(user="qa"))

    run(at.text_input(key="q").set_value('*** ""'))

    assert "at least one word" in at.error[0].value
    assert listed(at) == []


def test_the_search_text_comes_from_the_url(new_app):
    refund = chat(new_app, "Where is my refund?")
    chat(new_app, "Where is my parcel?")
    at = open_qa(new_app({"q": "refund", "qc": str(refund)}, user="qa"))

    assert at.text_input(key="q").value == "refund"
    assert listed(at) == [refund]
    assert at.subheader[0].value == "Where is my refund\\?"  # the shared link opened it


def test_each_filter_narrows_the_list(new_app, sandbox):
    ok = chat(new_app, "Where is order 1042?")
    sandbox.state.add_faults([{"kind": "status", "status": 400}])
    failed = chat(new_app, "Second question")
    runtime = get_runtime()
    with store.write_session(runtime.engine) as session:
        other = store.create_conversation(
            session=session, persona="retired", persona_version=3, owner="bea", title="Bea's case"
        ).id
    runtime.qa.tag(QA, ok, "billing")
    runtime.qa.tag(QA, failed, "billing")
    runtime.qa.tag(QA, failed, "escalated")
    runtime.qa.set_golden(QA, ok, True)
    reply = [m for m in runtime.qa.transcript(QA, ok).messages if m.role == "assistant"][0]
    runtime.qa.rate(AGENT, reply.id, -1, "too long")
    at = open_qa(new_app(user="qa"))
    assert sorted(listed(at)) == sorted([ok, failed, other])

    def narrowed(key: str, value, expected: list[int]) -> None:
        widget = at.toggle(key=key) if key == "golden" else (
            at.multiselect(key=key) if key == "qa-tags" else at.selectbox(key=key))
        run(widget.set_value(value))
        assert sorted(listed(at)) == sorted(expected), key
        default = False if key == "golden" else ([] if key == "qa-tags" else None)
        run(widget.set_value(default))

    narrowed("agent", "bea", [other])
    narrowed("agent", "agent", [ok, failed])
    narrowed("status", "errors", [failed])
    narrowed("feedback", "down", [ok])
    narrowed("feedback", "up", [])
    narrowed("qa-tags", ["billing"], [ok, failed])
    narrowed("qa-tags", ["billing", "escalated"], [failed])
    narrowed("golden", True, [ok])
    narrowed("persona", "retired", [other])

    tags = at.multiselect(key="qa-tags")
    assert tags.options == ["billing (2)", "escalated (1)"]  # with their counts

    run(at.selectbox(key="persona").set_value("support"))
    run(at.selectbox(key="qa-version").set_value(1))
    assert sorted(listed(at)) == [ok, failed]


def test_opening_a_conversation_shows_what_each_reply_recorded(new_app, db):
    cid = chat(new_app, "Where is my refund for order 1042?")
    runtime = get_runtime()
    reply = [m for m in runtime.qa.transcript(QA, cid).messages if m.role == "assistant"][0]
    runtime.qa.rate(AGENT, reply.id, 1, "spot on")
    at = open_qa(new_app(user="qa"))

    at.button(key=f"qa-open-{cid}").click()
    run(at)

    assert at.query_params["qc"] == str(cid)
    assert at.subheader[0].value == "Where is my refund for order 1042\\?"  # escaped: shown as typed
    (header,) = [c for c in captions(at) if c.startswith(f"#{cid} · persona")]
    assert "**support v1**" in header and "agent **agent**" in header and "$0." in header

    ((vars_json, version),) = db("SELECT persona_vars, persona_version FROM conversation WHERE id = ?", cid)
    prompt = runtime.personas.spec("support", version).system_prompt(json.loads(vars_json))
    assert at.code[0].value == prompt and prompt  # the rendered system prompt, verbatim

    user, assistant = at.chat_message
    assert user.markdown[0].value == "Where is my refund for order 1042?"
    model, tokens_in, tokens_out, request_id, ttft, total = db(
        "SELECT model, input_tokens, output_tokens, request_id, ttft_ms, total_ms FROM message WHERE id = ?",
        reply.id,
    )[0]
    ((cost,),) = db("SELECT SUM(cost_usd) FROM api_call WHERE message_id = ?", reply.id)
    facts = assistant.caption[0].value
    assert facts.startswith(model.replace("-", "\\-"))
    assert f"{tokens_in:,} in / {tokens_out:,} out tokens" in facts
    assert f"${cost:.4f}" in facts and "stop end\\_turn" in facts
    assert f"first token {ttft / 1000:.2f} s" in facts and f"total {total / 1000:.2f} s" in facts
    assert any(":material/thumb_up: agent: “spot on”" in c.value for c in assistant.caption)
    details = assistant.expander[0].markdown[0].value
    assert f"**Request id**: {request_id.replace('_', chr(92) + '_')}" in details
    assert "**Status**: complete · **Stop reason**: end\\_turn" in details
    assert f"**Tokens**: {tokens_in} in / {tokens_out} out" in details
    # Read-only: the only text fields are the search box and the two annotation forms.
    assert [t.key for t in at.text_input] == ["q"]
    assert {t.key for t in at.text_area} == {f"qa-annotation-c{cid}", f"qa-annotation-m{reply.id}"}
    assert not at.chat_input


def test_a_failed_reply_shows_its_status_and_error(new_app, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 400}])
    cid = chat(new_app, "hello")
    at = open_qa(new_app({}, user="qa"))
    at.button(key=f"qa-open-{cid}").click()
    run(at)

    (_, reply) = at.chat_message
    assert reply.error[0].value.startswith("Failed reply: ")
    details = reply.expander[0].markdown[0].value
    assert "**Status**: error" in details and "**Error**: " in details


def test_notes_and_tags_on_the_conversation_and_a_reply_are_saved(new_app, db):
    cid = chat(new_app, "Where is my refund?")
    ((reply,),) = db("SELECT id FROM message WHERE role = 'assistant'")
    at = open_qa(new_app({"qc": str(cid)}, user="qa"))

    def add(target: str, kind: str, text: str) -> None:
        at.text_area(key=f"qa-annotation-{target}").set_value(text)
        at.button(key=f"qa-add-{kind}-{target}").click()
        run(at)

    add(f"c{cid}", "note", "Policy wording is right.")
    add(f"c{cid}", "tag", " Refund ")
    add(f"m{reply}", "note", "Tone is good.")
    add(f"m{reply}", "tag", "tone")

    rows = db("SELECT kind, text, created_by, message_id FROM annotation ORDER BY id")
    assert rows == [
        ("note", "Policy wording is right.", "qa", None),
        ("tag", "refund", "qa", None),
        ("note", "Tone is good.", "qa", reply),
        ("tag", "tone", "qa", reply),
    ]
    assert "Tag added to this reply." in at.success[0].value
    assert "Policy wording is right\\." in bodies(at) and "Tone is good\\." in bodies(at)
    assert at.multiselect(key="qa-tags").options == ["refund (1)", "tone (1)"]

    add(f"c{cid}", "note", "   ")
    assert at.error[0].value == "A note cannot be empty."

    ((tag_id,),) = db("SELECT id FROM annotation WHERE text = 'refund'")
    ((note_id,),) = db("SELECT id FROM annotation WHERE text = 'Tone is good.'")
    at.button(key=f"qa-untag-{tag_id}").click()
    run(at)
    at.button(key=f"qa-unnote-{note_id}").click()
    run(at)
    assert db("SELECT kind, text FROM annotation ORDER BY id") == [
        ("note", "Policy wording is right."), ("tag", "tone"),
    ]


def test_the_golden_toggle_adds_and_removes_the_case(new_app, db):
    cid = chat(new_app, "Where is my refund?")
    other = chat(new_app, "Another question")
    at = open_qa(new_app({"qc": str(cid)}, user="qa"))

    run(at.toggle(key=f"qa-golden-{cid}-False").set_value(True))

    assert db("SELECT conversation_id, added_by FROM golden_case") == [(cid, "qa")]
    assert at.toggle(key=f"qa-golden-{cid}-True").value is True
    assert any("Golden since" in c for c in captions(at))
    run(at.toggle(key="golden").set_value(True))
    assert listed(at) == [cid] and other not in listed(at)
    assert any(":orange-badge[:material/star: golden]" in b for b in bodies(at))

    run(at.toggle(key=f"qa-golden-{cid}-True").set_value(False))
    assert db("SELECT * FROM golden_case") == []
    assert listed(at) == []


def test_a_conversation_that_is_gone_says_so(new_app):
    chat(new_app, "hello")
    at = open_qa(new_app({"qc": "999"}, user="qa"))

    assert "Conversation 999 does not exist" in at.warning[0].value
    at.button(key="qa-close-missing").click()
    run(at)
    assert "qc" not in at.query_params


def test_results_are_paged_fifty_at_a_time(new_app):
    new_app()
    runtime = get_runtime()
    with store.write_session(runtime.engine) as session:
        for i in range(53):
            store.create_conversation(session=session, persona="support", title=f"Case {i}")
    at = open_qa(new_app(user="qa"))

    assert len(listed(at)) == 50 and "1–50 of 53 matching conversations." in captions(at)
    run(at.pagination[0].set_value(2))

    assert len(listed(at)) == 3 and "51–53 of 53 matching conversations." in captions(at)
    run(at.text_input(key="q").set_value("x"))  # a new search starts on page 1 again
    assert at.session_state["qa-page"] == 1


# What a QA reader may click on the page: opening, closing, paging, annotating, the golden
# flag, exports and replays. A control that changes the conversation itself (rename,
# delete, archive, post) would be a new key here, and fails the test below.
READER_CONTROLS = ("qa-open-", "qa-close", "qa-replay-", "qa-untag-", "qa-unnote-", "qa-add-note-",
                   "qa-add-tag-", "qa-export-", "qa-clear-", "qa-imported-", "sign-out")


def test_qa_reads_every_agents_conversation_and_cannot_change_it(new_app, db):
    mine = chat(new_app, "Where is my refund?")
    theirs = chat(new_app, "My parcel never arrived.", user="agent2")
    at = open_qa(new_app(user="qa"))
    assert sorted(listed(at)) == sorted([mine, theirs])

    for cid, owner in ((mine, "agent"), (theirs, "agent2")):
        at.button(key=f"qa-open-{cid}").click()
        run(at)
        (header,) = [c for c in captions(at) if c.startswith(f"#{cid} · persona")]
        assert f"agent **{owner}**" in header and len(at.chat_message) == 2
        keys = [w.key or "" for w in (*at.button, *at.get("download_button"))]
        assert keys and all(k.startswith(READER_CONTROLS) for k in keys), keys
        labels = " ".join(b.label.lower() for b in at.button)
        assert not any(word in labels for word in ("rename", "delete", "archive")), labels
        assert [t.key for t in at.text_input] == ["q"] and not at.chat_input
    assert db("SELECT id, owner, title FROM conversation ORDER BY id") == [
        (mine, "agent", "Where is my refund?"), (theirs, "agent2", "My parcel never arrived.")]
