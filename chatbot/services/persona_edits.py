"""The audited changes to personas, one write transaction each: create, save, publish,
restore, duplicate, archive. `PersonaService` inherits them; see chatbot/services/personas.py.

Each asks for "personas.edit" before it reads anything, records the author as
`actor.username`, and appends its audit entry ("persona:<key> v<n>", a short before ->
after) inside the transaction of the change, so the log never claims what did not happen.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlmodel import Session

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.policy import Access
from chatbot.errors import InputError
from chatbot.personas import PersonaSpec, slugify, valid_key
from chatbot.personas.spec import LIMITS
from chatbot.services import persona_rows as rows
from chatbot.services.persona_results import ResolvedPersona, target

log = logging.getLogger("chatbot.personas")

_COPY_SUFFIX = " (copy)"


class PersonaEdits:
    """The writing half of `PersonaService` (which sets these attributes)."""

    engine: Engine
    access: Access
    specs: rows.SpecCache

    # -- writing ---------------------------------------------------------------------------

    def create(
        self, actor: Actor, spec: PersonaSpec, *, key: str | None = None, note: str | None = None
    ) -> ResolvedPersona:
        """A new persona whose version 1 is `spec`, published. Without a key, one is made
        from the name ("billing", then "billing-2", ...)."""
        self.access.require(actor, "personas.edit", target=target(key, None) if key else "persona")
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
                session=session, key=chosen, spec=spec.to_dict(), created_by=actor.username,
                note=note,
            )
            self.access.audit.append(session, actor, "persona.create", target=target(chosen, 1),
                              detail=f"{spec.name!r}, published")
            return chosen

        chosen = rows.write(self.engine, create)
        return ResolvedPersona(chosen, 1, spec, published=True)

    def save(
        self, actor: Actor, key: str, spec: PersonaSpec, *, note: str | None = None,
        publish: bool = False,
    ) -> ResolvedPersona:
        """A new version with `spec`; a draft unless publish=True."""
        self.access.require(actor, "personas.edit", target=target(key, None))

        def save(session: Session) -> int:
            return self._new_version(session, actor, key, spec, action="persona.save", note=note,
                                     publish=publish, same="this is the same as version {latest}")

        number = rows.write(self.engine, save)
        return ResolvedPersona(key, number, spec, published=publish)

    def publish(self, actor: Actor, key: str, number: int) -> ResolvedPersona:
        """Make version `number` the one new conversations get."""
        self.access.require(actor, "personas.edit", target=target(key, number))

        def publish(session: Session) -> PersonaSpec:
            persona = rows.require(session, key)
            before = persona.published_version
            spec = self.specs.get(session, persona, number)
            store.set_published_version(
                session=session, persona_id=rows.persona_id(persona), number=number
            )
            self._audit_publish(session, actor, key, before, number)
            return spec

        spec = rows.write(self.engine, publish)
        log.info("%s published version %d of persona %r", actor.username, number, key)
        return ResolvedPersona(key, number, spec, published=True)

    def _new_version(
        self, session: Session, actor: Actor, key: str, spec: PersonaSpec, *, action: str,
        note: str | None, publish: bool, same: str, source: int | None = None,
    ) -> int:
        """A version after the latest with `spec` (refused if it changes nothing), audited
        as `action` ("v3 -> v4 (draft)") and as a publish when it is one."""
        persona = rows.require(session, key)
        before = persona.published_version
        latest = rows.latest(session, persona)
        if rows.spec_or_none(latest) == spec:
            raise InputError("No changes to save: " + same.format(latest=latest.number) + ".")
        number = rows.add_version(session, persona, spec, by=actor.username, note=note, publish=publish)
        self.access.audit.append(session, actor, action, target=target(key, number),
                                 detail=f"v{source or latest.number} -> v{number}" + ("" if publish else " (draft)"))
        if publish:
            self._audit_publish(session, actor, key, before, number)
        return number

    def _audit_publish(
        self, session: Session, actor: Actor, key: str, before: int | None, number: int
    ) -> None:
        was = f"v{before}" if before is not None else "none"
        self.access.audit.append(session, actor, "persona.publish", target=target(key, number),
                          detail=f"published {was} -> v{number}")

    def restore(
        self, actor: Actor, key: str, number: int, *, publish: bool = False
    ) -> ResolvedPersona:
        """A NEW version with the content of version `number` (which stays as it is)."""
        self.access.require(actor, "personas.edit", target=target(key, number))

        def restore(session: Session) -> tuple[int, PersonaSpec]:
            spec = self.specs.get(session, rows.require(session, key), number)
            new = self._new_version(
                session, actor, key, spec, action="persona.restore", note=f"Restored from version {number}",
                publish=publish, source=number,
                same=f"version {number} is the same as the latest version ({{latest}})",
            )
            return new, spec

        new_number, spec = rows.write(self.engine, restore)
        return ResolvedPersona(key, new_number, spec, published=publish)

    def duplicate(self, actor: Actor, key: str, *, name: str | None = None) -> ResolvedPersona:
        """A new persona (published v1) with the latest content of `key`, renamed
        "<name> (copy)" unless a name is given."""
        self.access.require(actor, "personas.edit", target=target(key, None))

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
                created_by=actor.username,
                note=f"Duplicated from {key} version {latest.number}",
            )
            self.access.audit.append(session, actor, "persona.create", target=target(new_key, 1),
                              detail=f"duplicate of {key} v{latest.number}, published")
            return new_key, spec

        new_key, spec = rows.write(self.engine, duplicate)
        return ResolvedPersona(new_key, 1, spec, published=True)

    def archive(self, actor: Actor, key: str, archived: bool = True) -> None:
        """Hide a persona from lists and new conversations (archived=False brings it back).
        Conversations that use it keep working with their version."""
        self.access.require(actor, "personas.edit", target=target(key, None))

        def archive(session: Session) -> None:
            persona = rows.require(session, key)
            was = "archived" if persona.archived else "active"
            store.set_persona_archived(
                session=session, persona_id=rows.persona_id(persona), archived=archived
            )
            self.access.audit.append(session, actor, "persona.archive",
                              target=target(key, persona.published_version),
                              detail=f"{was} -> {'archived' if archived else 'active'}")

        rows.write(self.engine, archive)



def _copy_name(name: str) -> str:
    room = LIMITS["name"] - len(_COPY_SUFFIX)
    return name[:room].rstrip() + _COPY_SUFFIX


__all__ = ["PersonaEdits"]
