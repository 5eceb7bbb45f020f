"""Password hashes: argon2id with RFC 9106's parameters, upgraded when they age."""

import re

from argon2 import PasswordHasher

from chatbot.auth.passwords import check_password, hash_password, password_problem

PASSWORD = "correct horse battery staple"


def test_the_hash_is_argon2id_with_memory_hard_parameters_and_a_salt():
    stored = hash_password(PASSWORD)
    assert re.fullmatch(r"\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", stored)
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored  # a new salt every time


def test_check_accepts_the_password_and_nothing_else():
    stored = hash_password(PASSWORD)
    assert check_password(stored, PASSWORD) == (True, False)
    assert check_password(stored, PASSWORD.upper()) == (False, False)
    assert check_password(stored, "") == (False, False)
    assert check_password(None, PASSWORD) == (False, False)
    assert check_password("not a hash", PASSWORD) == (False, False)


def test_a_password_typed_composed_or_decomposed_is_the_same():
    stored = hash_password("crème brûlée for two")
    assert check_password(stored, "cre\u0300me bru\u0302le\u0301e for two")[0]


def test_a_hash_with_older_parameters_still_checks_and_asks_to_be_upgraded():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert check_password(weak, PASSWORD) == (True, True)


def test_new_passwords_need_length_variety_and_not_the_username():
    assert "at least 12" in password_problem("short")
    assert "distinct" in password_problem("aaaaaaaaaaaaaaaa")
    assert "username" in password_problem("ana-is-the-best-agent", username="ana")
    assert password_problem(PASSWORD, username="ana") is None
