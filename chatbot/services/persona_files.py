"""Personas to and from files: export the latest versions, import a file all or nothing.

    files = PersonaFiles(personas)
    data = files.export(actor, ["billing"], "yaml")
    result = files.import_file(actor, data.encode(), "billing.yaml")

`PersonaService.export` and `PersonaService.import_file` check "personas.edit" and
delegate here. Both write one audit entry per persona ("persona:billing v3"): an export
in a transaction of its own once the file is made, an import inside its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlmodel import Session

from chatbot import store
from chatbot.auth import Actor
from chatbot.errors import InputError
from chatbot.personas import PersonaSpec, slugify
from chatbot.personas.files import (
    ImportedPersona,
    PersonaFileError,
    dump_personas,
    parse_persona_file,
)
from chatbot.services import persona_rows as rows
from chatbot.services.persona_results import target

if TYPE_CHECKING:
    from chatbot.services.personas import PersonaService

log = logging.getLogger("chatbot.personas")

Format = Literal["yaml", "json"]


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    updated: list[str]  # a new draft version was added
    unchanged: list[str]


class PersonaFiles:
    """Export and import for one `PersonaService` (its database and its version cache)."""

    def __init__(self, personas: PersonaService) -> None:
        self.personas = personas

    def export(self, actor: Actor, keys: Sequence[str] | None, fmt: Format) -> str:
        """The latest version of each persona (all non-archived ones when keys is None)."""
        if fmt not in ("yaml", "json"):
            raise InputError(f"Cannot export as {fmt!r}: choose yaml or json.")
        specs = self.personas.specs
        with store.read_session(self.personas.engine) as session:
            if keys is None:
                personas = store.list_personas(session=session)
            else:
                personas = [rows.require(session, key) for key in dict.fromkeys(keys)]
            latest = [(p.key, rows.latest(session, p)) for p in personas]
            items = [(key, specs.remember(key, row)) for key, row in latest]
        data = dump_personas(items, fmt)
        with store.write_session(self.personas.engine) as session:
            for key, row in latest:
                self.personas.access.audit.append(session, actor, "persona.export",
                                           target=target(key, row.number),
                                           detail=f"as {fmt}, {len(latest)} in the file")
        return data

    def import_file(self, actor: Actor, data: bytes, filename: str) -> ImportResult:
        """Import every persona in a file, all or nothing, in one transaction.

        An existing key gets a new draft version (unless identical to its latest); a new
        key is created and published. A persona without a key is keyed by its name
        (slugified), so importing the same file twice changes nothing. A malformed file
        raises `PersonaFileError` (an InputError with `.line`) and nothing is written.
        """
        keyed = _keyed(parse_persona_file(data, filename))
        note = f"Imported from {_short(filename)}"
        by = actor.username
        audit = self.personas.access.audit

        def record(session: Session, key: str, number: int, what: str) -> None:
            audit.append(session, actor, "persona.import", target=target(key, number),
                         detail=f"{what}, from {_short(filename)}")

        def run(session: Session) -> ImportResult:
            created: list[str] = []
            updated: list[str] = []
            unchanged: list[str] = []
            for key, spec in keyed:
                persona = store.get_persona_by_key(session=session, key=key)
                if persona is None:
                    store.create_persona(
                        session=session, key=key, spec=spec.to_dict(), created_by=by, note=note
                    )
                    record(session, key, 1, "created, published")
                    created.append(key)
                    continue
                latest = rows.latest(session, persona)
                if rows.spec_or_none(latest) == spec:
                    record(session, key, latest.number, "unchanged")
                    unchanged.append(key)
                else:
                    number = rows.add_version(session, persona, spec, by=by, note=note, publish=False)
                    record(session, key, number, f"v{latest.number} -> v{number} (draft)")
                    updated.append(key)
            return ImportResult(created=created, updated=updated, unchanged=unchanged)

        result = rows.write(self.personas.engine, run)
        log.info(
            "%s imported %s: %d created, %d updated, %d unchanged",
            by, _short(filename), len(result.created), len(result.updated), len(result.unchanged),
        )  # fmt: skip
        return result


def _short(filename: str) -> str:
    filename = " ".join(str(filename).split()) or "a file"
    return filename if len(filename) <= 120 else filename[:119] + "…"


def _keyed(items: Sequence[ImportedPersona]) -> list[tuple[str, PersonaSpec]]:
    """(key, spec) for each imported persona; a persona without a key gets its name's slug.

    The parser already refuses two equal explicit keys; this also catches a slug that
    equals another persona's key in the same file, naming both lines.
    """
    first_line: dict[str, int] = {}
    keyed: list[tuple[str, PersonaSpec]] = []
    for item in items:
        key = slugify(item.spec.name) if item.key is None else item.key
        if key in first_line:
            how = "its name gives it the key" if item.key is None else "its key"
            raise PersonaFileError(
                f"{how} {key!r} is also the key of the persona at line {first_line[key]}; "
                "each persona may appear once per file",
                item.line,
            )
        first_line[key] = item.line
        keyed.append((key, item.spec))
    return keyed


__all__ = ["Format", "ImportResult", "PersonaFiles"]
