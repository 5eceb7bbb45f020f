"""Accounts: add, roles, disable, passwords, reassign; admins only, always one admin left,
every change audited."""

import pytest
from sqlalchemy import text

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.accounts import LastAdmin, NoSuchUser, UserExists
from chatbot.errors import InputError
from auth_helpers import PASSWORD, audit_actions

pytestmark = pytest.mark.also_postgresql


def test_usernames_are_unique_whatever_their_case(identity, admin):
    identity.users.add(admin, "Ana.Ruiz", role="agent", password=PASSWORD, display_name="Ana Ruiz")
    with pytest.raises(UserExists):
        identity.users.add(admin, "ANA.RUIZ", role="qa", password=PASSWORD)
    [ana] = [u for u in identity.users.list(admin) if u.username == "ana.ruiz"]
    assert (ana.display_name, ana.role, ana.active, ana.last_sign_in_at) == ("Ana Ruiz", Role.AGENT, True, None)
    assert not hasattr(ana, "password_hash")


@pytest.mark.parametrize("name", ["", " ", "a b", "x" * 65, "<script>", "ana:root", "system", "before-sign-in"])
def test_bad_or_reserved_usernames_are_refused(identity, admin, name):
    with pytest.raises(InputError):
        identity.users.add(admin, name, role="agent", password=PASSWORD)


def test_the_password_is_stored_only_as_an_argon2id_hash(identity, admin, engine):
    identity.users.add(admin, "bob", role="agent", password=PASSWORD)
    with engine.connect() as connection:
        (stored,) = connection.execute(text("SELECT password_hash FROM app_user WHERE username='bob'")).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize("role", ["agent", "qa"])
def test_only_admins_manage_people(identity, admin, role):
    identity.users.add(admin, "someone", role=role, password=PASSWORD)
    actor = Actor("someone", Role(role))
    for call in (
        lambda: identity.users.list(actor),
        lambda: identity.users.add(actor, "eve", role="admin", password=PASSWORD),
        lambda: identity.users.set_role(actor, "someone", "admin"),
        lambda: identity.users.reset_password(actor, "root-admin", PASSWORD + "!"),
        lambda: identity.users.disable(actor, "root-admin"),
    ):
        with pytest.raises(AccessDenied):
            call()
    assert identity.users.get(admin, "someone").role == Role(role)
    assert ("access.denied", "someone", "") in audit_actions(identity.users.engine)


def test_the_last_active_admin_cannot_be_demoted_or_disabled(identity, admin):
    identity.users.add(admin, "second", role="admin", password=PASSWORD)
    with pytest.raises(InputError, match="your own"):
        identity.users.disable(admin, "root-admin")
    identity.users.disable(admin, "second")  # a disabled admin does not count
    with pytest.raises(LastAdmin):
        identity.users.set_role(Actor("second", Role.ADMIN), "root-admin", "qa")
    identity.users.enable(admin, "second")
    identity.users.set_role(admin, "second", "agent")
    with pytest.raises(LastAdmin):
        identity.users.set_role(admin, "root-admin", "agent")
    assert identity.users.get(admin, "root-admin").role == Role.ADMIN


def test_changes_are_audited_with_their_author_and_a_before_after(identity, admin, engine):
    identity.users.add(admin, "carl", role="agent", password=PASSWORD)
    identity.users.set_role(admin, "carl", "qa")
    identity.users.disable(admin, "carl")
    identity.users.enable(admin, "carl")
    identity.users.reset_password(admin, "carl", "a brand new passphrase")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT action, actor, address, target, detail FROM audit_entry WHERE target='user:carl' ORDER BY id"
        )).all()
    assert [tuple(r) for r in rows] == [
        ("user.create", "root-admin", "10.0.0.1", "user:carl", "role agent, password"),
        ("user.role", "root-admin", "10.0.0.1", "user:carl", "agent -> qa"),
        ("user.disable", "root-admin", "10.0.0.1", "user:carl", ""),
        ("user.enable", "root-admin", "10.0.0.1", "user:carl", ""),
        ("user.password", "root-admin", "10.0.0.1", "user:carl", ""),
    ]
    assert "a brand new passphrase" not in str(rows)


def test_unknown_people_are_named_in_the_error(identity, admin):
    with pytest.raises(NoSuchUser, match="'nobody'"):
        identity.users.set_role(admin, "Nobody", "qa")


def test_conversations_can_be_handed_to_someone_else(identity, admin, engine):
    identity.users.add(admin, "leaver", role="agent", password=PASSWORD)
    identity.users.add(admin, "stayer", role="agent", password=PASSWORD)
    with store.write_session(engine) as session:
        for owner in ("leaver", "leaver", "stayer"):
            store.create_conversation(session=session, persona="support", owner=owner)
    assert identity.users.reassign(admin, "leaver", "stayer") == 2
    with engine.connect() as connection:
        owners = connection.execute(text("SELECT owner FROM conversation")).scalars().all()
    assert owners == ["stayer"] * 3
    assert ("user.reassign", "root-admin", "user:leaver") in audit_actions(engine)
