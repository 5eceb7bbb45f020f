"""Personas as admins manage them: versions, publishing, diff, preview, import/export.

    personas = PersonaService(engine, client, access=identity.access)
    personas.seed_defaults()                          # at start, as the system; idempotent
    current = personas.published("support")           # the chat turn: no actor, no drafts
    draft = personas.save(actor, "support", edited_spec)
    personas.publish(actor, "support", draft.number)  # audited: persona.publish

Every method a page calls takes the acting user first and asks the policy before it reads
or writes anything: "personas.use" to list the published personas, "personas.read" for
versions and drafts, "personas.edit" for every change (each audited in the transaction
that makes it; see persona_edits.py). `published`, `version`, `spec`, `published_keys` and `latest_number` are for
other services (the chat turn, replays, the default persona) and take no actor.

Every method returns plain frozen dataclasses (never ORM rows) and raises only the
project's errors (`AccessDenied`, `NotFoundError`, `InputError`), with messages an admin
can act on. One service per process, shared by every thread: its only mutable state is a
small cache of versions, which never change once written.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Mapping, Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import store
from chatbot.auth import Actor, can
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import NotFoundError
from chatbot.llm import ChatRequest, LLMClient, LLMError, Turn
from chatbot.personas import (
    SHIPPED,
    PersonaError,
    PersonaSpec,
    TemplateError,
    diff_specs,
    spec_lines,
)
from chatbot.services import persona_rows as rows
from chatbot.services.persona_edits import PersonaEdits
from chatbot.services.persona_files import Format, ImportResult, PersonaFiles
from chatbot.services.persona_results import (
    PersonaSummary,
    Preview,
    ResolvedPersona,
    VersionInfo,
    target,
)

log = logging.getLogger("chatbot.personas")

SHIPPED_NOTE = "Shipped default"

PREVIEW_COUNTS = 200  # prompts whose token count is kept


class PersonaService(PersonaEdits):
    """Reads and writes personas and their versions; see the module docstring (the
    changes are in `PersonaEdits`)."""

    def __init__(
        self, engine: Engine, client: LLMClient | None = None, *, access: Access | None = None
    ) -> None:
        self.engine = engine
        self.client = client
        self.access = access or Access(AuditLog(engine))
        self.specs = rows.SpecCache()  # versions never change once written
        # Token counts of previewed prompts (a count never changes for a model and prompt),
        # below the access check, so each preview is checked and the API asked once.
        self._counts: dict[tuple[str, str], int] = {}
        self._counts_lock = threading.Lock()

    @property
    def audit(self) -> AuditLog:
        return self.access.audit

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

    def list(self, actor: Actor, include_archived: bool = False) -> builtins.list[PersonaSummary]:
        """By name. With "personas.read": every persona as its latest version says (archived
        ones when asked). Otherwise only the published, unarchived ones, as published."""
        self.access.require(actor, "personas.use")
        if not can(actor, "personas.read"):
            return self._published_summaries()
        with store.read_session(self.engine) as session:
            personas = store.list_personas(session=session, include_archived=include_archived)
            latest = store.latest_version_numbers(session=session)
        return [_summary(p, latest.get(rows.persona_id(p), 0)) for p in personas]

    def _published_summaries(self) -> builtins.list[PersonaSummary]:
        with store.read_session(self.engine) as session:
            found = store.list_published_personas(session=session)
        summaries = [
            PersonaSummary(
                key=persona.key,
                name=str(version.spec.get("name") or persona.key),
                description=str(version.spec.get("description") or ""),
                published_version=version.number,
                latest_version=version.number,
                archived=False,
                updated_at=version.created_at,
            )
            for persona, version in found
        ]
        return sorted(summaries, key=lambda s: (s.name, s.key))

    def published_keys(self) -> builtins.list[str]:
        """The keys a new conversation may use, by name (for the default persona)."""
        return [s.key for s in self._published_summaries()]

    def summary(self, actor: Actor, key: str) -> PersonaSummary:
        self.access.require(actor, "personas.read", target=target(key, None))
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            latest = store.latest_persona_version(
                session=session, persona_id=rows.persona_id(persona)
            )
        return _summary(persona, latest.number if latest else 0)

    def versions(self, actor: Actor, key: str) -> builtins.list[VersionInfo]:
        """Newest first."""
        self.access.require(actor, "personas.read", target=target(key, None))
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

    def published_for(self, actor: Actor, key: str) -> ResolvedPersona:
        """`published(key)` for a page: the persona picker of a new conversation."""
        self.access.require(actor, "personas.use", target=target(key, None))
        return self.published(key)

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

    def latest(self, actor: Actor, key: str) -> ResolvedPersona:
        """The newest version, published or draft (what an editor starts from)."""
        self.access.require(actor, "personas.read", target=target(key, None))
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            row = rows.latest(session, persona)
            spec = self.specs.remember(key, row)
        return ResolvedPersona(
            key, row.number, spec, published=row.number == persona.published_version
        )

    def latest_number(self, key: str) -> int:
        """The newest version's number (a replay "against the latest draft" resolves it)."""
        with store.read_session(self.engine) as session:
            return rows.latest(session, rows.require(session, key)).number

    # -- comparing and trying out ----------------------------------------------------------

    def diff(self, actor: Actor, key: str, a: int, b: int) -> str:
        """A unified diff of versions a and b, field by field; "" when they are the same."""
        self.access.require(actor, "personas.read", target=target(key, None))
        with store.read_session(self.engine) as session:
            persona = rows.require(session, key)
            spec_a = self.specs.get(session, persona, a)
            spec_b = self.specs.get(session, persona, b)
        return diff_specs(spec_a, spec_b, f"version {a}", f"version {b}")

    def preview(self, actor: Actor, spec: PersonaSpec, values: Mapping[str, str]) -> Preview:
        """The system prompt rendered with sample values, and its size in tokens.

        The count comes from the API's count_tokens for a request with this system
        prompt and a one-word user turn ("Hello"), so it is a few tokens more than the
        prompt alone. Problems come back in `error`, never as exceptions: a missing
        variable gives no prompt; a failed count keeps the prompt. No client: no count.
        """
        self.access.require(actor, "personas.edit")
        try:
            prompt = spec.system_prompt(values)
        except (TemplateError, PersonaError) as error:
            return Preview(prompt=None, tokens=None, error=error.user_message)
        if self.client is None:
            return Preview(prompt=prompt, tokens=None, error=None)
        key = (spec.model, prompt)
        tokens = self._counts.get(key)
        if tokens is None:  # the editor previews on every rerun: one API call per new prompt
            request = ChatRequest(model=spec.model, system=prompt, messages=[Turn("user", "Hello")])
            try:
                tokens = self.client.count_tokens(request)
            except LLMError as error:
                return Preview(prompt=prompt, tokens=None, error=error.user_message)
            with self._counts_lock:
                self._counts[key] = tokens
                while len(self._counts) > PREVIEW_COUNTS:
                    self._counts.pop(next(iter(self._counts)))
        return Preview(prompt=prompt, tokens=tokens, error=None)

    # -- files (see persona_files) ---------------------------------------------------------

    def export(self, actor: Actor, keys: Sequence[str] | None, fmt: Format) -> str:
        """The latest version of each persona (all non-archived ones when keys is None)."""
        self.access.require(actor, "personas.edit", target="persona export")
        return PersonaFiles(self).export(actor, keys, fmt)

    def import_file(self, actor: Actor, data: bytes, filename: str) -> ImportResult:
        """Import every persona in a file, all or nothing, in one transaction."""
        self.access.require(actor, "personas.edit", target="persona import")
        return PersonaFiles(self).import_file(actor, data, filename)


# -- helpers ---------------------------------------------------------------------------


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
