"""The `similar_questions` persona flag: stored, exported, imported, checked, and absent
from old specs without breaking them."""

from __future__ import annotations

import json

import pytest

from chatbot.personas import SUPPORT, PersonaError, PersonaSpec
from chatbot.personas.diff import diff_specs
from chatbot.personas.files import dump_personas, parse_persona_file

FAQ = PersonaSpec.from_dict(
    {"name": "FAQ", "template": "Answer from the FAQ.", "similar_questions": True}
)


def test_off_by_default_and_shipped_off():
    assert PersonaSpec(name="x", template="y").similar_questions is False
    assert SUPPORT.similar_questions is False


def test_round_trips_through_to_dict():
    assert FAQ.similar_questions and FAQ.to_dict()["similar_questions"] is True
    assert PersonaSpec.from_dict(FAQ.to_dict()) == FAQ
    off = PersonaSpec.from_dict({**FAQ.to_dict(), "similar_questions": False})
    assert off != FAQ and not off.similar_questions


def test_a_spec_stored_before_the_flag_existed_still_loads():
    old = FAQ.to_dict()
    del old["similar_questions"]
    assert PersonaSpec.from_dict(old).similar_questions is False


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_only_true_or_false(value):
    with pytest.raises(PersonaError) as error:
        PersonaSpec.from_dict({**FAQ.to_dict(), "similar_questions": value})
    assert error.value.field == "similar_questions"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_and_import_keep_the_flag(fmt):
    text = dump_personas([("faq", FAQ), ("support", SUPPORT)], fmt)
    assert "similar_questions" in text
    parsed = parse_persona_file(text.encode(), f"personas.{fmt}")
    assert [(p.key, p.spec.similar_questions) for p in parsed] == [("faq", True), ("support", False)]
    assert parsed[0].spec == FAQ


def test_a_file_without_the_flag_imports_with_it_off():
    data = json.dumps({"name": "Old", "template": "Hi."}).encode()
    [parsed] = parse_persona_file(data, "old.json")
    assert parsed.spec.similar_questions is False


def test_a_bad_flag_in_a_file_names_its_line():
    text = "name: FAQ\ntemplate: Hi.\nsimilar_questions: maybe\n"
    with pytest.raises(Exception) as error:
        parse_persona_file(text.encode(), "faq.yaml")
    assert "similar_questions" in str(error.value) and "line 3" in str(error.value)


def test_turning_the_flag_on_shows_in_the_diff():
    off = PersonaSpec.from_dict({**FAQ.to_dict(), "similar_questions": False})
    diff = diff_specs(off, FAQ, "v1", "v2")
    assert "-similar_questions: off" in diff and "+similar_questions: on" in diff
