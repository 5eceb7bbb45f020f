"""Ticket summaries against a real SQLite file and the loopback sandbox; the key paths run
on PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import dataclasses

import pytest
from actors import ADMIN, AGENT

from chatbot import pricing, store
from chatbot.config import load_app_settings, model_for
from chatbot.errors import InputError, NotFoundError
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.llm.errors import ServerError, StructuredOutputError
from chatbot.services.summary import Category, Sentiment, SummaryService, TicketSummary


@pytest.fixture
def service(tmp_path, sandbox, database_url):
    settings = load_app_settings(
        {"CHATBOT_DATA_DIR": str(tmp_path / "data"), "CHATBOT_DATABASE_URL": database_url,
         "CHATBOT_MODEL_SUMMARY": "claude-haiku-4-5"},
        dotenv_path=None,
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    client = LLMClient(
        ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=2, backoff_initial=0.01)
    )
    yield SummaryService(engine=engine, client=client, settings=settings)
    client.close()
    engine.dispose()


def conversation(service: SummaryService, *messages: tuple[str, str, str]) -> list[store.Message]:
    """A conversation with (role, content, status) messages, stored directly."""
    with store.write_session(service.engine) as session:
        row = store.create_conversation(session=session, persona="support", owner=AGENT.username)
        return [
            store.add_message(session=session, conversation_id=row.id, role=role, content=text, status=status)
            for role, text, status in messages
        ]


def api_calls(service: SummaryService) -> list[store.ApiCall]:
    with store.read_session(service.engine) as session:
        return list(reversed(store.list_api_calls(session=session)))


@pytest.mark.also_postgresql
def test_a_summary_is_stored_with_one_priced_api_call_on_the_routed_model(service, sandbox):
    messages = conversation(
        service,
        ("user", "My parcel never arrived and this is unacceptable", "complete"),
        ("assistant", "Sorry! Could you share the order number?", "complete"),
        ("user", "It is order 1042", "complete"),
        ("assistant", "Half a rep", "partial"),
    )
    cid = messages[0].conversation_id

    row = service.summarise(AGENT, cid)

    summary = TicketSummary.model_validate(row.data)
    assert summary.category is Category.SHIPPING and summary.sentiment is Sentiment.FRUSTRATED
    assert summary.issue.startswith("Order or delivery problem: My parcel never arrived")
    assert summary.next_steps and summary.resolved is False
    # The partial reply is left out: the summary covers up to the last complete message.
    assert (row.through_message_id, row.model, row.created_by) == (messages[2].id, "claude-haiku-4-5", "agent")
    assert service.latest(AGENT, cid).id == row.id
    body = sandbox.state.requests()[-1]["body"]
    assert body["model"] == "claude-haiku-4-5" and body["tool_choice"]["name"] == "record_ticket_summary"
    prompt = body["messages"][0]["content"]
    assert "Agent: It is order 1042" in prompt and "Half a rep" not in prompt
    (call,) = api_calls(service)
    assert (call.purpose, call.model, call.outcome, call.owner, call.conversation_id) == (
        "summary", "claude-haiku-4-5", "ok", "agent", cid)
    assert call.input_tokens > 0 and call.output_tokens > 0 and call.request_id.startswith("req_")
    assert call.cost_usd == pricing.cost_usd("claude-haiku-4-5", call) > 0


@pytest.mark.also_postgresql
def test_a_repaired_summary_records_both_calls(service, sandbox):
    cid = conversation(service, ("user", "I was charged twice", "complete"))[0].conversation_id
    sandbox.state.add_faults([{"kind": "bad_tool_input"}])

    row = service.summarise(AGENT, cid)

    assert TicketSummary.model_validate(row.data).category is Category.BILLING
    first, second = api_calls(service)
    assert (first.outcome, first.error_type) == ("error", "invalid_output") and first.cost_usd > 0
    assert (second.outcome, second.error_type) == ("ok", None)


def test_invalid_twice_stores_nothing_but_accounts_for_every_call(service, sandbox):
    cid = conversation(service, ("user", "I was charged twice", "complete"))[0].conversation_id
    sandbox.state.add_faults([{"kind": "bad_tool_input"}] * 2)

    with pytest.raises(StructuredOutputError):
        service.summarise(AGENT, cid)

    assert service.latest(AGENT, cid) is None
    assert [(c.outcome, c.purpose) for c in api_calls(service)] == [("error", "summary")] * 2
    assert all(c.output_tokens > 0 for c in api_calls(service))


def test_an_api_failure_is_recorded_and_raised(service, sandbox):
    cid = conversation(service, ("user", "Hello there", "complete"))[0].conversation_id
    sandbox.state.add_faults([{"kind": "status", "status": 500}] * 2)

    with pytest.raises(ServerError) as caught:
        service.summarise(AGENT, cid)

    assert "Try again" in caught.value.user_message
    (call,) = api_calls(service)
    assert (call.outcome, call.status_code, call.attempts, call.cost_usd) == ("error", 500, 2, 0.0)


@pytest.mark.parametrize(
    "messages",
    [(), (("user", "Where is it?", "error"),), (("assistant", "Hello! How can I help?", "complete"),)],
)
def test_nothing_to_summarise_is_refused_without_a_call(service, sandbox, messages):
    with store.write_session(service.engine) as session:
        cid = store.create_conversation(session=session, persona="support", owner=AGENT.username).id
        for role, text, status in messages:
            store.add_message(session=session, conversation_id=cid, role=role, content=text, status=status)

    with pytest.raises(InputError, match="nothing to summarise"):
        service.summarise(AGENT, cid)
    assert sandbox.state.requests() == [] and api_calls(service) == []


def test_a_missing_conversation_is_not_found(service):
    with pytest.raises(NotFoundError):
        service.summarise(AGENT, 999)


@pytest.mark.also_postgresql
def test_the_card_says_when_newer_messages_exist(service):
    messages = conversation(service, ("user", "I need a refund", "complete"))
    cid = messages[0].conversation_id
    assert service.card(AGENT, cid, messages) is None
    service.summarise(AGENT, cid)
    assert service.card(AGENT, cid, messages).out_of_date is False

    later = messages + conversation_reply(service, cid)

    card = service.card(AGENT, cid, later)
    assert card.newer_messages == 1 and card.out_of_date
    assert card.summary.category is Category.RETURNS


def conversation_reply(service: SummaryService, cid: int) -> list[store.Message]:
    with store.write_session(service.engine) as session:
        return [
            store.add_message(session=session, conversation_id=cid, role="assistant", content="Done.",),
            store.add_message(session=session, conversation_id=cid, role="assistant", content="", status="error"),
        ]


def test_routing_is_configuration(tmp_path):
    default = load_app_settings({"CHATBOT_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    assert default.purpose_models["summary"] == "claude-haiku-5-5"
    routed = dataclasses.replace(default, purpose_models={"summary": "claude-sonnet-5-5"})
    assert SummaryService(engine=None, client=None, settings=routed).model == "claude-sonnet-5-5"
    env = load_app_settings(
        {"CHATBOT_DATA_DIR": str(tmp_path), "CHATBOT_MODEL_JUDGE": "claude-opus-5-5",
         "CHATBOT_MODEL_TRIAGE": "claude-haiku-4-5", "CHATBOT_MODEL_SUMMARY": " "},
        dotenv_path=None,
    )
    assert model_for("judge", env, "x") == "claude-opus-5-5"
    assert model_for("triage", env, "x") == "claude-haiku-4-5"
    assert model_for("summary", env, "x") == "claude-haiku-5-5"  # blank: the default stays
    assert model_for("chat", env, "persona-model") == "persona-model"


def test_over_budget_a_summary_is_refused_before_any_call_and_alerts_follow_calls(service, sandbox):
    from chatbot.services.budgets.rules import BudgetExceeded
    from chatbot.services.budgets import BudgetService

    messages = conversation(
        service,
        ("user", "My parcel never arrived", "complete"),
        ("assistant", "Sorry! Could you share the order number?", "complete"),
    )
    cid = messages[0].conversation_id
    service.budgets = BudgetService(service.engine)
    service.budgets.set_budget(ADMIN, user="", period="day", limit_usd=0.0001)

    service.summarise(AGENT, cid)  # under budget before this call: it goes
    alerts = {a.threshold for a in service.budgets.alerts(ADMIN)}
    assert alerts == {50, 80, 100}, "the call's cost should have crossed every threshold"
    sent = len(sandbox.state.requests())

    with pytest.raises(BudgetExceeded) as refused:
        service.summarise(AGENT, cid)
    assert "Nothing was sent" in refused.value.user_message
    assert len(sandbox.state.requests()) == sent and len(api_calls(service)) == 1
