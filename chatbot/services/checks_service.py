"""The check library QA manage on the QA page: define a check once, reuse it in every run.

    checks = ChecksService(engine)
    rule = checks.create(actor, name="Asks for the order number", kind="contains",
                         config={"text": "order number"})
    checks.evaluate(rule, reply_text)       # CheckOutcome(passed=True, detail=...)

What a page calls takes the acting user and needs "checks.manage"; create, update and
archive are audited with the change. `many` and `evaluate` serve the replay worker,
which runs after its start was allowed, and ask no policy.

Settings are validated per kind (`chatbot.services.checks.validate_config`) before
anything is stored. A check's kind and settings are frozen once it has graded a reply:
changing them would silently change what old pass rates mean, which is the comparison
the page exists for. Rename it or edit its description freely; for new settings, create
a new check (and archive the old one).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import InputError, NotFoundError
from chatbot.store import checks as rows

from .checks import KINDS, CheckOutcome, Judge, KindInfo, evaluate, validate_config

if TYPE_CHECKING:
    from .budgets import BudgetService
    from .judge import JudgeService

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 1_000
PERMISSION = "checks.manage"


@dataclass(frozen=True)
class CheckDef:
    """A stored check, detached from the database."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    description: str
    archived: bool
    created_by: str
    created_at: datetime

    @property
    def label(self) -> str:
        return KINDS[self.kind].label if self.kind in KINDS else self.kind

    @classmethod
    def of(cls, row: store.QACheck) -> CheckDef:
        return cls(
            id=row.id,  # type: ignore[arg-type]
            name=row.name,
            kind=row.kind,
            config=dict(row.config),
            description=row.description,
            archived=row.archived,
            created_by=row.created_by,
            created_at=row.created_at,
        )


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InputError("Give the check a name.")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"Keep the name under {MAX_NAME_CHARS} characters.")
    return name


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InputError(f"Keep the description under {MAX_DESCRIPTION_CHARS:,} characters.")
    return description


def _changes(before: CheckDef, fields: Mapping[str, Any]) -> list[str]:
    """What an update changes, for the audit log: names and kinds before -> after; the
    settings and the description only as "changed" (they can be long)."""
    changed = []
    for field in ("name", "kind"):
        if field in fields and fields[field] != getattr(before, field):
            changed.append(f"{field} {getattr(before, field)!r} -> {fields[field]!r}")
    for field in ("config", "description"):
        if field in fields and fields[field] != getattr(before, field):
            changed.append(f"{'settings' if field == 'config' else field} changed")
    return changed


class ChecksService:
    """Create, edit, archive and list checks; every method returns `CheckDef`s."""

    def __init__(
        self, engine: Engine, *, judge: JudgeService | None = None, budgets: BudgetService | None = None,
        access: Access | None = None,
    ) -> None:
        self.engine = engine
        self.judge = judge  # grades rubric checks in `try_check`
        self.budgets = budgets
        self.access = access or Access(AuditLog(engine))

    @staticmethod
    def kinds() -> dict[str, KindInfo]:
        """Each kind's label, help and an example config, for the page's form."""
        return dict(KINDS)

    def create(
        self, actor: Actor, *, name: str, kind: str, config: Mapping[str, Any], description: str = ""
    ) -> CheckDef:
        self.access.require(actor, PERMISSION)
        clean = validate_config(kind, config)
        with store.write_session(self.engine) as session:
            row = rows.create_check(
                session=session,
                name=_clean_name(name),
                kind=kind,
                config=clean,
                description=_clean_description(description),
                created_by=actor.username,
            )
            self.access.audit.append(session, actor, "check.create", target=f"check:{row.id}",
                                     detail=f"{row.name!r} ({kind})")
            return CheckDef.of(row)

    def update(
        self,
        actor: Actor,
        check_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        kind: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> CheckDef:
        """Change what is given. Kind and settings only until the check has graded a reply."""
        self.access.require(actor, PERMISSION)
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = _clean_name(name)
        if description is not None:
            fields["description"] = _clean_description(description)
        with store.write_session(self.engine) as session:
            row = self._row(session, check_id)
            if kind is not None or config is not None:
                new_kind = kind or row.kind
                clean = validate_config(new_kind, row.config if config is None else config)
                if (new_kind, clean) != (row.kind, row.config):
                    if rows.check_result_count(session=session, check_id=check_id):
                        raise InputError(
                            f"The check {row.name!r} has already graded replies, so its settings "
                            "are fixed (old pass rates would change meaning). Create a new check "
                            "with the new settings and archive this one."
                        )
                    fields.update(kind=new_kind, config=clean)
            changes = _changes(CheckDef.of(row), fields)
            if not changes:
                return CheckDef.of(row)
            updated = CheckDef.of(rows.update_check(session=session, check_id=check_id, **fields))
            self.access.audit.append(session, actor, "check.update", target=f"check:{check_id}",
                                     detail="; ".join(changes))
            return updated

    def archive(self, actor: Actor, check_id: int, archived: bool = True) -> CheckDef:
        """Hide it from new runs; its results stay, and so do runs that chose it."""
        self.access.require(actor, PERMISSION)
        with store.write_session(self.engine) as session:
            before = self._row(session, check_id).archived
            row = rows.update_check(session=session, check_id=check_id, archived=archived)
            if before != archived:
                self.access.audit.append(
                    session, actor, "check.archive", target=f"check:{check_id}",
                    detail=f"{row.name!r}: " + ("active -> archived" if archived else "archived -> active"),
                )
            return CheckDef.of(row)

    def list(self, actor: Actor, include_archived: bool = False) -> builtins.list[CheckDef]:
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            return [CheckDef.of(r) for r in rows.list_checks(session=session, include_archived=include_archived)]

    def get(self, actor: Actor, check_id: int) -> CheckDef:
        self.access.require(actor, PERMISSION)
        with store.read_session(self.engine) as session:
            return CheckDef.of(self._row(session, check_id))

    def many(self, check_ids: builtins.list[int]) -> builtins.list[CheckDef]:
        """The given checks, archived ones included; NotFoundError if one is gone."""
        with store.read_session(self.engine) as session:
            found = [CheckDef.of(r) for r in rows.list_checks(session=session, ids=list(check_ids))]
        missing = set(check_ids) - {c.id for c in found}
        if missing:
            raise NotFoundError(f"Check {min(missing)} no longer exists; reload the page and choose again.")
        return found

    @staticmethod
    def evaluate(
        check: CheckDef, reply_text: str, *, judge: Judge | None = None, question: str | None = None
    ) -> CheckOutcome:
        """Grade a text with a check, with the judge given (if any)."""
        return evaluate(check, reply_text, judge=judge, question=question)

    def try_check(
        self, actor: Actor, check: CheckDef, reply_text: str, *, question: str | None = None
    ) -> CheckOutcome:
        """The page's "Try it": a rubric calls the judge once, on the actor's account, so it
        is refused over budget like any other call that is not chat."""
        self.access.require(actor, PERMISSION)
        judge = None
        if check.kind == "rubric" and self.judge is not None:
            if self.budgets is not None:
                self.budgets.check("judge", actor.username)
            judge = self.judge.for_turn(owner=actor.username, conversation_id=None)
        return evaluate(check, reply_text, judge=judge, question=question)

    @staticmethod
    def _row(session: Any, check_id: int) -> store.QACheck:
        row = rows.get_check(session=session, check_id=check_id)
        if row is None:
            raise NotFoundError("That check no longer exists. Reload the page.")
        return row
