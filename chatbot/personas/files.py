"""Persona import/export files (YAML or JSON): pure functions, no I/O.

A file holds `{"format": FORMAT, "personas": [{key?, <PersonaSpec fields>}, ...]}`, or one
persona object at the top level; the `format` marker is optional but must match if present.
`parse_persona_file` returns every persona or raises one `PersonaFileError` naming the line
and the reason, so the caller can import all-or-nothing.

    text = dump_personas([("support", SUPPORT)], "yaml")
    [imported] = parse_persona_file(text.encode(), "personas.yaml")  # .key, .spec, .line

The format comes from the extension (.yaml/.yml or .json); any other name is sniffed: JSON
if the text starts with `{` or `[`, YAML otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from chatbot.errors import InputError

from .spec import PersonaError, PersonaSpec, valid_key

FORMAT = "support-chatbot/personas@1"
MAX_BYTES = 1_000_000
MAX_PERSONAS = 100
# A real file is 6 levels deep (file > personas > persona > variables > variable > text);
# the limit keeps hostile nesting far away from Python's recursion limit.
MAX_DEPTH = 20
# About three times the values in 100 personas at every limit; bounds the time a hostile
# 1 MB file of tiny values costs.
MAX_VALUES = 100_000

_STR = "tag:yaml.org,2002:str"
# Characters YAML refuses or counts as line breaks. Valid JSON has them only inside strings,
# so replacing them with spaces lets YAML compose JSON without moving a line.
_NOT_FOR_YAML = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# libyaml refuses "\ud83d\ude00" (how json.dump writes an emoji by default); "\xd8" has the
# same length, and the values do not matter for finding lines.
_SURROGATE_ESCAPE = re.compile(r"\\u(?=[dD][89a-fA-F])")


class PersonaFileError(InputError):
    """An import file that was refused; `line` (1-based) points at the problem when known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
        self.line = line


@dataclass(frozen=True)
class ImportedPersona:
    """One persona read from a file; `line` is where it starts."""

    key: str | None
    spec: PersonaSpec
    line: int


def parse_persona_file(data: bytes, filename: str) -> list[ImportedPersona]:
    if len(data) > MAX_BYTES:
        raise PersonaFileError(f"the file is {len(data) / 1e6:.1f} MB; the limit is 1 MB")
    try:
        text = data.decode("utf-8-sig")  # a BOM is fine
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PersonaFileError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8", line
        ) from None
    name = filename.lower()
    if name.endswith((".yaml", ".yml", ".json")):
        is_json = name.endswith(".json")
    else:
        is_json = text.lstrip().startswith(("{", "["))
    document, tree = _load_json(text) if is_json else _load_yaml(text)
    return _personas(document, tree)


def dump_personas(items: list[tuple[str, PersonaSpec]], fmt: Literal["yaml", "json"]) -> str:
    """A file that `parse_persona_file` reads back to the same keys and specs."""
    keys = [valid_key(key) for key, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("dump_personas: duplicate keys would make the file unimportable")
    document = {"format": FORMAT, "personas": [{"key": k, **s.to_dict()} for k, s in items]}
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        # Never fold long lines: in a prompt, a folded line reads as two.
        return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=1_000_000)  # fmt: skip
    raise ValueError(f"dump_personas: unknown format {fmt!r}")


# -- reading ------------------------------------------------------------------------------

if yaml.__with_libyaml__:

    class _SafeLoader(yaml.composer.Composer, yaml.CSafeLoader):
        """libyaml's parser (C) turns a hostile 1 MB file from ~10 s into well under one; the
        composer stays in Python, so the checks in `_Loader` see every node."""

        def __init__(self, text: str) -> None:
            yaml.CSafeLoader.__init__(self, text)
            yaml.composer.Composer.__init__(self)

else:
    _SafeLoader = yaml.SafeLoader  # type: ignore[assignment,misc]


