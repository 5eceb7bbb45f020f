"""Roles and the acting user every service entry point takes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # chats; their own conversations only
    QA = "qa"  # reads every conversation, annotates, replays; changes no settings
    ADMIN = "admin"  # everything, plus people, personas, budgets and the audit log
    NONE = "none"  # signed in through SSO, waiting for an admin to give them a role

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.AGENT: "Agent", Role.QA: "QA", Role.ADMIN: "Admin", Role.NONE: "No access"}
# The roles a person can be given (NONE is where an unmapped SSO account waits).
ASSIGNABLE = (Role.AGENT, Role.QA, Role.ADMIN)


def parse_role(value: object, *, allow_none: bool = False) -> Role:
    """A role from text ("Admin", " qa "), or ValueError naming the choices."""
    text = str(value or "").strip().lower()
    allowed = [*ASSIGNABLE, Role.NONE] if allow_none else list(ASSIGNABLE)
    for role in allowed:
        if text == role.value:
            return role
    raise ValueError(f"unknown role {value!r}: use one of {', '.join(r.value for r in allowed)}")


@dataclass(frozen=True)
class Actor:
    """The person (or the app itself) on whose behalf a service call runs.

    Built by the sign-in gate from a validated session on every page run, so a role
    change or a disabled account takes effect on the next click. `address` is where
    the request came from, for the audit log.
    """

    username: str
    role: Role
    display_name: str = ""
    address: str = ""
    session_id: int | None = None

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @classmethod
    def system(cls) -> Actor:
        """The app acting on its own behalf (seeding shipped personas, start-up work)."""
        return cls(username="system", role=Role.ADMIN, display_name="System")

    @classmethod
    def operator(cls, os_user: str) -> Actor:
        """Someone at the server's command line (`python -m chatbot users ...`)."""
        return cls(username=f"cli:{os_user}", role=Role.ADMIN, display_name=f"{os_user} (command line)",
                   address="local")
