"""Signing in and staying signed in: passwords (throttled), sessions with idle and
absolute expiry, the one-time code a browser trades for its cookie, single sign-on
accounts, and the user named by a trusted proxy.

    signed = signin.authenticate("ana", password, address="10.0.0.7")
    token = signin.redeem(signed.handoff, address="10.0.0.7")  # the cookie route does this
    state = signin.resume(signed.session_id, address="10.0.0.7")  # every page run

A session token lives only in the browser's HttpOnly cookie; the database keeps its
SHA-256. The sign-in form runs inside Streamlit's websocket, which cannot set cookies,
so it gets a one-time handoff code (60 s, bound to the client address) that the browser
redeems at `/_auth/session`, which sets the cookie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Engine

from chatbot import store
from chatbot.errors import InputError, StatedError
from chatbot.store import users as rows
from chatbot.store.auth_models import AuthSession, User

from .accounts import RESERVED, UserService, normal_username
from .audit import AuditLog
from .passwords import burn_time, check_password, hash_password
from .roles import Actor, Role
from .settings import AuthSettings
from .sso import SSOIdentity, identity_from_claims, sso_key
from .tokens import digest, new_secret

HANDOFF_SECONDS = 60
WRONG = "Wrong username or password."

# Why a session ended, as the sign-in page says it.
ENDED = {
    "signed out": "You signed out.",
    "expired": "Your session expired. Sign in again.",
    "idle": "You were signed out after a while without activity. Sign in again.",
    "disabled": "Your account has been disabled. Ask an admin.",
    "role changed": "Your role changed. Sign in again to continue.",
    "password reset": "Your password was reset. Sign in with the new one.",
    "no role": "Your account has no role yet. Ask an admin to give you one.",
}


class SignInRefused(StatedError):
    """The sign-in did not succeed; the message says what the person can do."""


class Throttled(SignInRefused):
    def __init__(self, wait_seconds: float) -> None:
        minutes = max(1, round(wait_seconds / 60 + 0.49))
        super().__init__(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    session_id: int
    # Redeemed at /_auth/session for the cookie (password sign-ins); a secret: not in the repr.
    handoff: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Ended:
    """A session that no longer signs anyone in, and what to tell them."""

    reason: str

    @property
    def message(self) -> str:
        return ENDED.get(self.reason, ENDED["expired"])


def _actor(user: User, session_id: int | None, address: str) -> Actor:
    return Actor(username=user.username, role=Role(user.role), display_name=user.display_name,
                 address=address, session_id=session_id)


class SignInService:
    def __init__(self, engine: Engine, audit: AuditLog, settings: AuthSettings, users: UserService) -> None:
        self.engine = engine
        self.audit = audit
        self.settings = settings
        self.users = users

    # -- passwords -------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, address: str = "") -> SignedIn:
        """Check a username and password; SignInRefused (the same message for an unknown
        user and a wrong password) or Throttled after too many failures."""
        try:
            name = normal_username(username)
        except InputError:
            name = str(username or "").strip().casefold()[:64]
        now = store.utc_now()
        wait = self._throttle_wait(name, address, now)
        if wait is not None:
            self.audit.refusal(None, "signin.throttled", target=f"user:{name}", address=address,
                               detail=f"wait {wait:.0f} s")
            raise Throttled(wait)
        with store.read_session(self.engine) as session:
            user = rows.find_user(session=session, username=name) if name else None
        if user is None or user.password_hash is None:
            burn_time()  # as long as a real check, so timing tells nothing
            self._fail(name, address, "no such account" if user is None else "no password")
        ok, rehash = check_password(user.password_hash, password or "")
        if not ok:
            self._fail(name, address, "wrong password")
        refusal = self._refusal(user)
        if refusal:
            self.audit.record(None, "signin.failure", target=f"user:{name}", address=address, detail=refusal)
            raise SignInRefused(ENDED[refusal])
        changes: dict[str, Any] = {"last_sign_in_at": now}
        if rehash:  # the parameters aged: store it again with today's (hashed outside the lock)
            changes["password_hash"] = hash_password(password)
        with store.write_session(self.engine) as session:
            user = rows.lock_user(session=session, user_id=user.id or 0) or user
            rows.change_user(session=session, user=user, **changes)
            rows.forget_failures(session=session, username=name)
            return self._begin(session, user, "password", address, handoff=True)

    def _throttle_wait(self, name: str, address: str, now: datetime) -> float | None:
        s = self.settings
        window = timedelta(minutes=s.failure_window_minutes)
        with store.read_session(self.engine) as session:
            waits = []
            for field, value, limit in (("username", name, s.max_failures),
                                        ("address", address, s.max_failures_per_address)):
                if not value:
                    continue
                times = rows.failures_since(session=session, since=now - window, **{field: value})
                if len(times) >= limit:
                    waits.append((times[len(times) - limit] + window - now).total_seconds())
        return max(waits) if waits else None

    def _fail(self, name: str, address: str, why: str) -> NoReturn:
        now = store.utc_now()
        with store.write_session(self.engine) as session:
            rows.add_failure(session=session, username=name, address=address)
            rows.forget_failures(session=session, before=now - timedelta(days=1))
            self.audit.append(session, None, "signin.failure", target=f"user:{name}",
                              address=address, detail=why)
        raise SignInRefused(WRONG)

    @staticmethod
    def _refusal(user: User) -> str | None:
        """Why this account may not sign in now (a key of ENDED), or None."""
        if not user.active:
            return "disabled"
        if user.role == Role.NONE.value or user.source == "placeholder":
            return "no role"
        return None

    # -- sessions --------------------------------------------------------------------------

    def _begin(
        self, session: Any, user: User, method: str, address: str, *, handoff: bool = False,
        key: str | None = None,
    ) -> SignedIn:
        now = store.utc_now()
        code = new_secret() if handoff else None
        row = rows.add_session(
            session=session, user_id=user.id, method=method, address=address or None,
            handoff_hash=digest(code) if code else None,
            handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS) if code else None,
            sso_key=key, expires_at=now + timedelta(seconds=self.settings.max_seconds),
        )
        actor = _actor(user, row.id, address)
        self.audit.append(session, actor, "signin.success", target=f"user:{user.username}", detail=method)
        return SignedIn(actor, row.id or 0, code)

    def begin(self, session: Any, user: User, method: str, *, address: str) -> SignedIn:
        """A password-style session for a user just made (the first admin)."""
        rows.change_user(session=session, user=user, last_sign_in_at=store.utc_now())
        return self._begin(session, user, method, address, handoff=True)

    def redeem(self, code: str, *, address: str = "") -> tuple[str, int] | None:
        """The cookie's token and its max-age in seconds for a handoff code, once; None
        for a code that is unknown, used, expired, or brought from another address."""
        if not code or len(code) > 200:
            return None
        now = store.utc_now()
        with store.write_session(self.engine) as session:
            row = rows.session_by(session=session, handoff_hash=digest(code))
            if row is None or row.ended_at is not None:
                return None
            # Used once, whatever happens next.
            row.handoff_hash = None
            session.add(row)
            if row.handoff_expires_at is None or row.handoff_expires_at < now:
                return None
            if row.address and address and row.address != address:
                return None
            token = new_secret()
            row.token_hash = digest(token)
            session.add(row)
            return token, max(1, int((row.expires_at - now).total_seconds()))

    def from_token(self, token: str, *, address: str = "") -> Actor | Ended | None:
        """The person a cookie's token signs in (None for a token we never issued)."""
        if not token or len(token) > 200:
            return None
        with store.read_session(self.engine) as session:
            row = rows.session_by(session=session, token_hash=digest(token))
        return self.resume(row.id or 0, address=address) if row is not None else None

    def resume(self, session_id: int, *, address: str = "") -> Actor | Ended:
        """The person this session signs in, checked now: every page run calls this, so
        a disabled account, a role change or a sign-out elsewhere takes effect at once."""
        now = store.utc_now()
        with store.read_session(self.engine) as session:
            found = rows.session_with_user(session=session, session_id=session_id)
        if found is None:
            return Ended("expired")
        row, user = found
        if row.ended_at is not None:
            return Ended(row.end_reason or "expired")
        reason = self._refusal(user)
        if reason is None and now >= row.expires_at:
            reason = "expired"
        if reason is None and (now - row.last_seen_at).total_seconds() > self.settings.idle_seconds:
            reason = "idle"
        if reason is not None:
            self._end(row, user, reason, address)
            return Ended(reason)
        # Note activity for the idle timer, at most once a minute (not a write per click).
        if (now - row.last_seen_at).total_seconds() > min(60.0, self.settings.idle_seconds / 10):
            with store.write_session(self.engine) as session:
                current = session.get(AuthSession, row.id)
                if current is not None and current.ended_at is None:
                    current.last_seen_at = now
                    session.add(current)
        return _actor(user, row.id, address)

    def _end(self, row: AuthSession, user: User, reason: str, address: str) -> None:
        with store.write_session(self.engine) as session:
            current = session.get(AuthSession, row.id)
            if current is None or current.ended_at is not None:
                return
            current.ended_at, current.end_reason, current.handoff_hash = store.utc_now(), reason, None
            session.add(current)
            if reason in ("expired", "idle"):
                self.audit.append(session, _actor(user, row.id, address), "session.expired",
                                  target=f"user:{user.username}", detail=reason)

    def sign_out(self, actor: Actor) -> None:
        """End this browser's session on the server (the cookie is dead from now on)."""
        if actor.session_id is None:
            return
        with store.write_session(self.engine) as session:
            row = session.get(AuthSession, actor.session_id)
            if row is None or row.ended_at is not None:
                return
            row.ended_at, row.end_reason, row.handoff_hash = store.utc_now(), "signed out", None
            session.add(row)
            self.audit.append(session, actor, "signout", target=f"user:{actor.username}", detail=row.method)

    # -- single sign-on and the trusted proxy ----------------------------------------------

    def sso(self, claims: dict[str, Any], *, address: str = "") -> Actor | Ended:
        """The person an OpenID Connect sign-in (Streamlit's `st.user`) is: made at their
        first sign-in, their role from the configured claim, one session per sign-in at
        the identity provider (so sign-out and expiry hold until they sign in there again)."""
        identity = identity_from_claims(claims, self.settings)
        key = sso_key(claims)
        with store.read_session(self.engine) as session:
            existing = rows.session_by(session=session, sso_key=key)
        if existing is not None:
            return self.resume(existing.id or 0, address=address)
        with store.write_session(self.engine) as session:
            # Asked again under the write lock: two tabs opened at once with the same
            # st.user would otherwise both begin a session (the key is unique).
            existing = rows.session_by(session=session, sso_key=key)
            if existing is None:
                user = self._sso_user(session, identity)
                reason = self._refusal(user)
                if reason is not None:
                    self.audit.append(session, None, "signin.failure", target=f"user:{user.username}",
                                      address=address, detail=f"sso: {reason}")
                    return Ended(reason)
                rows.change_user(session=session, user=user, last_sign_in_at=store.utc_now())
                return self._begin(session, user, "oidc", address, key=key).actor
        return self.resume(existing.id or 0, address=address)

    def _sso_user(self, session: Any, identity: SSOIdentity) -> User:
        user = rows.find_user_by_subject(session=session, subject=identity.subject)
        if user is None:
            name = self._free_username(session, identity.username)
            return self.users.provision_in(
                session, name, role=identity.role or self.settings.new_user_role, password=None,
                display_name=identity.display_name, email=identity.email, source="oidc",
                sso_subject=identity.subject,
            )
        changes: dict[str, Any] = {}
        if identity.role is not None and identity.role.value != user.role:
            # The identity provider is the source of truth for a mapped role.
            self.audit.append(session, None, "user.role", target=f"user:{user.username}",
                              detail=f"{user.role} -> {identity.role.value} (from SSO claim)")
            changes["role"] = identity.role.value
            rows.end_sessions(session=session, user_id=user.id or 0, reason="role changed")
        if identity.display_name and identity.display_name != user.display_name:
            changes["display_name"] = identity.display_name
        if identity.email and identity.email != user.email:
            changes["email"] = identity.email
        return rows.change_user(session=session, user=user, **changes) if changes else user

    @staticmethod
    def _free_username(session: Any, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `wanted-3`...: an SSO account never takes over a local
        one that happens to share its name."""
        try:
            base = normal_username(wanted)
        except InputError:
            base = "user"
        name, n = base, 1
        while name in RESERVED or rows.find_user(session=session, username=name) is not None:
            n += 1
            name = f"{base[:60]}-{n}"
        return name

    def from_header(self, value: str, *, address: str = "", announce: bool = False) -> Actor | Ended:
        """The person a trusted authenticating proxy names (the header was stripped by the
        gate unless the connection came from a trusted proxy). Made at first sight with the
        default role; the proxy owns expiry, so there is no session row."""
        name = normal_username(value)
        with store.read_session(self.engine) as session:
            user = rows.find_user(session=session, username=name)
        if user is not None and not announce:  # the common case: one read per page run
            reason = self._refusal(user)
            return Ended(reason) if reason else _actor(user, None, address)
        with store.write_session(self.engine) as session:
            user = rows.find_user(session=session, username=name)
            if user is None:
                user = self.users.provision_in(session, name, role=self.settings.new_user_role,
                                               password=None, source="header")
            reason = self._refusal(user)
            if reason is not None:
                if announce:
                    self.audit.append(session, None, "signin.failure", target=f"user:{name}",
                                      address=address, detail=f"header: {reason}")
                return Ended(reason)
            actor = _actor(user, None, address)
            if announce:
                rows.change_user(session=session, user=user, last_sign_in_at=store.utc_now())
                self.audit.append(session, actor, "signin.success", target=f"user:{name}", detail="header")
            return actor
