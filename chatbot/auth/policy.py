"""Who may do what: one table of permissions per role, and the object rules for
conversations. Pages never decide access; every service entry point asks here.

    can(actor, "personas.edit")                 # a question
    access.require(actor, "personas.edit")      # AccessDenied (recorded) if not
    access.conversation(actor, row, write=True) # NotFoundError if it is not theirs

A conversation someone may not see is "not found", exactly as one that does not exist, so
an id tried by hand says nothing about what exists. A feature a role lacks altogether is
refused as such ("your role cannot ..."), which says nothing about any one object either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from chatbot.errors import NotFoundError, StatedError

from .roles import Actor, Role

if TYPE_CHECKING:
    from .audit import AuditLog

A, Q, D = Role.AGENT, Role.QA, Role.ADMIN

# permission -> the roles that have it, and what it covers (the README's role table).
PERMISSIONS: Mapping[str, frozenset[Role]] = {
    # Hold conversations with the assistant: one's own (admins: anyone's, see below).
    "chat": frozenset({A, D}),
    # See the published personas to pick one (every role that works with conversations).
    "personas.use": frozenset({A, Q, D}),
    # Read every version of every persona, drafts included (QA replays against them).
    "personas.read": frozenset({Q, D}),
    # Create, edit, publish, archive, import, export, preview and try personas.
    "personas.edit": frozenset({D}),
    # Read every conversation, search them, see ratings, notes and tags.
    "qa.read": frozenset({Q, D}),
    # Notes, tags and the golden set.
    "qa.annotate": frozenset({Q, D}),
    # Export any set of conversations, import conversations.
    "qa.transfer": frozenset({Q, D}),
    # Replays and the checks they are graded by.
    "replays.run": frozenset({Q, D}),
    "checks.manage": frozenset({Q, D}),
    # Usage, cost and the call log; budgets and the over-budget policy.
    "usage.read": frozenset({D}),
    "budgets.manage": frozenset({D}),
    # People and roles; the audit log.
    "users.manage": frozenset({D}),
    "audit.read": frozenset({D}),
}

# What a refusal says the role lacks, in words a person reads.
_WHAT = {
    "chat": "hold conversations",
    "personas.use": "use personas",
    "personas.read": "read persona drafts",
    "personas.edit": "change personas",
    "qa.read": "read other people's conversations",
    "qa.annotate": "add notes and tags",
    "qa.transfer": "export or import conversations",
    "replays.run": "run replays",
    "checks.manage": "manage checks",
    "usage.read": "see usage and cost",
    "budgets.manage": "change budgets",
    "users.manage": "manage people",
    "audit.read": "read the audit log",
}

NOT_FOUND = "That conversation no longer exists (or is not yours). Start a new one."


class AccessDenied(StatedError):
    """The acting user's role does not allow this; nothing was read or changed."""

    def __init__(self, actor: Actor, permission: str) -> None:
        what = _WHAT.get(permission, permission)
        super().__init__(
            f"Your role ({actor.role.label}) cannot {what}. Ask an admin if you need to."
        )
        self.permission = permission


def can(actor: Actor | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return actor is not None and actor.role in PERMISSIONS[permission]


def may_read_conversation(actor: Actor, owner: str) -> bool:
    """Their own (if they chat at all), or anyone's for QA and admins."""
    if owner == actor.username and can(actor, "chat"):
        return True
    return can(actor, "qa.read")


def may_write_conversation(actor: Actor, owner: str) -> bool:
    """Post, rename, delete, rate, summarise: the owner, or an admin. QA read only."""
    return can(actor, "chat") and (owner == actor.username or actor.role == Role.ADMIN)


class Owned(Protocol):
    owner: str
    id: int | None


class Access:
    """The policy with its side effect: every refusal goes to the audit log."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def require(self, actor: Actor, permission: str, *, target: str = "") -> None:
        if not can(actor, permission):
            self.audit.refusal(actor, "access.denied", target=target, detail=permission)
            raise AccessDenied(actor, permission)

    def conversation(self, actor: Actor, conversation: Owned | None, *, write: bool = False,
                     message: str = NOT_FOUND) -> Owned:
        """The conversation if `actor` may read it (or change it, with `write`); else
        NotFoundError, the same for one that exists and one that does not."""
        if conversation is None:
            raise NotFoundError(message)
        allowed = (may_write_conversation if write else may_read_conversation)(actor, conversation.owner)
        if not allowed:
            self.audit.refusal(actor, "access.denied", target=f"conversation:{conversation.id}",
                               detail="write" if write else "read")
            raise NotFoundError(message)
        return conversation
