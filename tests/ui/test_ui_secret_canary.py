"""Passwords, session tokens and one-time codes reach nothing but their one place: not the
database in clear, logs at DEBUG, session state, the page, exceptions or reprs.

Unique canary values are used for a password, and the token and codes the app itself
makes are captured and searched for the same way, so any copy of them is a leak."""

from __future__ import annotations

import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from chatbot.auth import Actor, Role
from chatbot.auth.signin import SignInRefused
from chatbot.ui.resources import get_runtime
from ui_helpers import sign_in
from test_ui_key_canary import error_texts, everything_logged  # noqa: F401  (a fixture)
from test_ui_signin import anonymous
from ui_helpers import walk

PASSWORD = f"canary-password-{uuid.uuid4()}"
WRONG = f"canary-wrong-{uuid.uuid4()}"
SETUP_PASSWORD = f"canary-setup-{uuid.uuid4()}"


def page_texts(at: AppTest) -> list[str]:
    return [str(at)] + [repr(n) + (str(n.proto) if getattr(n, "proto", None) is not None else "")
                        for n in walk(at._tree)]


def stored_bytes(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data.iterdir()) if p.is_file())


def test_passwords_tokens_and_codes_are_never_kept_or_shown(app_env, everything_logged):  # noqa: F811
    runtime = get_runtime()
    everything_logged.debug_everything()
    identity = runtime.identity
    setup_code = identity.first_admin.issue()
    secrets = [PASSWORD, WRONG, SETUP_PASSWORD, setup_code]

    # The first admin through the setup form, then an agent with a canary password.
    at = anonymous({"setup": setup_code})
    for key, value in (("setup-username", "root"), ("setup-password", SETUP_PASSWORD),
                       ("setup-confirm", SETUP_PASSWORD)):
        at.text_input(key=key).input(value)
    next(b for b in at.button if b.label == "Create admin account").click().run()
    identity.users.add(Actor("root", Role.ADMIN), "zed", role="agent", password=PASSWORD)

    pages = []
    wrong = sign_in(anonymous(), "zed", WRONG)
    pages += page_texts(wrong)
    zed = sign_in(anonymous(), "zed", PASSWORD)
    assert zed.chat_input  # signed in
    pages += page_texts(zed)

    # A sign-in in a browser: the handoff code, then the cookie's token.
    signed = identity.signin.authenticate("zed", PASSWORD, address="10.0.0.7")
    token, _ = identity.signin.redeem(signed.handoff, address="10.0.0.7")
    secrets += [signed.handoff, token]
    errors = []
    try:
        identity.signin.authenticate("zed", WRONG, address="10.0.0.7")
    except SignInRefused as refused:
        errors.append(refused)

    dumps = [repr(dict(s.items())) for s in (wrong.session_state, zed.session_state)]
    dumps += [repr(signed), repr(signed.actor), repr(identity.users.list(Actor("root", Role.ADMIN)))]
    stored = stored_bytes(app_env / "data")
    for secret in secrets:
        assert secret.encode() not in stored, "a secret is in the database files"
        assert not [line for line in everything_logged.lines if secret in line], "a secret was logged"
        assert not [text for text in pages if secret in text], "a secret is on the page"
        assert not [text for text in dumps if secret in text], "a secret is in session state or a repr"
        assert not [t for e in errors for t in error_texts(e) if secret in t], "a secret is in an exception"
    assert any("signin.success" in line or "Sign" in line for line in pages)  # the walk saw the pages


def test_the_scan_would_find_a_planted_secret(app_env):
    # The checks above can fail: the same scans flag a planted copy.
    runtime = get_runtime()
    runtime.identity.audit.record(Actor.system(), "setting.change", detail=PASSWORD)
    assert PASSWORD.encode() in stored_bytes(app_env / "data")
