"""The operators' command line for accounts, for people and for scripts.

    python -m chatbot users add ana --role agent --password-stdin < password.txt
    python -m chatbot users list [--json]
    python -m chatbot users set-role ana qa
    python -m chatbot users disable ana          (enable ana)
    python -m chatbot users reset-password ana --password-stdin

Passwords are read from standard input only (never an argument, which `ps` and shell
history would show); from a terminal they are asked for twice, not echoed. It works on
the database the app uses (CHATBOT_DATABASE_URL or CHATBOT_DATA_DIR, environment or .env)
and acts as an admin, recorded in the audit log as `cli:<login name>`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from chatbot.errors import ChatbotError, InputError

from .accounts import LastAdmin, NoSuchUser, UserExists, UserService, UserView
from .roles import ASSIGNABLE, Actor, Role

# Exit codes a script can rely on.
OK, REFUSED, USAGE, NO_SUCH_USER, CONFLICT = 0, 1, 2, 3, 4

EPILOG = """exit codes: 0 done; 1 refused (the message says why: a weak password, a bad name);
2 bad usage; 3 no such user; 4 conflict (the name is taken, or it would remove the last
active admin)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatbot", description="Support assistant: operator commands.",
                                     epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True)
    users = commands.add_parser("users", help="manage accounts", epilog=EPILOG)
    sub = users.add_subparsers(dest="action", required=True)
    roles = [r.value for r in ASSIGNABLE]

    add = sub.add_parser("add", help="add an account", epilog=EPILOG)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input (asked twice on a terminal)")
    add.add_argument("--display-name")
    add.add_argument("--email")

    listing = sub.add_parser("list", help="list accounts", epilog=EPILOG)
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")

    role = sub.add_parser("set-role", help="change an account's role (ends its sessions)", epilog=EPILOG)
    role.add_argument("username")
    role.add_argument("role", choices=[*roles, Role.NONE.value])

    for name, text in (("disable", "disable an account (ends its sessions)"), ("enable", "enable an account")):
        one = sub.add_parser(name, help=text, epilog=EPILOG)
        one.add_argument("username")

    reset = sub.add_parser("reset-password", help="set a new password (ends its sessions)", epilog=EPILOG)
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", required=True,
                       help="read the password from standard input (asked twice on a terminal)")
    return parser


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InputError("The two passwords differ; nothing was changed.")
        return first
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def _line(user: UserView) -> str:
    seen = f"{user.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if user.last_sign_in_at else "never"
    status = "active" if user.active else "disabled"
    return f"{user.username:<24} {user.role.value:<6} {status:<8} {user.source:<11} {seen:<20} {user.display_name}"


def _json(user: UserView) -> dict[str, object]:
    return {
        "username": user.username, "display_name": user.display_name, "email": user.email,
        "role": user.role.value, "active": user.active, "source": user.source,
        "created_at": user.created_at.isoformat(),
        "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
    }


def run(users: UserService, actor: Actor, args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    action = args.action
    if action == "list":
        found = users.list(actor)
        if args.json:
            out.write(json.dumps([_json(u) for u in found], indent=2) + "\n")
        else:
            out.write(f"{'USERNAME':<24} {'ROLE':<6} {'STATUS':<8} {'SOURCE':<11} {'LAST SIGN-IN':<20} NAME\n")
            out.writelines(_line(u) + "\n" for u in found)
        return OK
    if action == "add":
        user = users.add(actor, args.username, role=args.role, password=read_password(stdin),
                         display_name=args.display_name, email=args.email)
        out.write(f"added {user.username} ({user.role.value})\n")
    elif action == "set-role":
        user = users.set_role(actor, args.username, args.role)
        out.write(f"{user.username} is now {user.role.value}\n")
    elif action in ("disable", "enable"):
        user = users.set_active(actor, args.username, action == "enable")
        out.write(f"{user.username} is {'active' if user.active else 'disabled'}\n")
    elif action == "reset-password":
        user = users.reset_password(actor, args.username, read_password(stdin))
        out.write(f"password of {user.username} reset; their sessions ended\n")
    return OK


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage (2) or help (0)
        return int(exit_.code or 0)
    try:
        users = _open_users()
    except ValueError as exc:  # a bad setting names itself
        err.write(f"error: {exc}\n")
        return REFUSED
    try:
        return run(users, Actor.operator(getpass.getuser()), args, stdin, out)
    except NoSuchUser as exc:
        err.write(f"error: {exc.user_message}\n")
        return NO_SUCH_USER
    except (UserExists, LastAdmin) as exc:
        err.write(f"error: {exc.user_message}\n")
        return CONFLICT
    except ChatbotError as exc:
        err.write(f"error: {exc.user_message}\n")
        return REFUSED
    finally:
        users.engine.dispose()


def _open_users() -> UserService:
    """The accounts service on the app's database (migrated, as the app would at start)."""
    from chatbot import store
    from chatbot.config import load_app_settings

    from .identity import build_identity
    from .settings import load_auth_settings

    engine = store.make_engine(load_app_settings().database_url)
    store.migrate(engine)
    return build_identity(engine, load_auth_settings()).users
