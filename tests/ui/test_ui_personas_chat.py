"""Personas on the chat page: choosing one and its case details for a new conversation,
the version a conversation is pinned to, and editing the details as it goes."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatbot.personas import SUPPORT, PersonaSpec, Variable
from chatbot.ui.resources import get_runtime

from actors import ADMIN
from ui_helpers import conversation_id, send, transcript

BILLING = PersonaSpec(
    name="Billing desk",
    template=(
        "You are the billing desk of {{ company }}.\n"
        "The order is {{ order_id }}; the customer is {{ customer }}."
    ),
    variables=(
        Variable("company", "Company", default="Acme", required=True),
        Variable("order_id", "Order id", required=True),  # no default: the agent must fill it
        Variable("customer", "Customer", default="the customer"),
    ),
    greeting="Billing here. Which order is it about?",
    suggestions=("Refund a double charge.",),
)
SUPPORT_NAME = SUPPORT.name


@pytest.fixture(autouse=True)
def fresh_data_cache():
    st.cache_data.clear()  # process-wide: keep other tests' previews and model lists out
    yield
    st.cache_data.clear()


@pytest.fixture
def personas(app_env):
    """The app's persona service, to arrange what an admin would have done."""
    return get_runtime().personas


@pytest.fixture
def billing(personas):
    personas.create(ADMIN, BILLING, key="billing")
    return "billing"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def requests(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.state.requests() if r["path"] == "/v1/messages"]


def conversations(db) -> list[tuple[str, int | None, dict]]:
    return [
        (persona, version, json.loads(values))
        for persona, version, values in db(
            "SELECT persona, persona_version, persona_vars FROM conversation ORDER BY id"
        )
    ]


def expected_system(personas, db, cid: int) -> str:
    """The system prompt of the version the conversation row records, with its details."""
    [(key, number, values)] = db(
        "SELECT persona, persona_version, persona_vars FROM conversation WHERE id = ?", cid
    )
    return personas.version(key, number).spec.system_prompt(json.loads(values))


def header(at: AppTest) -> str:
    return at.main.caption[0].value


def choose(at: AppTest, persona: str, **details: str) -> AppTest:
    ok(at.selectbox(key="new-persona").set_value(persona).run())
    for name, value in details.items():
        at.text_input(key=f"new-{persona}-{name}").set_value(value)
    return at


# -- a new conversation --------------------------------------------------------------------


def test_the_persona_choice_lists_published_personas_except_archived_ones(new_app, personas, billing):
    personas.create(ADMIN, PersonaSpec(name="Retired desk", template="Old."), key="retired")
    personas.archive(ADMIN, "retired")

    at = new_app()

    choice = at.selectbox(key="new-persona")
    assert choice.options == ["Billing desk", SUPPORT_NAME]  # by name
    assert choice.value == "support"  # no conversation yet: the shipped default


def test_the_panel_preselects_the_persona_used_last(new_app, db, billing):
    at = choose(new_app(), "billing", order_id="A-1042")
    ok(at.button(key="start-conversation").click().run())
    assert [persona for persona, _, _ in conversations(db)] == ["billing"]

    again = new_app()

    assert again.selectbox(key="new-persona").value == "billing"
    assert [e.label for e in again.expander] == ["Case details"]
    assert again.text_input(key="new-billing-order_id").label == "Order id *"
    assert transcript(again) == [("assistant", BILLING.greeting)]

    # And back: a conversation with the support persona makes it the default again.
    ok(choose(again, "support").button(key="start-conversation").click().run())
    assert new_app().selectbox(key="new-persona").value == "support"


