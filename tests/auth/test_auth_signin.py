"""Signing in: one message for every wrong guess, throttling per username and per
address, one-time handoff codes, idle and absolute expiry, sign-out, and sessions that
end when an admin disables someone or changes their role or password."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.auth.signin import Ended, SignInRefused, Throttled
from chatbot.auth.tokens import digest
from auth_helpers import PASSWORD, age, audit_actions, with_settings

pytestmark = pytest.mark.also_postgresql


@pytest.fixture
def ana(identity, admin):
    identity.users.add(admin, "ana", role="agent", password=PASSWORD, display_name="Ana Ruiz")
    return "ana"


def test_a_right_password_signs_in_and_the_session_is_stored_only_as_digests(identity, ana, engine):
    signed = identity.signin.authenticate("ANA", PASSWORD, address="10.0.0.7")
    assert signed.actor == Actor("ana", Role.AGENT, "Ana Ruiz", "10.0.0.7", signed.session_id)
    token, max_age = identity.signin.redeem(signed.handoff, address="10.0.0.7")
    assert 11 * 3600 < max_age <= 12 * 3600  # the absolute lifetime
    with engine.connect() as connection:
        row = connection.execute(text("SELECT token_hash, handoff_hash, method FROM auth_session")).one()
        dump = "\n".join(str(r) for t in ("auth_session", "app_user", "audit_entry")
                         for r in connection.execute(text(f"SELECT * FROM {t}")).all())
    assert tuple(row) == (digest(token), None, "password")
    for secret in (token, signed.handoff, PASSWORD):
        assert secret not in dump
    assert identity.signin.from_token(token, address="10.0.0.7") == signed.actor
    assert identity.signin.from_token("forged", address="10.0.0.7") is None


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(identity, ana, engine):
    messages = set()
    for name, password in (("ana", "wrong password here"), ("nobody", PASSWORD), ("", "")):
        with pytest.raises(SignInRefused) as refused:
            identity.signin.authenticate(name, password, address="10.0.0.7")
        messages.add(refused.value.user_message)
    assert messages == {"Wrong username or password."}
    failures = [a for a in audit_actions(engine) if a[0] == "signin.failure"]
    assert [f[2] for f in failures] == ["user:ana", "user:nobody", "user:"]


def test_failures_per_username_are_throttled_and_say_how_long_to_wait(identity, ana, engine):
    for _ in range(5):
        with pytest.raises(SignInRefused, match="Wrong"):
            identity.signin.authenticate("ana", "not it at all", address="10.0.0.7")
    # Locked now, even with the right password and from another address.
    with pytest.raises(Throttled, match=r"Try again in 15 minutes") as throttled:
        identity.signin.authenticate("ana", PASSWORD, address="10.9.9.9")
    assert 14 * 60 < throttled.value.wait_seconds <= 15 * 60
    assert ("signin.throttled", "", "user:ana") in audit_actions(engine)
    # Ten minutes later the lock has five minutes to go; after fifteen it is gone.
    age(engine, store.SignInFailure, "created_at", timedelta(minutes=10))
    with pytest.raises(Throttled, match=r"in 5 minutes"):
        identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7")
    age(engine, store.SignInFailure, "created_at", timedelta(minutes=6))
    assert identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7").actor.username == "ana"


def test_failures_per_address_are_throttled_across_usernames(identity, ana, admin):
    strict = with_settings(identity, max_failures_per_address=3)
    for name in ("x1", "x2", "x3"):
        with pytest.raises(SignInRefused):
            strict.signin.authenticate(name, "guess guess guess", address="203.0.113.5")
    with pytest.raises(Throttled):
        strict.signin.authenticate("ana", PASSWORD, address="203.0.113.5")
    assert strict.signin.authenticate("ana", PASSWORD, address="198.51.100.1").actor.username == "ana"


def test_a_success_clears_the_usernames_failures(identity, ana):
    for _ in range(4):
        with pytest.raises(SignInRefused):
            identity.signin.authenticate("ana", "nope nope nope", address="10.0.0.7")
    identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7")
    for _ in range(4):  # four more wrong ones are allowed again
        with pytest.raises(SignInRefused, match="Wrong"):
            identity.signin.authenticate("ana", "nope nope nope", address="10.0.0.7")


def test_disabled_and_roleless_accounts_cannot_sign_in(identity, admin, ana):
    identity.users.disable(admin, "ana")
    with pytest.raises(SignInRefused, match="disabled"):
        identity.signin.authenticate("ana", PASSWORD)
    identity.users.enable(admin, "ana")
    identity.users.set_role(admin, "ana", "none")
    with pytest.raises(SignInRefused, match="no role yet"):
        identity.signin.authenticate("ana", PASSWORD)


def test_a_handoff_code_works_once_within_a_minute_and_only_from_its_address(identity, ana, engine):
    signed = identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7")
    assert identity.signin.redeem(signed.handoff, address="10.6.6.6") is None  # stolen and replayed
    assert identity.signin.redeem(signed.handoff, address="10.0.0.7") is None  # and now it is spent
    again = identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7")
    age(engine, store.AuthSession, "handoff_expires_at", timedelta(seconds=61))
    assert identity.signin.redeem(again.handoff, address="10.0.0.7") is None
    assert identity.signin.redeem("", address="10.0.0.7") is None


def test_a_session_ends_after_the_idle_time(identity, ana, engine):
    signed = identity.signin.authenticate("ana", PASSWORD)
    age(engine, store.AuthSession, "last_seen_at", timedelta(minutes=119))
    assert isinstance(identity.signin.resume(signed.session_id), Actor)  # and this run counts as activity
    age(engine, store.AuthSession, "last_seen_at", timedelta(minutes=119))
    assert isinstance(identity.signin.resume(signed.session_id), Actor)
    age(engine, store.AuthSession, "last_seen_at", timedelta(minutes=121))
    ended = identity.signin.resume(signed.session_id)
    assert ended == Ended("idle") and "without activity" in ended.message
    assert identity.signin.resume(signed.session_id) == Ended("idle")  # ended for good
    assert ("session.expired", "ana", "user:ana") in audit_actions(engine)


def test_a_session_ends_at_its_absolute_lifetime_however_active(identity, ana, engine):
    short = with_settings(identity, max_hours=1)
    signed = short.signin.authenticate("ana", PASSWORD)
    for _ in range(3):  # active every 15 minutes...
        age(engine, store.AuthSession, "expires_at", timedelta(minutes=15))
        assert isinstance(short.signin.resume(signed.session_id), Actor)
    age(engine, store.AuthSession, "expires_at", timedelta(minutes=16))  # ...an hour after sign-in
    assert short.signin.resume(signed.session_id) == Ended("expired")


def test_sign_out_ends_the_session_on_the_server(identity, ana, engine):
    signed = identity.signin.authenticate("ana", PASSWORD, address="10.0.0.7")
    token, _ = identity.signin.redeem(signed.handoff, address="10.0.0.7")
    identity.signin.sign_out(signed.actor)
    assert identity.signin.from_token(token) == Ended("signed out")
    assert ("signout", "ana", "user:ana") in audit_actions(engine)


@pytest.mark.parametrize("change, reason", [
    (lambda users, admin: users.disable(admin, "ana"), "disabled"),
    (lambda users, admin: users.set_role(admin, "ana", "qa"), "role changed"),
    (lambda users, admin: users.reset_password(admin, "ana", "another fine passphrase"), "password reset"),
])
def test_admin_changes_end_every_session_of_that_person_at_once(identity, admin, ana, change, reason):
    first = identity.signin.authenticate("ana", PASSWORD)
    second = identity.signin.authenticate("ana", PASSWORD)
    change(identity.users, admin)
    assert identity.signin.resume(first.session_id) == Ended(reason)
    assert identity.signin.resume(second.session_id) == Ended(reason)
