"""Checks: every kind passing and failing, bad settings, hostile patterns, the check
library (real SQLite), and the rubric judge against the loopback sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from actors import QA

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.errors import InputError, NotFoundError
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.llm.errors import ServerError
from chatbot.services.checks import (
    MAX_REGEX_TEXT_CHARS,
    CheckConfigError,
    RubricVerdict,
    evaluate,
    json_payload,
    validate_config,
)
from chatbot.services.checks_service import ChecksService
from chatbot.services.judge import JudgeService
from chatbot.store.checks import DuplicateCheckName


@dataclass
class Check:
    kind: str
    config: dict[str, Any]


def run(kind: str, config: dict[str, Any], text: str, **kw: Any):
    return evaluate(Check(kind, config), text, **kw)


# -- contains / not_contains -------------------------------------------------------------


def test_contains_is_case_insensitive_unless_asked():
    assert run("contains", {"text": "Order Number"}, "Please send your order number.").passed is True
    assert run("contains", {"text": "Order Number", "case_sensitive": True}, "your order number").passed is False
    passed, detail = run("contains", {"text": "refund"}, "We can help.")
    assert passed is False and "refund" in detail


def test_contains_matches_composed_and_decomposed_accents_alike():
    assert run("contains", {"text": "café"}, "Visit our CAFE\u0301 today").passed is True


def test_not_contains_passes_only_without_the_text():
    assert run("not_contains", {"text": "guarantee"}, "We cannot promise a date.").passed is True
    assert run("not_contains", {"text": "guarantee"}, "I GUARANTEE it ships today.").passed is False


# -- regex ---------------------------------------------------------------------------------


def test_regex_must_match_and_must_not_match():
    pattern = {"pattern": r"#\d{4,}"}
    assert run("regex", pattern, "Your order #10423 shipped.").passed is True
    passed, detail = run("regex", pattern, "Your order shipped.")
    assert passed is False and "No match" in detail
    forbid = {"pattern": r"\bsorry\b", "must": "not_match", "ignore_case": True}
    assert run("regex", forbid, "Happy to help!").passed is True
    passed, detail = run("regex", forbid, "SORRY about that")
    assert passed is False and "SORRY" in detail


def test_an_invalid_pattern_is_refused_with_the_reason():
    with pytest.raises(CheckConfigError, match=r"not a valid regular expression: .*position"):
        validate_config("regex", {"pattern": "order (#"})


@pytest.mark.parametrize(
    "pattern, reason",
    [
        (r"(a+)+$", "repeats a group that itself repeats"),
        (r"^(\w+\s?)*$", "repeats a group that itself repeats"),
        (r"(x*)*y", "repeats a group that itself repeats"),
        (r"^(ab|a)+$", "repeats an alternation"),
        (r"\w+.*\d+.*\w+.*x", "open-ended repeats"),
        ("a" * 301, "the limit is 300"),
    ],
)
def test_catastrophic_patterns_are_refused(pattern, reason):
    with pytest.raises(CheckConfigError, match=reason):
        validate_config("regex", {"pattern": pattern})


def test_the_suggested_atomic_fix_is_accepted_and_fast_on_hostile_text():
    config = validate_config("regex", {"pattern": r"^(?>ab|a)+$"})
    hostile = "ab" * 5000 + "!"  # fatal for (ab|a)+$ with backtracking
    started = time.perf_counter()
    assert run("regex", config, hostile).passed is False
    assert time.perf_counter() - started < 1.0


def test_only_the_first_part_of_a_huge_reply_is_searched():
    text = "x" * MAX_REGEX_TEXT_CHARS + " order 1234"
    passed, detail = run("regex", {"pattern": r"order \d+"}, text)
    assert passed is False and "only the first" in detail


# -- max_length ----------------------------------------------------------------------------


def test_max_length_in_characters_and_words():
    assert run("max_length", {"max": 10}, "short").passed is True
    passed, detail = run("max_length", {"max": 10}, "this is far too long")
    assert passed is False and "20 characters (limit 10)" in detail
    assert run("max_length", {"max": 3, "unit": "words"}, "one two  three").passed is True
    assert run("max_length", {"max": 3, "unit": "words"}, "one two three four").passed is False


@pytest.mark.parametrize("config", [{"max": 0}, {"max": True}, {"max": "10"}, {"max": 5, "unit": "lines"}])
def test_max_length_settings_are_checked(config):
    with pytest.raises(CheckConfigError):
        validate_config("max_length", config)


# -- json_schema ---------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["status", "items"],
    "properties": {"status": {"enum": ["open", "closed"]}, "items": {"type": "array", "items": {"type": "integer"}}},
}


def test_json_reply_matching_the_schema_passes_bare_or_fenced():
    assert run("json_schema", {"schema": SCHEMA}, '{"status": "open", "items": [1, 2]}').passed is True
    fenced = 'Here it is:\n```json\n{"status": "closed", "items": []}\n```\nAnything else?'
    assert run("json_schema", {"schema": SCHEMA}, fenced).passed is True
    assert json_payload(fenced) == '{"status": "closed", "items": []}'


def test_json_reply_failing_the_schema_names_the_place():
    passed, detail = run("json_schema", {"schema": SCHEMA}, '{"status": "open", "items": [1, "two"]}')
    assert passed is False and "$.items[1]" in detail and "'two' is not of type 'integer'" in detail


def test_a_reply_that_is_not_json_fails():
    passed, detail = run("json_schema", {"schema": SCHEMA}, "Sure, the status is open.")
    assert passed is False and detail.startswith("Not JSON")


@pytest.mark.parametrize("schema", [{"type": "nope"}, {"required": "status"}, ["not", "an", "object"]])
def test_an_invalid_schema_is_refused(schema):
    with pytest.raises(CheckConfigError, match="schema"):
        validate_config("json_schema", {"schema": schema})


def test_schemas_may_only_refer_inside_themselves():
    with pytest.raises(CheckConfigError, match="not fetched"):
        validate_config("json_schema", {"schema": {"$ref": "https://example.com/order.json"}})
    local = {"$defs": {"id": {"type": "integer"}}, "properties": {"id": {"$ref": "#/$defs/id"}}}
    assert run("json_schema", {"schema": local}, '{"id": "x"}').passed is False
    dangling = {"properties": {"id": {"$ref": "#/$defs/missing"}}}
    passed, detail = run("json_schema", {"schema": dangling}, '{"id": 1}')
    assert passed is None and detail.startswith("Not graded")


# -- rubric --------------------------------------------------------------------------------


def judge_saying(passed: bool, score: int, seen: list | None = None):
    def judge(rubric: str, reply: str, question: str | None) -> RubricVerdict:
        if seen is not None:
            seen.append((rubric, reply, question))
        return RubricVerdict(passed=passed, score=score, reason="Because.")

    return judge


def test_rubric_uses_the_judges_verdict_and_passes_it_the_question():
    seen: list = []
    config = {"rubric": "Asks for the order number."}
    passed, detail = run("rubric", config, "Which order?", judge=judge_saying(True, 4, seen), question="Where is it?")
    assert passed is True and detail == "Score 4/5: Because."
    assert seen == [("Asks for the order number.", "Which order?", "Where is it?")]
    assert run("rubric", config, "No.", judge=judge_saying(False, 1)).passed is False


def test_rubric_min_score_decides_when_set():
    config = {"rubric": "Polite.", "min_score": 4}
    assert run("rubric", config, "Hi", judge=judge_saying(True, 3)).passed is False
    assert run("rubric", config, "Hi", judge=judge_saying(False, 5)).passed is True


def test_rubric_without_a_judge_or_with_a_failing_one_is_not_graded():
    config = {"rubric": "Polite."}
    assert run("rubric", config, "Hi").passed is None

    def broken(*_: Any) -> RubricVerdict:
        raise ServerError("overloaded", status=500)

    passed, detail = run("rubric", config, "Hi", judge=broken)
    assert passed is None and detail.startswith("Not graded")


def test_rubric_settings_are_checked():
    with pytest.raises(CheckConfigError, match="min_score"):
        validate_config("rubric", {"rubric": "x", "min_score": 6})
    with pytest.raises(CheckConfigError, match="'rubric'"):
        validate_config("rubric", {"rubric": "  "})


# -- settings in general -------------------------------------------------------------------


def test_unknown_kinds_and_fields_are_refused():
    with pytest.raises(CheckConfigError, match="Unknown check kind"):
        validate_config("sentiment", {})
    with pytest.raises(CheckConfigError, match="no setting 'txt'"):
        validate_config("contains", {"txt": "x"})
    with pytest.raises(CheckConfigError, match="must be an object"):
        validate_config("contains", "refund")  # type: ignore[arg-type]


def test_a_stored_check_with_broken_settings_is_not_graded_rather_than_failed():
    passed, detail = run("regex", {"pattern": "(a+)+"}, "aaaa")
    assert passed is None and "invalid" in detail


# -- the check library ---------------------------------------------------------------------


def test_checks_are_created_listed_updated_and_archived(engine):
    checks = ChecksService(engine)
    first = checks.create(QA, name="  Asks for  order ", kind="contains", config={"text": "order"})
    assert (first.name, first.config) == ("Asks for order", {"text": "order", "case_sensitive": False})
    second = checks.create(QA, name="Short", kind="max_length", config={"max": 500}, description="Brief")
    assert [c.name for c in checks.list(QA)] == ["Asks for order", "Short"]
    renamed = checks.update(QA, second.id, name="Brief replies", config={"max": 400, "unit": "words"})
    assert (renamed.name, renamed.config) == ("Brief replies", {"max": 400, "unit": "words"})
    checks.archive(QA, first.id)
    assert [c.name for c in checks.list(QA)] == ["Brief replies"]
    assert len(checks.list(QA, include_archived=True)) == 2
    assert checks.get(QA, first.id).archived is True


def test_check_names_are_unique_whatever_the_case(engine):
    checks = ChecksService(engine)
    checks.create(QA, name="No promises", kind="not_contains", config={"text": "promise"})
    with pytest.raises(DuplicateCheckName, match="already exists"):
        checks.create(QA, name="no PROMISES", kind="contains", config={"text": "x"})
    other = checks.create(QA, name="Other", kind="contains", config={"text": "x"})
    with pytest.raises(DuplicateCheckName):
        checks.update(QA, other.id, name="No promises")


def test_bad_settings_store_nothing(engine):
    checks = ChecksService(engine)
    with pytest.raises(CheckConfigError):
        checks.create(QA, name="Bad", kind="regex", config={"pattern": "(a+)+"})
    with pytest.raises(InputError, match="name"):
        checks.create(QA, name=" ", kind="contains", config={"text": "x"})
    assert checks.list(QA, include_archived=True) == []
    with pytest.raises(NotFoundError):
        checks.get(QA, 99)


def test_settings_are_frozen_once_a_check_has_graded_a_reply(engine):
    checks = ChecksService(engine)
    check = checks.create(QA, name="Mentions refund", kind="contains", config={"text": "refund"})
    with store.write_session(engine) as session:
        conversation = store.create_conversation(session=session, persona="support")
        (message,) = store.add_messages(
            session=session, conversation_id=conversation.id,
            messages=[{"role": "assistant", "content": "Hi"}],
        )
        run = store.ReplayRun(status="done", conversation_ids=[], check_ids=[check.id], created_by="qa")
        session.add(run)
        session.flush()
        result = store.ReplayResult(run_id=run.id, conversation_id=conversation.id,
                                    source_message_id=message.id, position=0, status="complete")
        session.add(result)
        session.flush()
        session.add(store.CheckResult(result_id=result.id, check_id=check.id, passed=True))
    with pytest.raises(InputError, match="already graded"):
        checks.update(QA, check.id, config={"text": "money back"})
    assert checks.update(QA, check.id, name="Mentions a refund", description="Why").name == "Mentions a refund"
    assert checks.get(QA, check.id).config["text"] == "refund"


# -- the judge, for real -----------------------------------------------------------------


def test_the_judge_returns_a_verdict_and_records_its_call(engine, sandbox):
    client = LLMClient(ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1))
    try:
        judge = JudgeService(engine=engine, client=client, model="claude-haiku-5-5")
        grade = judge.for_turn(owner="qa", conversation_id=None)
        verdict = grade("Asks for the order number.", "Which order number is it?", "Where is my parcel?")
        assert isinstance(verdict, RubricVerdict) and 1 <= verdict.score <= 5
        body = sandbox.state.requests()[-1]["body"]
        assert body["model"] == "claude-haiku-5-5" and body["tool_choice"]["name"] == "record_verdict"
        assert "<rubric>\nAsks for the order number.\n</rubric>" in body["messages"][0]["content"]
        with store.read_session(engine) as session:
            (call,) = store.list_api_calls(session=session)
        assert (call.purpose, call.owner, call.outcome) == ("judge", "qa", "ok")
        assert call.cost_usd is not None and grade.cost_usd == pytest.approx(call.cost_usd)
    finally:
        client.close()


def test_try_it_grades_a_rubric_with_the_judge_on_the_users_account_within_budget(engine, sandbox):
    from actors import ADMIN
    from chatbot.services.budgets import BudgetExceeded, BudgetService
    from test_services_budgets import add_accounts

    client = LLMClient(ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1))
    try:
        budgets = BudgetService(engine)
        checks = ChecksService(
            engine, judge=JudgeService(engine=engine, client=client, model="claude-haiku-5-5"), budgets=budgets
        )
        quinn = Actor("quinn", Role.QA)
        rubric = checks.create(QA, name="Asks", kind="rubric", config={"rubric": "Asks for the order number."})
        outcome = checks.try_check(quinn, rubric, "Which order number is it?", question="Where is it?")
        assert outcome.passed is not None  # graded, not "no judge"
        with store.read_session(engine) as session:
            (call,) = store.list_api_calls(session=session)
        assert (call.purpose, call.owner) == ("judge", "quinn")

        add_accounts(engine, "quinn", role="qa")
        budgets.set_budget(ADMIN, user="quinn", period="day", limit_usd=0.00001)  # below one call
        budgets.after_call("quinn")
        with pytest.raises(BudgetExceeded):
            checks.try_check(quinn, rubric, "Which order number is it?")
        contains = checks.create(QA, name="Says sorry", kind="contains", config={"text": "sorry"})
        assert checks.try_check(quinn, contains, "So sorry!").passed  # no call: no budget needed
        assert len(sandbox.state.requests()) == 1
    finally:
        client.close()