def test_required_details_without_defaults_block_starting_until_filled(new_app, db, sandbox, billing):
    at = choose(new_app(), "billing")

    ok(at.button(key="start-conversation").click().run())

    assert [e.value for e in at.error] == ["Fill in Order id before starting the chat."]
    assert "c" not in at.query_params
    assert db("SELECT count(*) FROM conversation") == [(0,)]

    # Typing a message does not slip past the check either, and keeps what was typed.
    send(at, "The customer was charged twice.")

    assert [e.value for e in at.error] == ["Fill in Order id before starting the chat."]
    assert at.code[0].value == "The customer was charged twice."
    assert "c" not in at.query_params
    assert db("SELECT count(*) FROM conversation") == [(0,)]
    assert db("SELECT count(*) FROM message") == [(0,)]
    assert requests(sandbox) == []

    at.text_input(key="new-billing-order_id").set_value("  A-1042 ")
    ok(at.button(key="start-conversation").click().run())

    assert not at.error
    assert conversations(db) == [("billing", 1, {"order_id": "A-1042"})]
    assert conversation_id(at) == db("SELECT id FROM conversation")[0][0]


def test_start_conversation_pins_the_published_version_and_greets(new_app, db, sandbox, personas):
    v2 = PersonaSpec.from_dict(
        {**SUPPORT.to_dict(), "greeting": "Hello from version 2.", "suggestions": ["Track a parcel."]}
    )
    personas.save(ADMIN, "support", v2, publish=True)
    personas.save(ADMIN, "support", PersonaSpec.from_dict({**v2.to_dict(), "greeting": "Draft 3."}))
    at = new_app()
    at.text_input(key="new-support-customer_name").set_value("Dana Scully")

    ok(at.button(key="start-conversation").click().run())

    cid = conversation_id(at)
    assert conversations(db) == [("support", 2, {"customer_name": "Dana Scully"})]
    assert db("SELECT count(*) FROM message WHERE conversation_id = ?", cid) == [(0,)]
    assert requests(sandbox) == []
    assert header(at).startswith(f"{SUPPORT_NAME} · version 2 · started ")
    assert transcript(at) == [("assistant", "Hello from version 2.")]
    assert [b.label for b in at.main.button if b.key.startswith("suggest-")] == ["Track a parcel."]
    # The case details travel into the conversation's popover.
    assert at.text_input(key=f"details-{cid}-customer_name").value == "Dana Scully"

    ok(at.button(key="suggest-Track a parcel.").click().run())

    assert conversation_id(at) == cid
    assert requests(sandbox)[-1]["messages"] == [{"role": "user", "content": "Track a parcel."}]
    assert requests(sandbox)[-1]["system"] == v2.system_prompt({"customer_name": "Dana Scully"})


def test_typing_a_message_starts_a_conversation_with_the_chosen_persona_and_details(
    new_app, db, sandbox, personas, billing
):
    at = choose(new_app(), "billing", order_id="A-1042", customer="Dana Scully")

    send(at, "Why was I charged twice?")

    cid = conversation_id(at)
    assert conversations(db) == [("billing", 1, {"order_id": "A-1042", "customer": "Dana Scully"})]
    body = requests(sandbox)[-1]
    assert body["system"] == expected_system(personas, db, cid)
    assert "The order is A-1042; the customer is Dana Scully." in body["system"]
    assert body["model"] == BILLING.model
    assert header(at).startswith("Billing desk · version 1 · ")


# -- an open conversation ------------------------------------------------------------------


def test_replies_keep_the_recorded_version_after_a_newer_one_is_published(new_app, db, sandbox, personas):
    chat = new_app()
    send(chat, "Where is order 1042?")
    cid = conversation_id(chat)
    [(_, pinned, _)] = conversations(db)
    first = requests(sandbox)[-1]["system"]
    assert first == expected_system(personas, db, cid)

    # An admin publishes a new version in their own session.
    admin = ok(new_app(user="admin").switch_page("../../pages/personas.py").run())
    template = admin.text_area(key=f"edit-support-v{pinned}-template")
    ok(template.set_value(template.value + "\nAlways sign off as the Acme team.").run())
    ok(admin.button(key=f"edit-support-v{pinned}-publish").click().run())
    newer = db("SELECT published_version FROM persona WHERE key = 'support'")[0][0]
    assert newer == pinned + 1

    send(chat, "It was due yesterday.")

    body = requests(sandbox)[-1]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["system"] == first
    assert "sign off" not in body["system"]
    assert conversations(db)[0][1] == pinned
    assert header(chat).startswith(f"{SUPPORT_NAME} · version {pinned} · ")

    # A new conversation gets the newer version.
    fresh = new_app()
    send(fresh, "Hello")
    assert conversations(db)[1][1] == newer
    assert requests(sandbox)[-1]["system"] == expected_system(personas, db, conversation_id(fresh))
    assert "Always sign off as the Acme team." in requests(sandbox)[-1]["system"]
    assert header(fresh).startswith(f"{SUPPORT_NAME} · version {newer} · ")


