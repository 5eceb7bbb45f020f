"""The Personas admin page: the editor and its preview, drafts and publishing, history,
new/duplicate/archive, import/export and the "Try it" scratch chat."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from chatbot.personas import SUPPORT, PersonaSpec
from chatbot.sandbox.replies import input_tokens
from chatbot.ui.persona_admin import STARTER
from chatbot.ui.resources import get_runtime

from actors import ADMIN

OLD_LINE = next(line for line in SUPPORT.template.splitlines() if line.startswith("Be friendly"))
NEW_LINE = OLD_LINE.replace("Be friendly, concise", "Be warm, brief")
EDITED = SUPPORT.template.replace(OLD_LINE, NEW_LINE)
SUPPORT_LABEL = "Customer support assistant"


@pytest.fixture(autouse=True)
def fresh_data_cache():
    # The preview is st.cache_data: process-wide, so one test's count would hide the
    # count_tokens request another test expects to reach the sandbox.
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def open_admin(new_app) -> AppTest:
    at = new_app(user="admin")
    return ok(at.switch_page("../../pages/personas.py").run())


def edit_template(at: AppTest, text: str, *, key: str = "support", version: int = 1) -> AppTest:
    return ok(at.text_area(key=f"edit-{key}-v{version}-template").set_value(text).run())


def labels(at: AppTest) -> list[str]:
    return list(at.selectbox(key="persona-selected").options)


def chat_choices(new_app) -> list[str]:
    """The personas a new chat session offers."""
    return list(new_app().selectbox(key="new-persona").options)


def versions(db, key: str = "support") -> list[tuple[int, str, str | None]]:
    return db(
        "SELECT v.number, v.created_by, v.note FROM persona_version v "
        "JOIN persona p ON p.id = v.persona_id WHERE p.key = ? ORDER BY v.number",
        key,
    )


def published(db, key: str = "support") -> int | None:
    return db("SELECT published_version FROM persona WHERE key = ?", key)[0][0]


def stored_spec(db, key: str, number: int) -> dict:
    [(spec,)] = db(
        "SELECT v.spec FROM persona_version v JOIN persona p ON p.id = v.persona_id "
        "WHERE p.key = ? AND v.number = ?",
        key,
        number,
    )
    return json.loads(spec)


def requests_to(sandbox, path: str) -> list[dict]:
    return [r["body"] for r in sandbox.state.requests() if r["path"] == path]


# -- the editor and its preview -------------------------------------------------------------


def test_the_shipped_persona_is_listed_published_and_fills_the_editor(new_app):
    at = open_admin(new_app)

    assert at.title[0].value == "Personas"
    assert at.selectbox(key="persona-selected").value == "support"
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)"]
    assert [tab.label for tab in at.tabs] == ["Edit", "History", "Try it", "Import / export"]
    p = "edit-support-v1"
    assert at.text_input(key=f"{p}-name").value == SUPPORT.name
    assert at.text_input(key=f"{p}-description").value == SUPPORT.description
    assert at.text_area(key=f"{p}-template").value == SUPPORT.template
    assert at.selectbox(key=f"{p}-model").value == SUPPORT.model
    assert at.number_input(key=f"{p}-max-tokens").value == SUPPORT.max_tokens
    assert at.slider(key=f"{p}-temperature").value == pytest.approx(SUPPORT.temperature)
    assert at.text_area(key=f"{p}-greeting").value == SUPPORT.greeting
    assert at.text_area(key=f"{p}-suggestions").value.splitlines() == list(SUPPORT.suggestions)
    variables = at.data_editor(key=f"{p}-variables").value
    assert variables.to_dict("records") == [
        {"name": v.name, "label": v.label, "default": v.default, "required": v.required}
        for v in SUPPORT.variables
    ]
    # Nothing edited yet: nothing to save.
    assert at.button(key=f"{p}-save-draft").disabled
    assert at.button(key=f"{p}-publish").disabled
    assert "No changes since version 1" in [c.value for c in at.caption]


def test_the_preview_renders_the_prompt_and_counts_tokens_with_the_api(new_app, sandbox):
    at = open_admin(new_app)

    prompt = SUPPORT.system_prompt({})
    assert at.code[0].value == prompt
    [counted] = requests_to(sandbox, "/v1/messages/count_tokens")
    assert counted["system"] == prompt
    assert counted["model"] == SUPPORT.model
    assert at.metric[0].label == "System prompt"
    assert at.metric[0].value == f"{input_tokens(prompt, counted['messages']):,} tokens"

    # A sample value renders into the preview and is counted again.
    ok(at.text_input(key="edit-support-v1-sample-customer_name").set_value("Dana Katherine Scully").run())

    prompt = SUPPORT.system_prompt({"customer_name": "Dana Katherine Scully"})
    assert at.code[0].value == prompt
    counted = requests_to(sandbox, "/v1/messages/count_tokens")[-1]
    assert counted["system"] == prompt
    assert at.metric[0].value == f"{input_tokens(prompt, counted['messages']):,} tokens"


def test_save_draft_adds_a_draft_version_and_new_conversations_keep_the_published_one(
    new_app, db, sandbox
):
    at = open_admin(new_app)
    edit_template(at, EDITED)
    assert not at.button(key="edit-support-v1-save-draft").disabled
    at.text_input(key="edit-support-v1-note").set_value("Warmer tone")

    ok(at.button(key="edit-support-v1-save-draft").click().run())

    assert [s.value for s in at.success] == ["Saved as a new draft version."]
    assert versions(db) == [(1, "system", "Shipped default"), (2, "admin", "Warmer tone")]
    assert stored_spec(db, "support", 2) == {**SUPPORT.to_dict(), "template": EDITED}
    assert published(db) == 1
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1 · newer draft)"]
    # The editor reloads from the new version, which has nothing left to save.
    assert at.text_area(key="edit-support-v2-template").value == EDITED
    assert at.button(key="edit-support-v2-save-draft").disabled
    assert any(c.value.startswith("No changes since version 2 (a draft") for c in at.caption)
    links = [link.proto.label for link in at.get("page_link")]
    assert "Replay the golden set against draft v2 before publishing" in links

    chat = new_app()
    ok(chat.button(key="start-conversation").click().run())
    assert db("SELECT persona, persona_version FROM conversation") == [("support", 1)]
    ok(chat.chat_input(key="prompt").set_value("Hello").run())
    system = requests_to(sandbox, "/v1/messages")[-1]["system"]
    assert OLD_LINE in system and NEW_LINE not in system

    # "Save and publish" with nothing edited publishes the draft; no version is added.
    ok(at.button(key="edit-support-v2-publish").click().run())

    assert [s.value for s in at.success] == ["Published: new conversations use it now."]
    assert published(db) == 2
    assert not [link for link in at.get("page_link") if "golden" in link.proto.label]
    assert [n for n, _, _ in versions(db)] == [1, 2]
    assert labels(at) == [f"{SUPPORT_LABEL} (published v2)"]


def test_save_and_publish_makes_the_edit_what_new_conversations_get(new_app, db, sandbox):
    at = open_admin(new_app)
    edit_template(at, EDITED)

    ok(at.button(key="edit-support-v1-publish").click().run())

    assert [s.value for s in at.success] == ["Published: new conversations use it now."]
    assert [n for n, _, _ in versions(db)] == [1, 2]
    assert published(db) == 2
    assert labels(at) == [f"{SUPPORT_LABEL} (published v2)"]

    chat = new_app()
    ok(chat.chat_input(key="prompt").set_value("Hello").run())
    assert db("SELECT persona, persona_version FROM conversation") == [("support", 2)]
    assert chat.caption[0].value.startswith(f"{SUPPORT_LABEL} · version 2 · ")
    system = requests_to(sandbox, "/v1/messages")[-1]["system"]
    assert NEW_LINE in system and OLD_LINE not in system


@pytest.mark.parametrize(
    "template, problem",
    [
        ("Hi {{ company_name.__class__ }}", "is not a variable"),
        ("Hi {{ nobody }}, from {{ company_name }}", "uses variables that are not declared: nobody"),
        ("Hi {{ company_name", "unmatched"),
    ],
    ids=["attribute", "undeclared", "unclosed"],
)
def test_a_broken_template_names_the_field_blocks_saving_and_writes_nothing(
    new_app, db, sandbox, template, problem
):
    at = open_admin(new_app)
    counted = len(requests_to(sandbox, "/v1/messages/count_tokens"))

    edit_template(at, template)

    [error] = at.error
    assert error.value.startswith("**template**: ") and problem in error.value
    save, publish = at.button(key="edit-support-v1-save-draft"), at.button(key="edit-support-v1-publish")
    assert save.disabled and publish.disabled
    with pytest.raises(AppTestError):
        save.click()
    assert [i.value for i in at.info] == [
        "Fix the highlighted field to see the preview.",
        "Fix the persona in the editor first; the scratch chat uses the draft as it is.",
    ]
    assert len(requests_to(sandbox, "/v1/messages/count_tokens")) == counted
    assert versions(db) == [(1, "system", "Shipped default")]
    assert published(db) == 1

    # Fixing it brings the buttons back.
    edit_template(at, EDITED)
    assert not at.error
    assert not at.button(key="edit-support-v1-save-draft").disabled


# -- history -------------------------------------------------------------------------------


def test_history_lists_versions_diffs_them_and_restores_an_old_one(new_app, db):
    at = open_admin(new_app)
    edit_template(at, EDITED)
    ok(at.button(key="edit-support-v1-save-draft").click().run())
    history = at.tabs[1]

    table = history.dataframe[0].value
    assert table[["version", "published", "by", "note"]].to_dict("records") == [
        {"version": 2, "published": "", "by": "admin", "note": ""},
        {"version": 1, "published": "✓", "by": "system", "note": "Shipped default"},
    ]
    assert history.selectbox(key="diff-a-support-v2").value == 1
    assert history.selectbox(key="diff-b-support-v2").value == 2
    diff = history.code[0].value.splitlines()
    assert diff[:2] == ["--- version 1", "+++ version 2"]
    assert f"-  {OLD_LINE}" in diff and f"+  {NEW_LINE}" in diff
    assert sum(line.startswith(("-", "+")) for line in diff) == 4  # headers + the one line
    assert history.button(key="publish-support").label == "Publish version 2"  # the newest

    ok(at.selectbox(key="diff-b-support-v2").set_value(1).run())
    assert not at.tabs[1].code
    assert "These two versions are identical." in [c.value for c in at.tabs[1].caption]

    ok(at.selectbox(key="act-support-v2").set_value(1).run())
    ok(at.button(key="restore-support").click().run())

    assert [s.value for s in at.success] == ["Version 1 was restored as a new draft version."]
    assert versions(db)[-1] == (3, "admin", "Restored from version 1")
    assert stored_spec(db, "support", 3) == stored_spec(db, "support", 1) == SUPPORT.to_dict()
    assert published(db) == 1
    assert at.text_area(key="edit-support-v3-template").value == SUPPORT.template
    # The comparison follows the new version: 2 against 3.
    diff = at.tabs[1].code[0].value.splitlines()
    assert diff[:2] == ["--- version 2", "+++ version 3"]
    assert f"-  {NEW_LINE}" in diff and f"+  {OLD_LINE}" in diff

    # Restoring what the latest version already says adds nothing.
    ok(at.selectbox(key="act-support-v3").set_value(1).run())
    ok(at.button(key="restore-support").click().run())
    assert "No changes to save" in at.error[0].value
    assert len(versions(db)) == 3

    # Publishing an older version from History.
    ok(at.selectbox(key="act-support-v3").set_value(2).run())
    ok(at.button(key="publish-support").click().run())
    assert [s.value for s in at.success] == ["Version 2 is published."]
    assert published(db) == 2
    assert labels(at) == [f"{SUPPORT_LABEL} (published v2 · newer draft)"]


# -- new, duplicate, archive ----------------------------------------------------------------


def test_new_creates_a_published_persona_from_the_starter(new_app, db):
    at = open_admin(new_app)

    ok(at.button(key="persona-new").click().run())

    assert [s.value for s in at.success] == ["Persona created."]
    assert at.selectbox(key="persona-selected").value == "new-persona"
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)", "New persona (published v1)"]
    assert at.text_input(key="edit-new-persona-v1-name").value == STARTER.name
    assert at.text_area(key="edit-new-persona-v1-template").value == STARTER.template
    assert db("SELECT name, published_version, archived FROM persona WHERE key = 'new-persona'") == [
        ("New persona", 1, 0)
    ]
    assert stored_spec(db, "new-persona", 1) == STARTER.to_dict()
    assert chat_choices(new_app) == [SUPPORT_LABEL, "New persona"]


def test_duplicate_then_archive_hides_the_copy_from_new_conversations(new_app, db):
    at = open_admin(new_app)
    copy_key, copy_name = "customer-support-assistant-copy", f"{SUPPORT_LABEL} (copy)"

    ok(at.button(key="persona-copy").click().run())

    assert [s.value for s in at.success] == ["Persona duplicated."]
    assert at.selectbox(key="persona-selected").value == copy_key
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)", f"{copy_name} (published v1)"]
    assert at.text_input(key=f"edit-{copy_key}-v1-name").value == copy_name
    assert stored_spec(db, copy_key, 1) == {**SUPPORT.to_dict(), "name": copy_name}
    assert chat_choices(new_app) == [SUPPORT_LABEL, copy_name]

    ok(at.button(key="persona-archive").click().run())

    assert [s.value for s in at.success] == ["Persona archived."]
    assert db("SELECT archived FROM persona WHERE key = ?", copy_key) == [(1,)]
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)"]
    assert at.selectbox(key="persona-selected").value == "support"
    assert chat_choices(new_app) == [SUPPORT_LABEL]

    ok(at.toggle(key="persona-show-archived").set_value(True).run())
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)", f"{copy_name} (archived)"]
    ok(at.selectbox(key="persona-selected").set_value(copy_key).run())
    assert at.button(key="persona-archive").label == "Unarchive"

    ok(at.button(key="persona-archive").click().run())

    assert [s.value for s in at.success] == ["Persona restored."]
    assert db("SELECT archived FROM persona WHERE key = ?", copy_key) == [(0,)]
    assert chat_choices(new_app) == [SUPPORT_LABEL, copy_name]


# -- import / export -----------------------------------------------------------------------

def test_try_it_streams_a_reply_to_the_unsaved_draft_and_stores_nothing(new_app, db, sandbox):
    at = open_admin(new_app)
    edit_template(at, EDITED)  # a draft: not saved
    ok(at.text_input(key="edit-support-v1-sample-customer_name").set_value("Dana Scully").run())

    at.text_area(key="scratch-text-support").set_value("Where is order 1042?")
    ok(at.button(key="FormSubmitter:scratch-form-support-Send").click().run())

    draft = PersonaSpec.from_dict({**SUPPORT.to_dict(), "template": EDITED})
    body = requests_to(sandbox, "/v1/messages")[-1]
    assert body["system"] == draft.system_prompt({"customer_name": "Dana Scully"})
    assert body["messages"] == [{"role": "user", "content": "Where is order 1042?"}]
    assert body["stream"] is True
    shown = [(m.name, m.markdown[0].value) for m in at.tabs[2].chat_message]
    assert shown[0] == ("user", "Where is order 1042?")
    assert shown[1][0] == "assistant" and "Sandbox reply" in shown[1][1]

    # The scratch chat keeps its own history for the next turn.
    at.text_area(key="scratch-text-support").set_value("Thanks!")
    ok(at.button(key="FormSubmitter:scratch-form-support-Send").click().run())
    body = requests_to(sandbox, "/v1/messages")[-1]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == shown[1][1]

    assert db("SELECT count(*) FROM conversation") == [(0,)]
    assert db("SELECT count(*) FROM message") == [(0,)]
    assert versions(db) == [(1, "system", "Shipped default")]


def test_a_persona_left_to_the_api_default_temperature_opens_unchanged_and_stays_so(new_app, db):
    spec = PersonaSpec(name="Free form", template="Answer briefly.", temperature=None)
    get_runtime().personas.create(ADMIN, spec, key="free")  # e.g. imported from a file
    at = open_admin(new_app)
    ok(at.selectbox(key="persona-selected").set_value("free").run())

    assert at.button(key="edit-free-v1-save-draft").disabled  # nothing was edited

    edit_template(at, "Answer very briefly.", key="free")
    ok(at.button(key="edit-free-v1-save-draft").click().run())

    assert stored_spec(db, "free", 2) == {**spec.to_dict(), "template": "Answer very briefly."}
