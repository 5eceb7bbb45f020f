"""Admin → Users and Admin → Audit log, driven through their widgets as an admin does."""

from __future__ import annotations


from streamlit.testing.v1 import AppTest

from ui_helpers import PASSWORD, sign_in
from test_ui_signin import anonymous

USERS, AUDIT = "../../pages/users.py", "../../pages/audit.py"


def users_page(new_app) -> AppTest:
    at = new_app(user="admin").switch_page(USERS).run()
    assert not at.exception, at.exception
    return at


def add(at: AppTest, username: str, role: str, password: str = PASSWORD, confirm: str | None = None) -> AppTest:
    at.text_input(key="add-username").input(username)
    at.text_input(key="add-display").input(username.title())
    at.selectbox(key="add-role").set_value(role)
    at.text_input(key="add-password").input(password)
    at.text_input(key="add-confirm").input(password if confirm is None else confirm)
    next(b for b in at.button if b.label == "Add").click().run()
    assert not at.exception, at.exception
    return at


def test_an_admin_adds_people_who_can_then_sign_in_with_their_role(new_app, db):
    at = add(users_page(new_app), "Bea", "qa")
    assert any("bea added as QA" in s.value for s in at.success)
    assert at.text_input(key="add-username").value == "" and at.text_input(key="add-password").value == ""
    table = at.dataframe[0].value
    assert list(table["Username"]) == ["admin", "bea"] and list(table["Role"]) == ["Admin", "QA"]
    bea = sign_in(anonymous(), "BEA")  # usernames are not case-sensitive
    assert bea.title[0].value == "Conversations"
    (stored,) = db("SELECT password_hash FROM app_user WHERE username = 'bea'")[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_weak_password_or_a_taken_name_is_refused_with_the_reason(new_app, db):
    at = add(users_page(new_app), "carl", "agent", password="short")
    assert any("at least 12 characters" in e.value for e in at.error)
    at = add(at, "admin", "agent")
    assert any("already an account named 'admin'" in e.value for e in at.error)
    assert db("SELECT username FROM app_user ORDER BY username") == [("admin",)]


def test_role_change_disable_and_password_reset_from_the_person_panel(new_app, db):
    at = add(users_page(new_app), "dora", "agent")
    at.selectbox(key="users-chosen").set_value("dora").run()
    at.selectbox(key="role-dora").set_value("qa").run()
    at.button(key="set-role-dora").click().run()
    assert any("dora is now QA" in s.value for s in at.success)
    at.button(key="disable-dora").click().run()
    assert db("SELECT role, active FROM app_user WHERE username='dora'") == [("qa", False)]
    refused = sign_in(anonymous(), "dora")
    assert [e.value for e in refused.error] == ["Your account has been disabled. Ask an admin."]
    at.button(key="enable-dora").click().run()
    at.text_input(key="reset-pw-dora").input("a completely new passphrase")
    at.text_input(key="reset-pw2-dora").input("a completely new passphrase")
    next(b for b in at.button if b.label == "Set password").click().run()
    assert any("New password set for dora" in s.value for s in at.success)
    assert sign_in(anonymous(), "dora", "a completely new passphrase").title[0].value == "Conversations"


def test_the_last_admin_cannot_be_demoted_and_cannot_disable_themselves(new_app, db):
    at = users_page(new_app)
    at.selectbox(key="users-chosen").set_value("admin").run()
    assert at.button(key="disable-admin").disabled
    at.selectbox(key="role-admin").set_value("agent").run()
    at.button(key="set-role-admin").click().run()
    assert any("last active admin" in e.value for e in at.error)
    assert db("SELECT role FROM app_user WHERE username='admin'") == [("admin",)]


def test_the_audit_log_lists_who_did_what_filters_it_and_downloads_csv(new_app):
    at = add(users_page(new_app), "erin", "agent")
    sign_in(anonymous(), "erin", "wrong wrong wrong")
    at.switch_page(AUDIT).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    rows = list(zip(table["Who"], table["Action"], table["About"], strict=True))
    assert ("(not signed in)", "Sign-in failed", "user:erin") in rows
    assert ("admin", "Person added", "user:erin") in rows
    assert ("admin", "Signed in", "user:admin") in rows
    at.selectbox(key="audit-action").set_value("user.create").run()
    assert set(at.dataframe[0].value["Action"]) == {"Person added"}
    at.selectbox(key="audit-person").set_value("admin").run()
    assert list(at.dataframe[0].value["About"]) == ["user:erin"]
    assert not any(b.label == "Edit" or b.label == "Delete" for b in at.button)  # read only
    data = at.get("download_button")[0].proto
    assert data.label == "Download CSV"


def test_people_who_are_not_admins_get_no_access_to_users_or_audit(new_app):
    for user in ("agent", "qa"):
        at = new_app(user=user)
        for page in (USERS, AUDIT):
            try:
                at.switch_page(page)
            except ValueError:
                continue  # not even registered as a page for this role
            raise AssertionError(f"{user} could open {page}")
