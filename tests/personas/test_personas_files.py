"""Persona import/export files: exact round trips, and every bad file refused with a line."""

from __future__ import annotations

import itertools
import json

import pytest

from chatbot.personas import SUPPORT, PersonaError, PersonaSpec
from chatbot.personas.files import (
    FORMAT,
    MAX_BYTES,
    MAX_PERSONAS,
    ImportedPersona,
    PersonaFileError,
    dump_personas,
    parse_persona_file,
)


def spec(template: str = "Hello.", **fields) -> PersonaSpec:
    return PersonaSpec.from_dict({"name": "Tricky", "template": template, **fields})


TRICKY = {
    "trailing-spaces": spec("First line   \nsecond line \n  indented\n"),
    "tabs": spec("Column\tcolumn\n\tindented with a tab"),
    "unicode": spec("Привет, café 👋 — “quotes” ✓\n日本語も", name="Ünïcode 👋", greeting="¡Hola! 👋"),
    "placeholders": spec(
        "You work for {{ company }}.\n{{company}} sells {{ product }}: be nice.",
        variables=[{"name": "company", "default": "Acme: {{ not a var }}"}, {"name": "product"}],
    ),
    "colons-and-hashes": spec("# Not a comment\nkey: value\n- not a list\n---\n...\n: colon"),
    "yaml-words": spec("null", description="yes", greeting="~", suggestions=["123", "1.0", "on", "2024-01-01"]),
    "empty-texts": spec("Line one\nLine two", description="", greeting=""),
    "blank-lines": spec("\n\nStarts and ends with blank lines\n\n\n"),
    "leading-space": spec("   leading spaces\nthen normal"),
    "line-breaks": spec("crlf\r\nnel\x85ls\u2028ps\u2029end", description="single\rcr"),
    "quotes": spec("'single' \"double\" \\backslash\\ `tick`\n%s %d {} done"),
    "long-line": spec("word  " * 60 + "end", description="x" * 400),
    "settings": spec(
        "Hi", temperature=None, max_tokens=1, model="claude-x", stop_sequences=["\n\nHuman:", " END "]
    ),
    "zero-temperature": spec("Hi", temperature=0, description="multi\nline description\n"),
    "bom-inside": spec("\ufeffstarts with a BOM character"),
}


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("key", sorted(TRICKY))
def test_each_tricky_persona_round_trips(fmt, key):
    items = [(key, TRICKY[key])]
    parsed = parse_persona_file(dump_personas(items, fmt).encode("utf-8"), f"personas.{fmt}")
    assert [(p.key, p.spec) for p in parsed] == items


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_many_personas_round_trip_in_order(fmt):
    items = [("support", SUPPORT), *sorted(TRICKY.items())]
    parsed = parse_persona_file(dump_personas(items, fmt).encode("utf-8"), f"x.{fmt}")
    assert [(p.key, p.spec) for p in parsed] == items
    assert [p.line for p in parsed] == sorted(p.line for p in parsed)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("alphabet, longest", [("a \t\n", 5), ("-#: '\"\n", 3), ("\u2028\r\n \\", 4)])
def test_every_short_text_round_trips(fmt, alphabet, longest):
    texts = ["".join(chars) for n in range(1, longest + 1) for chars in itertools.product(alphabet, repeat=n)]
    specs = [spec("T" + text, description=text, greeting=text[::-1]) for text in texts]
    for start in range(0, len(specs), MAX_PERSONAS):
        items = [(f"p{i}", specs[i]) for i in range(start, min(start + MAX_PERSONAS, len(specs)))]
        parsed = parse_persona_file(dump_personas(items, fmt).encode(), f"p.{fmt}")
        assert [(p.key, p.spec) for p in parsed] == items


def test_yaml_keeps_multi_line_texts_as_literal_blocks():
    for key in ("placeholders", "colons-and-hashes", "blank-lines", "leading-space", "trailing-spaces", "tabs"):
        text = dump_personas([(key, TRICKY[key])], "yaml")
        assert "\n  template: |" in text, text


def test_yaml_is_readable():
    text = dump_personas([("support", SUPPORT), ("again", SUPPORT)], "yaml")
    assert text.startswith(f"format: {FORMAT}\npersonas:\n- key: support\n  name: Customer")
    assert "  template: |-\n    You are a customer support assistant for {{ company_name }}." in text
    assert "&" not in text and "*id" not in text  # the same spec twice is written out twice
    assert "  description: Helps agents answer customers about orders, shipping, returns, billing and" in text
    fields = [line.split(":")[0] for line in text.splitlines()[2:] if not line.startswith(("    ", "  -"))]
    expected = ["- key", *(f"  {name}" for name in SUPPORT.to_dict()), "- key"]
    assert fields[: len(expected)] == expected
    assert "café 👋" in dump_personas([("u", TRICKY["unicode"])], "yaml")


