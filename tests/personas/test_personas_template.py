"""The persona template syntax: only {{ name }}, loud errors, no way into Python objects."""

from __future__ import annotations

import pytest

from chatbot.personas import SUPPORT, PersonaError, PersonaSpec, TemplateError, Variable, render, variables_in


def test_renders_variables_with_or_without_spaces():
    assert render("Hi {{name}} from {{ company }}", {"name": "Ada", "company": "Acme"}) == "Hi Ada from Acme"


def test_missing_variables_are_named_together():
    with pytest.raises(TemplateError) as info:
        render("{{ a }} {{ b }} {{ c }}", {"b": "x"})
    assert "a, c" in info.value.user_message


def test_blank_value_counts_as_missing():
    with pytest.raises(TemplateError):
        render("{{ a }}", {"a": "   "})


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ name.__class__ }}",
        "{{ name.__class__.__mro__[1].__subclasses__() }}",
        "{{ config['SECRET'] }}",
        "{{ ''.join([]) }}",
        "{{ name | upper }}",
        "{{ 7*7 }}",
        "{% for x in y %}{% endfor %}{{ x }}",
        "{{ }}",
    ],
)
def test_anything_but_a_plain_name_is_refused(hostile):
    with pytest.raises(TemplateError) as info:
        render(hostile, {"name": "Ada", "x": "1"})
    assert "Line 1" in info.value.user_message


def test_format_string_tricks_are_plain_text():
    # str.format-style fields are not our syntax: they stay as typed and are never evaluated.
    text = "{name.__class__} {0} %(name)s ${name}"
    assert render(text + " {{ name }}", {"name": "Ada"}) == text + " Ada"


def test_values_are_inserted_verbatim_never_reparsed():
    assert render("{{ a }}", {"a": "{{ b }}"}) == "{{ b }}"


def test_unmatched_braces_report_the_line():
    with pytest.raises(TemplateError) as info:
        variables_in("ok\nstill ok\nbroken {{ name")
    assert "Line 3" in info.value.user_message


def test_variables_in_order_of_first_use():
    assert variables_in("{{ b }} {{ a }} {{ b }}") == ["b", "a"]


def test_persona_refuses_undeclared_variables():
    with pytest.raises(PersonaError) as info:
        PersonaSpec(name="X", template="{{ nope }}")
    assert info.value.field == "template" and "nope" in info.value.problem


def test_default_persona_renders_with_defaults_and_overrides():
    assert "support assistant for Acme." in SUPPORT.system_prompt()
    prompt = SUPPORT.system_prompt({"company_name": "Globex", "agent_name": " "})
    assert "for Globex." in prompt and "Your name is Alex." in prompt


def test_values_ignore_unknown_names():
    spec = PersonaSpec(name="P", template="{{ a }}", variables=(Variable("a", "A", default="1"),))
    assert spec.values({"a": "2", "evil": "x"}) == {"a": "2"}