class _Loader(_SafeLoader):
    """The safe loader minus what a persona file never needs and an attacker might use:
    anchors and aliases (billion laughs), explicit tags, duplicate keys, deep nesting."""

    # Dates, `<<` and `=` stay text: nobody means a date in a prompt, and their constructors
    # fail on odd values.
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if not tag.endswith(("timestamp", "merge", "value"))]
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = self.values = 0

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _at(event, "YAML anchors and aliases (& and *) are not supported; write the text out")
        if getattr(event, "tag", None) not in (None, "!", _STR):
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            raise _at(event, f"the tag {tag} is not allowed; use plain text, numbers, lists and mappings")
        if self.depth >= MAX_DEPTH:
            raise _at(event, f"nested more than {MAX_DEPTH} levels deep")
        self.values += 1
        if self.values > MAX_VALUES:
            raise _at(event, f"more than {MAX_VALUES:,} values; that is not a persona file")
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)  # PyYAML would silently keep the last of two equal keys
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError):  # `0b_`, or an integer of 5,000 digits
            value, kind = str(node.value), node.tag.rsplit(":", 1)[1]
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise _at(node, f"{shown!r} is not a valid {kind}; quote it if it is text") from None


def _at(event_or_node: Any, problem: str) -> PersonaFileError:
    return PersonaFileError(problem, event_or_node.start_mark.line + 1)


def _check_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise _at(key, "a key must be text, not a list or mapping")
        if key.tag != _STR:
            kind = key.tag.rsplit(":", 1)[1]
            raise _at(key, f"the key {key.value!r} is read as {kind}, not text; put it in quotes")
        if key.value in seen:
            raise _at(key, f"duplicate key {key.value!r} (first at line {seen[key.value]})")
        seen[key.value] = key.start_mark.line + 1