def test_json_is_pretty_and_keeps_unicode():
    text = dump_personas([("u", TRICKY["unicode"])], "json")
    document = json.loads(text)
    assert list(document) == ["format", "personas"] and document["format"] == FORMAT
    assert list(document["personas"][0])[:4] == ["key", "name", "description", "template"]
    assert '\n  "personas": [\n    {\n      "key": "u",' in text and "👋" in text


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_shipped_persona_round_trips(fmt):
    [imported] = parse_persona_file(dump_personas([("support", SUPPORT)], fmt).encode(), f"p.{fmt}")
    assert imported == ImportedPersona(key="support", spec=SUPPORT, line=3 if fmt == "yaml" else 4)


def test_dump_refuses_bad_keys_and_formats():
    with pytest.raises(PersonaError):
        dump_personas([("Not A Key", SUPPORT)], "yaml")
    with pytest.raises(ValueError):
        dump_personas([("a", SUPPORT), ("a", SUPPORT)], "json")
    with pytest.raises(ValueError):
        dump_personas([("a", SUPPORT)], "toml")  # type: ignore[arg-type]


# -- accepted shapes ----------------------------------------------------------------------

SINGLE_YAML = "# A hand-written persona\nkey: billing\nname: Billing\ntemplate: |\n  Help with bills.\n"
SINGLE_JSON = '{\n  "name": "Billing",\n  "template": "Help with bills.\\n"\n}\n'


