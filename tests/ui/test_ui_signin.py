"""The sign-in gate under AppTest: an anonymous session gets the form and nothing else;
wrong guesses share one message and are throttled; the first admin comes from the setup
link; each role's navigation; sign-out and an admin's changes end a session at once."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.ui.resources import get_runtime
from ui_helpers import APP, PASSWORD, sign_in
from ui_helpers import send, walk

NAV_PAGES = {
    "agent": ["../../pages/chat.py"],
    "qa": ["../../pages/qa_conversations.py", "../../pages/qa_replays.py", "../../pages/qa_checks.py"],
    "admin": ["../../pages/chat.py", "../../pages/qa_conversations.py", "../../pages/qa_replays.py", "../../pages/qa_checks.py",
              "../../pages/personas.py", "../../pages/usage.py", "../../pages/users.py", "../../pages/audit.py"],
}
ALL_PAGES = NAV_PAGES["admin"]


def anonymous(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(getattr(node, "value", "")) for node in walk(at._tree))


def test_an_anonymous_browser_sees_only_the_sign_in_form(app_env, account):
    account("agent")
    at = anonymous()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.chat_input and not at.sidebar.children and not at.dataframe
    assert "Customer support assistant" not in texts(at)  # no persona, conversation or data


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(app_env, account):
    account("agent")
    wrong = sign_in(anonymous(), "agent", "not the password at all")
    unknown = sign_in(anonymous(), "nobody-here", PASSWORD)
    assert [e.value for e in wrong.error] == [e.value for e in unknown.error] == ["Wrong username or password."]
    assert wrong.text_input(key="signin-password").value == ""  # the password is not kept
    assert not wrong.chat_input


def test_repeated_failures_are_throttled_with_the_wait(app_env, account):
    account("agent")
    at = anonymous()
    for _ in range(5):
        sign_in(at, "agent", "guessing guessing")
    sign_in(at, "agent", PASSWORD)  # even the right password waits now
    assert [e.value for e in at.error] == ["Too many failed sign-ins. Try again in 15 minutes."]
    assert not at.chat_input


@pytest.mark.parametrize("role", ["agent", "qa", "admin"])
def test_each_role_lists_only_its_pages(new_app, role):
    at = new_app(user=role)
    for page in ALL_PAGES:
        if page in NAV_PAGES[role]:
            at.switch_page(page).run()
            assert not at.exception and not any("no access" in e.value for e in at.error), page
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(page)


def test_qa_starts_on_the_conversations_page_and_has_no_chat(new_app):
    at = new_app(user="qa")
    assert at.title[0].value == "Conversations"
    assert not at.chat_input


def test_sign_out_ends_the_session_and_shows_the_form_again(new_app, db):
    at = new_app(user="agent")
    at.button(key="sign-out").click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert any("You signed out" in i.value for i in at.info)
    assert db("SELECT end_reason FROM auth_session") == [("signed out",)]


def test_disabling_someone_signs_them_out_on_their_next_click(new_app, db):
    at = new_app(user="agent")
    send(at, "Where is order 1042?")
    admin = new_app(user="admin").switch_page("../../pages/users.py").run()
    admin.selectbox(key="users-chosen").set_value("agent").run()
    admin.button(key="disable-agent").click().run()
    assert any("agent is disabled" in s.value for s in admin.success)
    at.run()  # the agent's next click
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert any("disabled" in i.value for i in at.info)
    assert not at.chat_input
    assert db("SELECT end_reason FROM auth_session WHERE user_id = (SELECT id FROM app_user WHERE username='agent')") == [
        ("disabled",)]


def test_the_setup_link_makes_the_first_admin_once(app_env, db):
    code = get_runtime().identity.first_admin.issue()
    at = anonymous({"setup": code})
    assert at.subheader[0].value == "Create the first admin account"
    at.text_input(key="setup-username").input("Ana")
    at.text_input(key="setup-display-name").input("Ana Ruiz")
    at.text_input(key="setup-password").input(PASSWORD)
    at.text_input(key="setup-confirm").input(PASSWORD)
    next(b for b in at.button if b.label == "Create admin account").click().run()
    assert not at.exception
    assert db("SELECT username, role, display_name FROM app_user") == [("ana", "admin", "Ana Ruiz")]
    assert "setup" not in at.query_params
    at.switch_page("../../pages/users.py").run()  # signed in as the new admin
    assert at.title[0].value == "Users"
    # The link is spent: another browser gets the sign-in form and a notice.
    again = anonymous({"setup": code})
    assert any("no longer valid" in w.value for w in again.warning)
    assert [t.label for t in again.text_input] == ["Username", "Password"]


def test_without_an_admin_the_sign_in_page_says_how_to_make_one(app_env):
    get_runtime()
    at = anonymous()
    (notice,) = [i.value for i in at.info if "no admin yet" in i.value]
    assert "setup link" in notice and "./dev.sh users add NAME --role admin --password-stdin" in notice