def _load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    control = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if control:  # checked here so that libyaml and PyYAML give the same message and line
        line = text.count("\n", 0, control.start()) + 1
        raise PersonaFileError(f"YAML syntax error: control character #x{ord(control.group()):02x}", line)
    loader = _Loader(text)
    try:
        tree = loader.get_single_node()
        return (None if tree is None else loader.construct_document(tree)), tree
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "cannot be read"
        if problem.startswith("but ") and error.context:  # "expected a single document, but..."
            problem = f"{error.context}, {problem}"
        raise PersonaFileError(f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise PersonaFileError(f"YAML syntax error: {error}") from None
    finally:
        loader.dispose()


def _load_json(text: str) -> tuple[Any, yaml.Node | None]:
    # JSON is nearly a YAML subset: composing it gives line numbers, and the composer's own
    # checks name the line of a duplicate key or of too-deep nesting.
    try:
        tree = _Loader(_SURROGATE_ESCAPE.sub(r"\\x", _NOT_FOR_YAML.sub(" ", text))).get_single_node()
    except yaml.YAMLError:
        tree = None  # not JSON, or JSON that YAML cannot read (a 1,024+ character key)
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs), tree
    except json.JSONDecodeError as error:
        raise PersonaFileError(f"not valid JSON: {error.msg}", error.lineno) from None
    except RecursionError:
        raise PersonaFileError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # Python's 4,300-digit limit on integers
        raise PersonaFileError(f"not valid JSON: {error}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Only reached when YAML could not compose the file (else the composer caught it)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PersonaFileError(f"duplicate key {key!r}")
        result[key] = value
    return result


# -- the file's structure -----------------------------------------------------------------

_Path = tuple[str | int, ...]


def _personas(document: Any, tree: yaml.Node | None) -> list[ImportedPersona]:
    if not isinstance(document, dict):
        found = {type(None): "nothing", list: "a list"}.get(type(document), "a single value")
        raise PersonaFileError(
            f"expected one persona or a 'personas' list at the top of the file, found {found}",
            _line(tree, ()) or 1,
        )
    marker = document.get("format", FORMAT)
    if marker != FORMAT:
        raise PersonaFileError(f"format: expected {FORMAT!r}, not {marker!r}", _line(tree, ("format",)))
    entries: list[tuple[_Path, Any]]
    if "personas" in document:
        for name in document:
            if name not in ("format", "personas"):
                raise PersonaFileError(
                    f"unknown top-level field {name!r}: a file holds a 'personas' list or one persona",
                    _line(tree, (name,)),
                )
        listed, line = document["personas"], _line(tree, ("personas",))
        if not isinstance(listed, list):
            raise PersonaFileError("personas: must be a list", line)
        if not listed:
            raise PersonaFileError("personas: the list is empty; there is nothing to import", line)
        if len(listed) > MAX_PERSONAS:
            raise PersonaFileError(f"personas: {len(listed)} personas; at most {MAX_PERSONAS} per file", line)
        entries = [(("personas", index), item) for index, item in enumerate(listed)]
    else:
        entries = [((), {name: value for name, value in document.items() if name != "format"})]

    imported: list[ImportedPersona] = []
    key_lines: dict[str, int | None] = {}
    for where, item in entries:
        persona = _persona(item, where, tree)
        if persona.key is not None:
            line = _line(tree, (*where, "key"))
            if persona.key in key_lines:
                first = key_lines[persona.key]
                raise PersonaFileError(
                    f"{_dotted((*where, 'key'))}: {persona.key!r} is also the key of the persona "
                    + (f"at line {first}" if first else "before it"),
                    line,
                )
            key_lines[persona.key] = line
        imported.append(persona)
    return imported


def _persona(item: Any, where: _Path, tree: yaml.Node | None) -> ImportedPersona:
    try:
        if not isinstance(item, dict):
            raise PersonaError("persona", "must be an object with name, template, ...")
        fields = dict(item)
        key = fields.pop("key", None)
        key = None if key is None else valid_key(key)
        spec = PersonaSpec.from_dict(fields)
        for name, value in spec.to_dict().items():
            try:  # a lone surrogate ("\ud800" in JSON) would otherwise fail later, in the database
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise PersonaError(name, "contains an invalid character (a lone surrogate)") from None
    except PersonaError as error:
        path = (*where, *_segments(error.field))
        raise PersonaFileError(f"{_dotted(path)}: {error.problem}", _line(tree, path)) from None
    return ImportedPersona(key=key, spec=spec, line=_line(tree, where) or 1)


def _segments(field: str) -> _Path:
    """'variables[2].name' -> ('variables', 2, 'name'); 'persona' is the persona itself."""
    if field == "persona":
        return ()
    return tuple(int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field))


def _dotted(path: _Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text or "persona"


def _line(tree: yaml.Node | None, path: _Path) -> int | None:
    """The line of the deepest node on `path` that exists (a missing field points at its parent)."""
    if tree is None:
        return None
    node, line = tree, tree.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            node, line = match[1], match[0].start_mark.line + 1  # the key's line reads best
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# -- writing ------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True

    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        # PyYAML quotes any text with a trailing space or a tab, which turns a pasted prompt
        # into one long line of \n escapes. A literal block holds both exactly.
        if analysis.multiline and not analysis.allow_block and not _UNPRINTABLE.search(scalar):
            analysis.allow_block = True
        return analysis

    def determine_block_hints(self, text: str) -> str:
        hints = super().determine_block_hints(text)
        if text.startswith("\t"):  # libyaml cannot guess the indentation of a line that starts with a tab
            hints = str(self.best_indent) + hints
        return hints


# What only a double-quoted scalar can carry (besides the line breaks `_represent_str` handles).
_UNPRINTABLE = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if any(c in text for c in "\r\x85\u2028\u2029"):
        style = '"'  # PyYAML would write these as raw line breaks and read back "\n" or a space
    elif "\n" in text:
        style = "|"  # readable; the emitter falls back to quotes if a block cannot hold it
    else:
        style = None
    return dumper.represent_scalar(_STR, text, style=style)


_Dumper.add_representer(str, _represent_str)
