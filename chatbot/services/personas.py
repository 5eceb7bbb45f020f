"""Personas as admins manage them: versions, publishing, diff, preview, import/export.

    personas = PersonaService(engine, client)
    personas.seed_defaults()                       # at start; idempotent
    current = personas.published("support")        # what a new conversation uses
    draft = personas.save("support", edited_spec, by="ana")
    personas.publish("support", draft.number, by="ana")

Every method returns plain frozen dataclasses (never ORM rows) and raises only the
project's errors (`NotFoundError`, `InputError`), with messages an admin can act on.
One service per process, shared by every thread: its only mutable state is a small
cache of versions, which never change once written.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import store
from chatbot.errors import InputError, NotFoundError
from chatbot.llm import ChatRequest, LLMClient, LLMError, Turn
from chatbot.personas import (
    SHIPPED,
    PersonaError,
    PersonaSpec,
    TemplateError,
    diff_specs,
    slugify,
    spec_lines,
    valid_key,
)
from chatbot.personas.spec import LIMITS
from chatbot.services import persona_rows as rows
from chatbot.services.persona_files import Format, ImportResult, PersonaFiles

log = logging.getLogger("chatbot.personas")

SHIPPED_NOTE = "Shipped default"
_COPY_SUFFIX = " (copy)"


@dataclass(frozen=True)
class ResolvedPersona:
    """One version of a persona, ready to render; `published` as of when it was read."""

    key: str
    number: int
    spec: PersonaSpec
    published: bool


@dataclass(frozen=True)
class PersonaSummary:
    key: str
    name: str
    description: str
    published_version: int | None
    latest_version: int
    archived: bool
    updated_at: datetime


@dataclass(frozen=True)
class VersionInfo:
    number: int
    created_by: str
    created_at: datetime
    note: str | None
    published: bool


@dataclass(frozen=True)
class Preview:
    """A rendered system prompt and its size; `error` says why either is missing."""

    prompt: str | None
    tokens: int | None
    error: str | None


class PersonaService:
    """Reads and writes personas and their versions; see the module docstring."""

    def __init__(self, engine: Engine, client: LLMClient | None = None) -> None:
        self.engine = engine
        self.client = client
        self.specs = rows.SpecCache()  # versions never change once written

    # -- start-up --------------------------------------------------------------------------

    def seed_defaults(self, by: str = "system") -> int:
        """Create the shipped personas that do not exist yet; returns how many it created.

        Safe when several processes start at once: a key another one inserted first
        counts as existing.
        """
        created = 0
        for key, spec in SHIPPED.items():

            def seed(session: Session, key: str = key, spec: PersonaSpec = spec) -> bool:
                if store.get_persona_by_key(session=session, key=key) is not None:
                    return False
                store.create_persona(
                    session=session, key=key, spec=spec.to_dict(), created_by=by, note=SHIPPED_NOTE
                )
                return True

            if rows.write(self.engine, seed):
                created += 1
                log.info("seeded the shipped persona %r", key)
        return created

    # -- reading ---------------------------------------------------------------------------

    def list(self, include_archived: bool = False) -> builtins.list[PersonaSummary]:
        """By name; archived personas only when asked."""
        with store.read_session(self.engine) as session:
            personas = store.list_personas(session=session, include_archived=include_archived)
            latest = store.latest_version_numbers(session=session)
        return [_summary(p, latest.get(rows.persona_id(p), 0)) for p in personas]

    def summary(self, key: str) -> PersonaSummary:
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            latest = store.latest_persona_version(
                session=session, persona_id=rows.persona_id(persona)
            )
        return _summary(persona, latest.number if latest else 0)

    def versions(self, key: str) -> builtins.list[VersionInfo]:
        """Newest first."""
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            found = store.list_persona_versions(
                session=session, persona_id=rows.persona_id(persona)
            )
        return [
            VersionInfo(
                number=row.number,
                created_by=row.created_by,
                created_at=row.created_at,
                note=row.note,
                published=row.number == persona.published_version,
            )
            for row in found
        ]

    def published(self, key: str) -> ResolvedPersona:
        """The version new conversations get. NotFoundError if archived or never published."""
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            if persona.archived:
                raise NotFoundError(
                    f"The persona {key!r} is archived. Restore it on the Personas page, "
                    "or choose another persona."
                )
            number = persona.published_version
            if number is None:
                raise NotFoundError(
                    f"The persona {key!r} has no published version yet. "
                    "Publish one of its versions on the Personas page."
                )
            spec = self.specs.get(session, persona, number)
        return ResolvedPersona(key, number, spec, published=True)

    def version(self, key: str, number: int) -> ResolvedPersona:
        """A given version (archived personas too: old conversations still need theirs)."""
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            spec = self.specs.get(session, persona, number)
        return ResolvedPersona(key, number, spec, published=number == persona.published_version)

    def spec(self, key: str, number: int) -> PersonaSpec:
        """Just the spec of a given version: versions never change, so once read it comes
        from memory (this is on every turn's path before the first token)."""
        return self.specs.cached(key, number) or self.version(key, number).spec

    def latest(self, key: str) -> ResolvedPersona:
        """The newest version, published or draft (what an editor starts from)."""
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            row = rows.latest(session, persona)
            spec = self.specs.remember(key, row)
        return ResolvedPersona(
            key, row.number, spec, published=row.number == persona.published_version
        )

    # -- writing ---------------------------------------------------------------------------

    def create(
        self, spec: PersonaSpec, *, by: str, key: str | None = None, note: str | None = None
    ) -> ResolvedPersona:
        """A new persona whose version 1 is `spec`, published. Without a key, one is made
        from the name ("billing", then "billing-2", ...)."""
        if key is not None:
            valid_key(key)

        def create(session: Session) -> str:
            if key is None:
                chosen = rows.free_key(session, slugify(spec.name))
            else:
                existing = store.get_persona_by_key(session=session, key=key)
                if existing is not None:
                    raise InputError(
                        f"The key {key!r} is already used by the persona {existing.name!r}. "
                        "Choose another key."
                    )
                chosen = key
            store.create_persona(
                session=session, key=chosen, spec=spec.to_dict(), created_by=by, note=note
            )
            return chosen

        chosen = rows.write(self.engine, create)
        return ResolvedPersona(chosen, 1, spec, published=True)

    def save(
        self,
        key: str,
        spec: PersonaSpec,
        *,
        by: str,
        note: str | None = None,
        publish: bool = False,
    ) -> ResolvedPersona:
        """A new version with `spec`; a draft unless publish=True."""

        def save(session: Session) -> int:
            persona = rows.require(session, key)
            latest = rows.latest(session, persona)
            if rows.spec_or_none(latest) == spec:
                raise InputError(
                    f"No changes to save: this is the same as version {latest.number}."
                )
            return rows.add_version(session, persona, spec, by=by, note=note, publish=publish)

        number = rows.write(self.engine, save)
        return ResolvedPersona(key, number, spec, published=publish)

    def publish(self, key: str, number: int, *, by: str) -> ResolvedPersona:
        """Make version `number` the one new conversations get."""

        def publish(session: Session) -> PersonaSpec:
            persona = rows.require(session, key)
            spec = self.specs.get(session, persona, number)
            store.set_published_version(
                session=session, persona_id=rows.persona_id(persona), number=number
            )
            return spec

        spec = rows.write(self.engine, publish)
        log.info("%s published version %d of persona %r", by, number, key)
        return ResolvedPersona(key, number, spec, published=True)

    def restore(
        self, key: str, number: int, *, by: str, publish: bool = False
    ) -> ResolvedPersona:
        """A NEW version with the content of version `number` (which stays as it is)."""

        def restore(session: Session) -> tuple[int, PersonaSpec]:
            persona = rows.require(session, key)
            spec = self.specs.get(session, persona, number)
            latest = rows.latest(session, persona)
            if rows.spec_or_none(latest) == spec:
                raise InputError(
                    f"No changes to save: version {number} is the same as the latest "
                    f"version ({latest.number})."
                )
            note = f"Restored from version {number}"
            return rows.add_version(session, persona, spec, by=by, note=note, publish=publish), spec

        new_number, spec = rows.write(self.engine, restore)
        return ResolvedPersona(key, new_number, spec, published=publish)

    def duplicate(self, key: str, *, by: str, name: str | None = None) -> ResolvedPersona:
        """A new persona (published v1) with the latest content of `key`, renamed
        "<name> (copy)" unless a name is given."""

        def duplicate(session: Session) -> tuple[str, PersonaSpec]:
            persona = rows.require(session, key)
            latest = rows.latest(session, persona)
            source = self.specs.remember(key, latest)
            new_name = name if name is not None else _copy_name(source.name)
            spec = PersonaSpec.from_dict({**source.to_dict(), "name": new_name})
            new_key = rows.free_key(session, slugify(spec.name))
            store.create_persona(
                session=session,
                key=new_key,
                spec=spec.to_dict(),
                created_by=by,
                note=f"Duplicated from {key} version {latest.number}",
            )
            return new_key, spec

        new_key, spec = rows.write(self.engine, duplicate)
        return ResolvedPersona(new_key, 1, spec, published=True)

    def archive(self, key: str, archived: bool = True) -> None:
        """Hide a persona from lists and new conversations (archived=False brings it back).
        Conversations that use it keep working with their version."""

        def archive(session: Session) -> None:
            persona = rows.require(session, key)
            store.set_persona_archived(
                session=session, persona_id=rows.persona_id(persona), archived=archived
            )

        rows.write(self.engine, archive)

    # -- comparing and trying out ----------------------------------------------------------

    def diff(self, key: str, a: int, b: int) -> str:
        """A unified diff of versions a and b, field by field; "" when they are the same."""
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            spec_a = self.specs.get(session, persona, a)
            spec_b = self.specs.get(session, persona, b)
        return diff_specs(spec_a, spec_b, f"version {a}", f"version {b}")

    def preview(self, spec: PersonaSpec, values: Mapping[str, str]) -> Preview:
        """The system prompt rendered with sample values, and its size in tokens.

        The count comes from the API's count_tokens for a request with this system
        prompt and a one-word user turn ("Hello"), so it is a few tokens more than the
        prompt alone. Problems come back in `error`, never as exceptions: a missing
        variable gives no prompt; a failed count keeps the prompt. No client: no count.
        """
        try:
            prompt = spec.system_prompt(values)
        except (TemplateError, PersonaError) as error:
            return Preview(prompt=None, tokens=None, error=error.user_message)
        if self.client is None:
            return Preview(prompt=prompt, tokens=None, error=None)
        request = ChatRequest(model=spec.model, system=prompt, messages=[Turn("user", "Hello")])
        try:
            tokens = self.client.count_tokens(request)
        except LLMError as error:
            return Preview(prompt=prompt, tokens=None, error=error.user_message)
        return Preview(prompt=prompt, tokens=tokens, error=None)

    # -- files (see persona_files) ---------------------------------------------------------

    def export(self, keys: Sequence[str] | None, fmt: Format) -> str:
        """The latest version of each persona (all non-archived ones when keys is None)."""
        return PersonaFiles(self).export(keys, fmt)

    def import_file(self, data: bytes, filename: str, *, by: str) -> ImportResult:
        """Import every persona in a file, all or nothing, in one transaction."""
        return PersonaFiles(self).import_file(data, filename, by=by)


# -- helpers ---------------------------------------------------------------------------


def _copy_name(name: str) -> str:
    room = LIMITS["name"] - len(_COPY_SUFFIX)
    return name[:room].rstrip() + _COPY_SUFFIX


def _summary(persona: store.Persona, latest: int) -> PersonaSummary:
    return PersonaSummary(
        key=persona.key,
        name=persona.name,
        description=persona.description,
        published_version=persona.published_version,
        latest_version=latest,
        archived=persona.archived,
        updated_at=persona.updated_at,
    )


# ImportResult, diff_specs and spec_lines live elsewhere now; still importable from here.
__all__ = [
    "ImportResult",
    "PersonaService",
    "PersonaSummary",
    "Preview",
    "ResolvedPersona",
    "VersionInfo",
    "diff_specs",
    "spec_lines",
]
