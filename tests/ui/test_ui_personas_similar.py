"""The persona editor's "reworded first questions" toggle: beside the cache toggle, off by
default, disabled and explained while the cache is off, saved with the version."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

P = "edit-support-v1"
NEEDS_CACHE = "Reworded questions are answered from the cache, so they need it on."


@pytest.fixture(autouse=True)
def fresh_data_cache():
    st.cache_data.clear()  # the editor's preview is process-wide st.cache_data
    yield
    st.cache_data.clear()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_the_toggle_follows_the_cache_toggle_and_is_saved(new_app, db):
    at = ok(new_app(user="admin").switch_page("../../pages/personas.py").run())
    similar = at.toggle(key=f"{P}-similar")
    assert similar.value is False and not similar.disabled
    assert NEEDS_CACHE not in captions(at)

    ok(at.toggle(key=f"{P}-cache").set_value(False).run())
    assert at.toggle(key=f"{P}-similar").disabled and NEEDS_CACHE in captions(at)

    ok(at.toggle(key=f"{P}-cache").set_value(True).run())
    ok(at.toggle(key=f"{P}-similar").set_value(True).run())
    assert not at.toggle(key=f"{P}-similar").disabled
    ok(at.button(key=f"{P}-save-draft").click().run())

    [(spec,)] = db(
        "SELECT v.spec FROM persona_version v JOIN persona p ON p.id = v.persona_id "
        "WHERE p.key = 'support' AND v.number = 2"
    )
    stored = json.loads(spec)
    assert stored["similar_questions"] is True and stored["cache_replies"] is True
    assert at.toggle(key="edit-support-v2-similar").value is True