def test_case_details_edited_in_the_popover_apply_from_the_next_call(new_app, db, sandbox, personas, billing):
    at = choose(new_app(), "billing", order_id="A-1042")
    send(at, "Why was I charged twice?")
    cid = conversation_id(at)
    before = requests(sandbox)[-1]["system"]
    assert "The order is A-1042; the customer is the customer." in before
    assert at.text_input(key=f"details-{cid}-order_id").value == "A-1042"

    at.text_input(key=f"details-{cid}-order_id").set_value("B-7")
    at.text_input(key=f"details-{cid}-customer").set_value("Dana Scully")
    ok(at.button(key=f"details-{cid}-save").click().run())

    assert [s.value for s in at.success] == ["Case details saved; the next reply uses them."]
    assert conversations(db) == [("billing", 1, {"order_id": "B-7", "customer": "Dana Scully"})]
    assert len(requests(sandbox)) == 1  # saving calls nothing

    send(at, "Can you check again?")

    after = requests(sandbox)[-1]["system"]
    assert after == BILLING.system_prompt({"order_id": "B-7", "customer": "Dana Scully"})
    assert after == expected_system(personas, db, cid)
    assert after != before

    # A required detail cannot be emptied; the saved details stay.
    at.text_input(key=f"details-{cid}-order_id").set_value("")
    ok(at.button(key=f"details-{cid}-save").click().run())

    assert [e.value for e in at.error] == ["Fill in Order id before starting the chat."]
    assert conversations(db) == [("billing", 1, {"order_id": "B-7", "customer": "Dana Scully"})]


def test_a_conversation_keeps_working_after_its_persona_is_archived(new_app, db, sandbox, personas, billing):
    at = choose(new_app(), "billing", order_id="A-1042")
    send(at, "Why was I charged twice?")
    cid = conversation_id(at)

    personas.archive(ADMIN, "billing")
    send(at, "Any news?")

    assert [role for role, _ in transcript(at)] == ["user", "assistant", "user", "assistant"]
    assert requests(sandbox)[-1]["system"] == expected_system(personas, db, cid)
    assert header(at).startswith("Billing desk · version 1 · ")
    assert new_app().selectbox(key="new-persona").options == [SUPPORT_NAME]


def test_with_every_persona_archived_old_conversations_stay_reachable(new_app, db, sandbox, personas):
    at = new_app()
    send(at, "Where is order 1042?")
    cid = conversation_id(at)
    personas.archive(ADMIN, "support")

    fresh = new_app()

    assert "No persona is published yet" in fresh.error[0].value
    assert [b.key for b in fresh.sidebar.button if b.key.startswith("open-")] == [f"open-{cid}"]
    send(fresh, "A new question")
    assert db("SELECT count(*) FROM conversation") == [(1,)]
    assert fresh.code[0].value == "A new question"  # kept, not lost

    ok(fresh.sidebar.button(key=f"open-{cid}").click().run())
    send(fresh, "Any news?")

    assert conversation_id(fresh) == cid
    assert [role for role, _ in transcript(fresh)] == ["user", "assistant", "user", "assistant"]
    assert requests(sandbox)[-1]["system"] == expected_system(personas, db, cid)
