"""Personas as an agent meets them: a new conversation offers published personas only, as
published (a newer draft's name, description or greeting never shows). The Personas page's
"no access" for agents and QA needs a browser: tests/e2e/test_e2e_personas_access.py."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatbot import store
from chatbot.personas import SUPPORT, PersonaSpec
from chatbot.ui.resources import get_runtime

from actors import ADMIN
from ui_helpers import walk



def texts(at: AppTest) -> list[str]:
    """Every piece of text on the page: values, labels, options."""
    found: list[str] = []
    for node in walk(at.main):
        for attribute in ("value", "label", "body", "placeholder"):
            value = getattr(node, attribute, None)
            if isinstance(value, str):
                found.append(value)
        found += [str(o) for o in getattr(node, "options", None) or []]
    return found


@pytest.fixture(autouse=True)
def fresh_data_cache():
    st.cache_data.clear()  # process-wide: keep other tests' previews and model lists out
    yield
    st.cache_data.clear()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def test_an_agents_persona_picker_offers_published_personas_as_published(new_app, app_env):
    personas = get_runtime().personas
    billing = PersonaSpec(name="Billing desk", description="Invoices.", template="You do bills.",
                          greeting="Billing here.")
    personas.create(ADMIN, billing, key="billing")
    draft = PersonaSpec.from_dict({**billing.to_dict(), "name": "Billing (new draft)",
                                   "description": "Unreleased.", "greeting": "Draft hello."})
    personas.save(ADMIN, "billing", draft)
    with store.write_session(get_runtime().engine) as session:
        store.create_persona(session=session, key="secret", created_by="admin", publish=False,
                             spec=PersonaSpec(name="Secret desk", template="Not yet.").to_dict())

    at = ok(new_app(user="agent"))

    choice = at.selectbox(key="new-persona")
    assert choice.options == ["Billing desk", SUPPORT.name]  # no draft name, no unpublished persona
    ok(choice.set_value("billing").run())
    page = texts(at)
    assert "Invoices." in page and "Billing here." in page  # the published description, greeting
    assert not {"Billing (new draft)", "Draft hello.", "Unreleased.", "Secret desk"} & set(page)
