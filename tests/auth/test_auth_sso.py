"""Single sign-on accounts: the claims of an OpenID Connect sign-in (what Streamlit's
`st.user` holds) become a person and a role; one session per sign-in at the provider,
so sign-out, expiry and a disabled account hold until the person signs in there again;
and an SSO account never takes over a local one that shares its name."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.auth.settings import AuthSettings, load_auth_settings
from chatbot.auth.signin import Ended
from chatbot.auth.sso import SSOClaimsError, identity_from_claims, mapped_role, sso_key
from auth_helpers import PASSWORD, age, audit_actions, with_settings

pytestmark = pytest.mark.also_postgresql

ISSUER = "https://id.example.com"
ROLES = {"support-agents": Role.AGENT, "support-qa": Role.QA, "support-admins": Role.ADMIN}


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(sso_roles=ROLES)


def claims(sub="u-ana", username="ana.sso", groups=("support-agents",), iat=1_800_000_000, **more) -> dict:
    """An ID token's claims as st.user has them (Streamlit adds the last three keys)."""
    return {"iss": ISSUER, "sub": sub, "aud": "support-chatbot", "iat": iat, "exp": iat + 300,
            "nonce": f"nonce-{iat}", "preferred_username": username, "email": f"{username}@example.com",
            "email_verified": True, "name": "Ana Ruiz", "groups": list(groups),
            "is_logged_in": True, "provider": "default", "origin": "http://localhost:8501", **more}


def account(engine, username: str) -> tuple | None:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT role, source, sso_subject, display_name, email, password_hash IS NOT NULL "
            "FROM app_user WHERE username = :u"), {"u": username}).one_or_none()


def sessions(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(
            "SELECT method, ended_at IS NOT NULL, end_reason FROM auth_session ORDER BY id")).all()]


# -- claims -> who the person is --------------------------------------------------------


def test_claims_give_subject_username_name_email_and_role(settings):
    found = identity_from_claims(claims(), settings)
    assert (found.subject, found.username, found.display_name, found.email, found.role) == (
        f"{ISSUER} u-ana", "ana.sso", "Ana Ruiz", "ana.sso@example.com", Role.AGENT)
    # Without preferred_username the e-mail is the name, then the subject; no name: the username.
    bare = identity_from_claims({"iss": ISSUER, "sub": "u-9", "email": "bo@example.com"}, settings)
    assert (bare.username, bare.display_name, bare.role) == ("bo@example.com", "bo@example.com", None)
    assert identity_from_claims({"iss": ISSUER, "sub": "u-9"}, settings).username == "u-9"


def test_an_unverified_or_malformed_email_is_not_taken(settings):
    assert identity_from_claims(claims(email_verified=False), settings).email is None
    assert identity_from_claims(claims(email="not an address"), settings).email is None


def test_claims_without_issuer_or_subject_are_refused(settings):
    for missing in ("iss", "sub"):
        with pytest.raises(SSOClaimsError, match="did not say who you are"):
            identity_from_claims({k: v for k, v in claims().items() if k != missing}, settings)


def test_the_highest_mapped_role_wins_and_unmapped_values_are_ignored(settings):
    assert mapped_role({"groups": ["staff", "support-agents", "support-qa"]}, settings) == Role.QA
    assert mapped_role({"groups": ["support-admins", "support-agents"]}, settings) == Role.ADMIN
    assert mapped_role({"groups": ["staff", "Support-Admins"]}, settings) is None  # exact values only
    assert mapped_role({"groups": "support-qa"}, settings) == Role.QA  # a single string
    assert mapped_role({}, settings) is None


def test_the_role_claim_and_the_map_come_from_the_settings():
    env = {"CHATBOT_SSO_ROLE_CLAIM": "roles", "CHATBOT_SSO_ROLES": "helpdesk=agent, it-admins=admin",
           "CHATBOT_SSO_DEFAULT_ROLE": "agent"}
    settings = load_auth_settings(env, dotenv_path=None)
    assert mapped_role({"roles": ["it-admins"], "groups": ["helpdesk"]}, settings) == Role.ADMIN
    assert mapped_role({"groups": ["it-admins"]}, settings) is None
    assert settings.new_user_role == Role.AGENT
    with pytest.raises(ValueError, match="none or agent"):
        load_auth_settings({"CHATBOT_SSO_DEFAULT_ROLE": "admin"}, dotenv_path=None)
    with pytest.raises(ValueError, match="claim-value=role"):
        load_auth_settings({"CHATBOT_SSO_ROLES": "admins"}, dotenv_path=None)


def test_one_key_per_sign_in_at_the_provider():
    assert sso_key(claims()) == sso_key(claims(is_logged_in=True, tokens={"id": "x"}))
    assert sso_key(claims()) != sso_key(claims(iat=1_800_000_001))  # a new sign-in there
    assert sso_key(claims()) != sso_key(claims(sub="u-bo"))


# -- SignInService.sso -------------------------------------------------------------------


def test_the_first_sign_in_makes_the_account_with_the_mapped_role(identity, engine):
    actor = identity.signin.sso(claims(groups=["staff", "support-agents"]), address="10.0.0.7")
    assert isinstance(actor, Actor)
    assert (actor.username, actor.role, actor.display_name, actor.address) == (
        "ana.sso", Role.AGENT, "Ana Ruiz", "10.0.0.7")
    assert account(engine, "ana.sso") == ("agent", "oidc", f"{ISSUER} u-ana", "Ana Ruiz",
                                          "ana.sso@example.com", False)
    assert sessions(engine) == [("oidc", False, None)]
    assert ("user.create", "", "user:ana.sso") in audit_actions(engine)
    assert ("signin.success", "ana.sso", "user:ana.sso") in audit_actions(engine)


