"""Claiming a new instance: until an admin exists, the server prints a one-time setup
link at start, and only someone holding it (the person who started the server) can make
the first admin account in the browser. The CLI (`users add ... --role admin`) does the
same from the server's shell.

Codes are stored as digests in `app_setting`, so any replica accepts the link another
printed; they die when the first admin is made, or after a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.errors import StatedError
from chatbot.store import users as rows

from .accounts import UserService
from .audit import AuditLog
from .roles import Role
from .signin import SignedIn, SignInService
from .tokens import digest, new_secret, same

_KEY = "setup_codes"
LIFETIME = timedelta(days=1)
KEEP = 5  # codes printed by the last few starts (or replicas) stay valid


class SetupRefused(StatedError):
    """The setup link is not (or no longer) valid."""


def _codes(session: Any, now: datetime) -> list[dict[str, str]]:
    row = session.get(store.AppSetting, _KEY)
    codes = row.value if row is not None and isinstance(row.value, list) else []
    return [c for c in codes if isinstance(c, dict) and c.get("expires", "") > now.isoformat()]


def _save(session: Any, codes: list[dict[str, str]]) -> None:
    row = session.get(store.AppSetting, _KEY) or store.AppSetting(key=_KEY, value=[], updated_by="system")
    row.value, row.updated_by, row.updated_at = codes, "system", store.utc_now()
    session.add(row)


class FirstAdmin:
    def __init__(self, engine: Engine, users: UserService, signin: SignInService, audit: AuditLog) -> None:
        self.engine = engine
        self.users = users
        self.signin = signin
        self.audit = audit

    def needed(self) -> bool:
        return self.users.needs_first_admin()

    def issue(self) -> str | None:
        """A new setup code if the instance has no admin yet (None once it has one)."""
        if not self.needed():
            return None
        code = new_secret()
        now = store.utc_now()
        with store.write_session(self.engine) as session:
            codes = _codes(session, now)[-(KEEP - 1):]
            codes.append({"digest": digest(code), "expires": (now + LIFETIME).isoformat()})
            _save(session, codes)
        return code

    def valid(self, code: str | None) -> bool:
        if not code or len(code) > 200 or not self.needed():
            return False
        wanted = digest(code)
        with store.read_session(self.engine) as session:
            return any(same(c.get("digest", ""), wanted) for c in _codes(session, store.utc_now()))

    def create(
        self, code: str, *, username: str, password: str, display_name: str | None = None,
        email: str | None = None, address: str = "",
    ) -> SignedIn:
        """The first admin, signed in; the link (and every other printed one) dies."""
        if not self.valid(code):
            self.audit.refusal(None, "setup.refused", address=address)
            raise SetupRefused(
                "This setup link is no longer valid: an admin account exists already, or the "
                "link expired. Sign in, or restart the server for a new link."
            )
        with store.write_session(self.engine) as session:
            if rows.count_users(session=session, role=Role.ADMIN.value):  # lost a race
                raise SetupRefused("An admin account was created meanwhile. Sign in instead.")
            user = self.users.provision_in(session, username, role=Role.ADMIN, password=password,
                                           display_name=display_name, email=email)
            _save(session, [])
            self.audit.append(session, None, "setup.admin", target=f"user:{user.username}", address=address)
            return self.signin.begin(session, user, "setup", address=address)