@pytest.mark.parametrize(
    "filename, text, key, line",
    [
        ("billing.yaml", SINGLE_YAML, "billing", 2),
        ("billing.YML", f"format: {FORMAT}\n" + SINGLE_YAML, "billing", 1),
        ("billing.json", SINGLE_JSON, None, 1),
        ("billing.json", SINGLE_JSON.replace("{", '{"format": "%s", "key": null,' % FORMAT, 1), None, 1),
        ("billing.txt", SINGLE_JSON, None, 1),  # sniffed as JSON
        ("billing", SINGLE_YAML, "billing", 2),  # sniffed as YAML
        ("billing.yaml", "{name: Billing, template: \"Help with bills.\\n\"}", None, 1),
    ],
)
def test_a_single_persona_object_is_accepted(filename, text, key, line):
    [imported] = parse_persona_file(text.encode(), filename)
    assert (imported.key, imported.spec.name, imported.spec.template, imported.line) == (
        key, "Billing", "Help with bills.\n", line,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_byte_order_mark_is_fine_and_does_not_shift_lines(fmt):
    text = dump_personas([("a", spec("Hi")), ("b", spec("{{ x }}", variables=[{"name": "x"}]))], fmt)
    plain = parse_persona_file(text.encode(), f"p.{fmt}")
    assert parse_persona_file(b"\xef\xbb\xbf" + text.encode(), f"p.{fmt}") == plain


def test_dates_and_yaml_oddities_stay_text():
    [imported] = parse_persona_file(b"name: 2024-01-01\ntemplate: '='\ndescription: <<\n", "p.yaml")
    assert (imported.spec.name, imported.spec.template, imported.spec.description) == ("2024-01-01", "=", "<<")


def test_json_with_tabs_and_escaped_slashes_still_has_lines():
    text = '{"personas": [\n\t{"name": "a\\/b", "template": "x\x7f"},\n\t{"name": "c",\n\t "template": 5}]}'
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(text.encode(), "p.json")
    assert info.value.user_message == "line 4: personas[1].template: must be text, not int"


def test_the_limit_of_personas_is_accepted():
    text = dump_personas([(f"p{i}", spec("Hi")) for i in range(MAX_PERSONAS)], "yaml")
    assert len(parse_persona_file(text.encode(), "p.yaml")) == MAX_PERSONAS


# -- refusals -----------------------------------------------------------------------------

THREE = """\
format: support-chatbot/personas@1
personas:
- key: first
  name: First
  template: Hi.
- key: second
  name: Second
  template: |
    Hello {{ who }}.
  variables:
  - name: who
  - name: lives9
- key: third
  name: Third
  template: Hey.
"""

def refused(id, filename, text, line, message):
    """A bad file, the line it must be refused at, and what the message says after "line N: "."""
    return pytest.param(filename, text, line, message, id=id)


NESTED_MAPPINGS = "name: A\ntemplate: x\nvariables:\n" + "".join("  " * i + "- a:\n" for i in range(30))
BILLION_LAUGHS = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n'

def test_each_persona_knows_its_line():
    assert [p.line for p in parse_persona_file(THREE.encode(), "p.yaml")] == [3, 6, 13]


REFUSED = [
    # what PersonaSpec refuses, at the line of the field
    refused("persona field", "p.yaml", THREE.replace("lives9", "9lives"), 12,
            "personas[1].variables[1].name: use letters, digits and underscores"),
    refused("field in json", "p.json",
            '{"personas": [\n {"name": "A", "template": "x"},\n {"name": "B",\n  "max_tokens": "many",\n'
            '  "template": "y"}]}', 4, "personas[1].max_tokens: must be a whole number"),
    refused("unknown persona field", "p.yaml", THREE.replace("  name: Third", "  name: Third\n  colour: red"),
            13, "personas[2]: unknown fields colour"),
    refused("missing name", "p.yaml", THREE.replace("  name: Second\n", ""), 6, "personas[1].name: is required"),
    refused("undeclared variable", "p.yaml", THREE.replace("Hi.", "Hi {{ nobody }}."), 5,
            "personas[0].template: uses variables that are not declared: nobody"),
    refused("bad key", "p.yaml", THREE.replace("key: third", "key: Third Persona"), 13,
            "personas[2].key: use 1-63 lower-case"),
    refused("duplicate persona key", "p.yaml", THREE.replace("key: third", "key: first"), 13,
            "personas[2].key: 'first' is also the key of the persona at line 3"),
    refused("persona not a mapping", "p.yaml", "personas:\n- name: A\n  template: x\n- just text\n", 4,
            "personas[1]: must be an object"),
    refused("lone surrogate", "p.json", '{"name": "A",\n "template": "x\\ud800y"}', 2,
            "template: contains an invalid character"),
    # syntax
    refused("yaml syntax", "p.yaml", "name: A\ntemplate: x\ndescription: [unclosed\n", 4, "YAML syntax error: "),
    refused("bad indentation", "p.yaml", "name: A\n  template: x\n", 2,
            "YAML syntax error: mapping values are not allowed"),
    refused("two documents", "p.yaml", "name: A\n---\nname: B\n", 2, "YAML syntax error: expected a single document"),
    refused("json syntax", "p.json", '{"name": "A"\n "template": "x"}', 2, "not valid JSON: Expecting ',' delimiter"),
    refused("json trailing comma", "p.json", '{"name": "A",\n}', 2, "not valid JSON: "),
    refused("control character", "p.yaml", "name: A\ntemplate: x\x00y\n", 2, "YAML syntax error: control character #x00"),
    # duplicate keys (PyYAML and json would keep the last one silently)
    refused("duplicate yaml key", "p.yaml", "name: A\ntemplate: x\nname: B\n", 3,
            "duplicate key 'name' (first at line 1)"),
    refused("duplicate nested key", "p.yaml", THREE.replace("  - name: who", "  - name: who\n    name: who"), 12,
            "duplicate key 'name' (first at line 11)"),
    refused("duplicate json key", "p.json", '{"name": "A",\n "template": "x",\n "name": "B"}', 3,
            "duplicate key 'name' (first at line 1)"),
    # hostile YAML
    refused("alias", "p.yaml", "name: &n A\ntemplate: *n\n", 1, "YAML anchors and aliases (& and *) are not supported"),
    refused("billion laughs", "p.yaml", BILLION_LAUGHS, 1, "YAML anchors and aliases"),
    refused("python object", "p.yaml", "name: A\ntemplate: !!python/object/apply:os.system ['echo hi']\n", 2,
            "the tag !!python/object/apply:os.system is not allowed"),
    refused("python name", "p.yaml", "name: !!python/name:os.system\n", 1, "the tag !!python/name:os.system is not"),
    refused("custom tag", "p.yaml", "name: A\ntemplate: !secret x\n", 2, "the tag !secret is not allowed"),
    refused("binary tag", "p.yaml", "name: !!binary aGk=\n", 1, "the tag !!binary is not allowed"),
    # libyaml stops at 1,000 levels itself ("exceeded maximum nesting depth"), PyYAML at 20
    refused("nested lists", "p.yaml", "name: A\ntemplate: " + "[" * 10_000 + "]" * 10_000, 2, "nest"),
    refused("nested mappings", "p.yaml", NESTED_MAPPINGS, 13, "nested more than 20 levels deep"),
    refused("nested json", "p.json", '{"name": "A",\n"template": ' + "[" * 50 + "]" * 50 + "}", 2,
            "nested more than 20 levels deep"),
    # keys and values that are not what they look like
    refused("int key", "p.yaml", "name: A\n1: x\n", 2, "the key '1' is read as int, not text; put it in quotes"),
    refused("null key", "p.yaml", "name: A\nnull: x\n", 2, "the key 'null' is read as null"),
    refused("bool key", "p.yaml", "personas:\n- yes: x\n", 2, "the key 'yes' is read as bool"),
    refused("list key", "p.yaml", "name: A\n? [a, b]\n: x\n", 2, "a key must be text, not a list or mapping"),
    refused("bad number", "p.yaml", "name: A\ntemplate: x\nmax_tokens: 0b_\n", 3,
            "'0b_' is not a valid int; quote it if it is text"),
    refused("huge number", "p.yaml", "name: A\nmax_tokens: " + "9" * 5000 + "\n", 2,
            "'" + "9" * 37 + "...' is not a valid int"),
    # the shape of the file
    refused("null document", "p.yaml", "null\n", 1,
            "expected one persona or a 'personas' list at the top of the file, found nothing"),
    refused("empty yaml", "p.yaml", "# nothing here\n", 1, "found nothing"),
    refused("json null", "p.json", "null", 1, "found nothing"),
    refused("top-level list", "p.yaml", "- name: A\n  template: x\n", 1, "found a list"),
    refused("top-level json list", "p.json", '[{"name": "A", "template": "x"}]', 1, "found a list"),
    refused("top-level text", "p.yaml", "just some text\n", 1, "found a single value"),
    refused("unknown top-level field", "p.yaml", "personas: []\nauthor: me\n", 2, "unknown top-level field 'author'"),
    refused("wrong format marker", "p.yaml", "format: other-app/personas@2\nname: A\ntemplate: x\n", 1,
            "format: expected 'support-chatbot/personas@1', not 'other-app/personas@2'"),
    refused("personas not a list", "p.yaml", "\npersonas:\n  name: A\n", 2, "personas: must be a list"),
    refused("no personas", "p.json", '{\n"personas": []}', 2, "personas: the list is empty"),
    refused("too many personas", "p.yaml", "personas:\n" + "- {name: A, template: x}\n" * (MAX_PERSONAS + 1), 1,
            f"personas: {MAX_PERSONAS + 1} personas; at most {MAX_PERSONAS}"),
]


@pytest.mark.parametrize("filename, text, line, message", REFUSED)
def test_bad_files_are_refused_with_line_and_reason(filename, text, line, message):
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(text.encode("utf-8", "surrogatepass"), filename)
    assert info.value.line == line
    assert info.value.user_message.startswith(f"line {line}: ")
    assert message in info.value.user_message


@pytest.mark.parametrize(
    "data, message",
    [
        (b"name: A\n" + b"#" * MAX_BYTES, "the file is 1.0 MB; the limit is 1 MB"),
        ('{"name": "A", "template": "x", "n": ' + "1" * 5_000 + "}", "not valid JSON: Exceeds the limit"),
    ],
)
def test_some_refusals_have_no_line(data, message):
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(data if isinstance(data, bytes) else data.encode(), "p.json")
    assert info.value.line is None and info.value.user_message.startswith(message)


# libyaml (used when installed) and pure-Python PyYAML refuse these at different stages.
@pytest.mark.parametrize(
    "filename, text, lines, messages",
    [
        ("p.yaml", 'name: A\ngreeting: "\\udc00"\ntemplate: x\n', {2},
         ["invalid Unicode character escape", "greeting: contains an invalid character"]),
        ("p.json", '{"name": "A", "template": ' + "[" * 5_000 + "]" * 5_000 + "}", {None, 1},
         ["nested more than 20 levels deep"]),
    ],
)
def test_refusals_that_depend_on_libyaml(filename, text, lines, messages):
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(text.encode(), filename)
    assert info.value.line in lines and any(m in info.value.user_message for m in messages)


@pytest.mark.parametrize(
    "data, line",
    [
        (b"name: A\ntemplate: caf\xe9\n", 2),  # Latin-1
        ("name: A\ntemplate: x\n".encode("utf-16"), 1),
    ],
)
def test_non_utf8_bytes_are_refused(data, line):
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(data, "p.yaml")
    assert info.value.line == line and "not UTF-8 text" in info.value.user_message


def test_too_many_values_are_refused_quickly():
    text = "personas:\n" + "- [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" * 20_000  # under 1 MB
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(text.encode(), "p.yaml")
    assert "more than 100,000 values" in info.value.user_message


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_one_bad_persona_out_of_three_refuses_the_whole_file(fmt):
    text = dump_personas([("a", spec("Hi")), ("b", spec("Hi", max_tokens=5)), ("c", spec("Hi"))], fmt)
    bad = text.replace("max_tokens: 5", "max_tokens: 0").replace('"max_tokens": 5', '"max_tokens": 0')
    assert bad != text
    with pytest.raises(PersonaFileError) as info:
        parse_persona_file(bad.encode(), f"p.{fmt}")
    assert "personas[1].max_tokens: must be between 1 and 64,000" in info.value.user_message
    # persona[1]'s max_tokens line (found, not counted, so a new spec field does not move it)
    expected = next(n for n, line in enumerate(bad.splitlines(), 1) if line.strip() in ("max_tokens: 0", '"max_tokens": 0,'))
    assert info.value.line == expected