def test_the_same_sign_in_again_is_the_same_session(identity, engine):
    first = identity.signin.sso(claims())
    assert identity.signin.sso(claims()) == first  # a reload: st.user is unchanged
    assert len(sessions(engine)) == 1


def test_without_a_mapped_role_the_default_applies(identity, engine):
    refused = identity.signin.sso(claims(groups=["marketing"]))
    assert refused == Ended("no role")
    assert refused.message == "Your account has no role yet. Ask an admin to give you one."
    assert account(engine, "ana.sso")[:2] == ("none", "oidc")
    assert sessions(engine) == []
    assert ("signin.failure", "", "user:ana.sso") in audit_actions(engine)

    agents = with_settings(identity, new_user_role=Role.AGENT)
    bo = agents.signin.sso(claims(sub="u-bo", username="bo", groups=[]))
    assert isinstance(bo, Actor) and bo.role == Role.AGENT


def test_a_role_an_admin_gives_holds_at_the_next_sign_in(identity, admin, engine):
    assert identity.signin.sso(claims(groups=["marketing"])) == Ended("no role")
    identity.users.set_role(admin, "ana.sso", "qa")
    actor = identity.signin.sso(claims(groups=["marketing"], iat=1_800_000_100))
    assert isinstance(actor, Actor) and actor.role == Role.QA


def test_a_changed_mapped_role_is_taken_at_the_next_sign_in_and_ends_the_old_sessions(identity, engine):
    first = identity.signin.sso(claims(groups=["support-agents"]))
    promoted = identity.signin.sso(claims(groups=["support-admins"], iat=1_800_000_100))
    assert promoted.role == Role.ADMIN and promoted.session_id != first.session_id
    assert identity.signin.resume(first.session_id) == Ended("role changed")
    assert ("user.role", "", "user:ana.sso") in audit_actions(engine)


def test_a_local_account_with_the_same_name_is_never_taken_over(identity, admin, engine):
    identity.users.add(admin, "ana", role="admin", password=PASSWORD)
    actor = identity.signin.sso(claims(username="Ana", groups=["support-agents"]))
    assert (actor.username, actor.role) == ("ana-2", Role.AGENT)
    assert account(engine, "ana")[:3] == ("admin", "password", None)  # untouched
    assert identity.signin.authenticate("ana", PASSWORD).actor.role == Role.ADMIN
    # The same person next time is the same account, not another suffix.
    again = identity.signin.sso(claims(username="Ana", iat=1_800_000_100))
    assert again.username == "ana-2"
    # Another person at the provider with that name gets the next free one.
    other = identity.signin.sso(claims(sub="u-other", username="ana"))
    assert other.username == "ana-3"


def test_a_reserved_or_unusable_username_is_not_taken(identity, engine, settings):
    system = identity.signin.sso(claims(sub="u-1", username="system"))
    assert isinstance(system, Actor) and system.username == "system-2"
    # Not a username (a space): the next claim that is one (here the subject) is used.
    spaced = identity.signin.sso(claims(sub="u-2", username="Ana Ruiz"))
    assert isinstance(spaced, Actor) and spaced.username == "u-2"
    assert identity_from_claims(claims(username="Ana Ruiz", email="ana@example.com"), settings).username == \
        "ana@example.com"


def test_an_ended_session_stays_ended_for_the_same_sign_in(identity, engine):
    actor = identity.signin.sso(claims())
    identity.signin.sign_out(actor)
    assert identity.signin.sso(claims()) == Ended("signed out")
    assert sessions(engine) == [("oidc", True, "signed out")]
    # A new sign-in at the provider (a new ID token: new iat and nonce) is a new session.
    fresh = identity.signin.sso(claims(iat=1_800_000_100))
    assert isinstance(fresh, Actor) and fresh.session_id != actor.session_id
    assert sessions(engine) == [("oidc", True, "signed out"), ("oidc", False, None)]


def test_an_idle_sso_session_ends_and_needs_a_new_sign_in(identity, engine):
    identity.signin.sso(claims())
    age(engine, store.AuthSession, "last_seen_at", timedelta(hours=3))
    assert identity.signin.sso(claims()) == Ended("idle")
    assert isinstance(identity.signin.sso(claims(iat=1_800_000_100)), Actor)


def test_a_disabled_sso_account_is_refused(identity, admin, engine):
    actor = identity.signin.sso(claims())
    identity.users.disable(admin, "ana.sso")
    assert identity.signin.resume(actor.session_id) == Ended("disabled")
    assert identity.signin.sso(claims()) == Ended("disabled")
    assert identity.signin.sso(claims(iat=1_800_000_100)) == Ended("disabled")
    assert [s for s in sessions(engine) if not s[1]] == []  # no open session was made
    assert ("signin.failure", "", "user:ana.sso") in audit_actions(engine)


def test_tokens_that_come_with_the_claims_are_never_stored(identity, engine):
    identity.signin.sso(claims(tokens={"id": "eyJ-id-token-canary", "access": "access-token-canary"}))
    with engine.connect() as connection:
        dump = "\n".join(str(r) for t in ("auth_session", "app_user", "audit_entry")
                         for r in connection.execute(text(f"SELECT * FROM {t}")).all())
    assert "ana.sso" in dump
    assert "token-canary" not in dump
