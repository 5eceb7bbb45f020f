"""The chat use case against a real SQLite file and the loopback sandbox; the key paths
run on PostgreSQL too (`also_postgresql`)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import event

from actors import AGENT, AGENT2

from chatbot import store
from chatbot.config import load_app_settings
from chatbot.errors import ConversationBusy, InputError, NotFoundError
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.sandbox import SandboxServer
from chatbot.services.chat import ChatService, clean_message
from chatbot.services.reply_writer import STOPPED_BY_AGENT
from chatbot.services.generation import Generations
from chatbot.services.personas import PersonaService

from actors import ADMIN

WAIT = 20  # seconds; an upper bound for a background reply, never slept


def build_service(tmp_path, base_url: str, **overrides) -> ChatService:
    settings = load_app_settings({"CHATBOT_DATA_DIR": str(tmp_path / "data")}, dotenv_path=None)
    settings = dataclasses.replace(settings, **overrides)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    client = LLMClient(
        ClientSettings(api_key=Secret("sk-test"), base_url=base_url, max_attempts=2, backoff_initial=0.01),
    )
    personas = PersonaService(engine, client)
    personas.seed_defaults()
    return ChatService(
        engine=engine, client=client, settings=settings, generations=Generations(4), personas=personas
    )


@pytest.fixture
def service(tmp_path, sandbox, database_url):
    chat = build_service(tmp_path, sandbox.base_url, database_url=database_url)
    yield chat
    chat.close()
    chat.generations.shutdown()
    chat.client.close()
    chat.engine.dispose()


def transcript(service: ChatService, conversation_id: int) -> list[store.Message]:
    with store.read_session(service.engine) as session:
        return store.list_messages(session=session, conversation_id=conversation_id)


def calls(service: ChatService) -> list[store.ApiCall]:
    with store.read_session(service.engine) as session:
        return store.list_api_calls(session=session)


def finish(generation) -> None:
    assert generation.wait(WAIT), "the reply did not finish"


@pytest.mark.also_postgresql
def test_a_turn_is_stored_with_usage_and_one_api_call(service, sandbox):
    generation = service.send(AGENT, conversation_id=None, text="  Where is order 1042?  ")
    text = "".join(generation.deltas())
    finish(generation)
    user, reply = transcript(service, generation.conversation_id)
    assert (user.role, user.content, user.position) == ("user", "Where is order 1042?", 0)
    assert reply.status == "complete" and reply.content == text and reply.position == 1
    assert reply.model == "claude-sonnet-5-5" and reply.stop_reason == "end_turn"
    assert reply.input_tokens > 0 and reply.output_tokens > 0
    assert reply.request_id.startswith("req_") and reply.total_ms >= reply.ttft_ms > 0
    (call,) = calls(service)
    assert (call.outcome, call.purpose, call.owner, call.message_id) == ("ok", "chat", "agent", reply.id)
    assert call.output_tokens == reply.output_tokens and call.attempts == 1
    body = sandbox.state.requests()[-1]["body"]
    assert "support assistant for Acme." in body["system"]
    assert body["metadata"]["user_id"] != "agent"  # opaque, not the agent's name


def test_the_user_message_is_committed_before_the_call(service, sandbox):
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 1.0}])
    generation = service.send(AGENT, conversation_id=None, text="hello")
    # The API has not answered yet: the message and an in-progress reply are already saved.
    assert not generation.done
    user, reply = transcript(service, generation.conversation_id)
    assert user.content == "hello" and reply.status == "streaming"
    finish(generation)


@pytest.mark.also_postgresql
def test_second_message_while_answering_is_refused(service, sandbox):
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 1.0}])
    first = service.send(AGENT, conversation_id=None, text="one")
    with pytest.raises(ConversationBusy):
        service.send(AGENT, conversation_id=first.conversation_id, text="two")
    finish(first)
    assert [m.content for m in transcript(service, first.conversation_id)][0] == "one"
    second = service.send(AGENT, conversation_id=first.conversation_id, text="two")
    finish(second)
    assert len(transcript(service, first.conversation_id)) == 4


@pytest.mark.also_postgresql
def test_history_is_sent_in_order(service, sandbox):
    first = service.send(AGENT, conversation_id=None, text="first question")
    finish(first)
    second = service.send(AGENT, conversation_id=first.conversation_id, text="second question")
    finish(second)
    messages = sandbox.state.requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "first question" and messages[2]["content"] == "second question"


@pytest.mark.also_postgresql
def test_a_broken_stream_keeps_its_partial_text(service, sandbox):
    sandbox.state.add_faults([{"kind": "drop", "after": 4}])
    generation = service.send(AGENT, conversation_id=None, text="refund please")
    shown = "".join(generation.deltas())
    finish(generation)
    reply = transcript(service, generation.conversation_id)[-1]
    assert reply.status == "partial" and reply.content == shown and shown
    assert "cut off" in reply.error
    (call,) = calls(service)
    assert call.outcome == "partial"


@pytest.mark.also_postgresql
def test_an_api_error_is_stored_with_an_actionable_message_and_can_be_retried(service, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 529}] * 2)
    generation = service.send(AGENT, conversation_id=None, text="hello?")
    finish(generation)
    assert generation.error is not None
    user, reply = transcript(service, generation.conversation_id)
    assert user.content == "hello?"
    assert reply.status == "error" and reply.content == ""
    assert reply.error.startswith("The assistant is overloaded; tried 2 times")
    (call,) = calls(service)
    assert (call.outcome, call.status_code, call.error_type, call.attempts) == (
        "error", 529, "overloaded_error", 2)

    again = service.retry(AGENT, conversation_id=generation.conversation_id)
    finish(again)
    messages = transcript(service, generation.conversation_id)
    assert len(messages) == 2 and messages[-1].id == reply.id
    assert messages[-1].status == "complete" and messages[-1].error is None
    assert len(calls(service)) == 2


def test_stop_keeps_what_arrived(service, sandbox):
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 0.3}])
    generation = service.send(AGENT, conversation_id=None, text="tell me everything")
    generation.cancel()
    finish(generation)
    reply = transcript(service, generation.conversation_id)[-1]
    assert reply.status == "partial" and reply.error == STOPPED_BY_AGENT
    assert reply.content == generation.text and reply.content


def test_reply_text_is_saved_while_it_streams(tmp_path):
    with SandboxServer(delay_ms=4) as slow:
        chat = build_service(tmp_path, slow.base_url, flush_interval=0.05)
        updates: list[str] = []

        @event.listens_for(chat.engine, "before_cursor_execute")
        def spy(conn, cursor, statement, params, context, executemany):
            if statement.startswith("UPDATE message"):
                updates.append(statement)

        generation = chat.send(AGENT, conversation_id=None, text="explain shipping")
        finish(generation)
        # several progress saves, then the final one
        assert len(updates) >= 3
        assert transcript(chat, generation.conversation_id)[-1].status == "complete"
        chat.generations.shutdown()
        chat.client.close()


def test_watchers_joining_late_get_the_whole_text(service, sandbox):
    generation = service.send(AGENT, conversation_id=None, text="hi")
    finish(generation)
    assert "".join(generation.deltas()) == transcript(service, generation.conversation_id)[-1].content


def test_bad_input_is_refused_and_nothing_is_stored(service, sandbox):
    with pytest.raises(InputError):
        service.send(AGENT, conversation_id=None, text=" \n\t ")
    with pytest.raises(InputError) as info:
        service.send(AGENT, conversation_id=None, text="x" * 20_001)
    assert "20,001" in info.value.user_message and "20,000" in info.value.user_message
    with pytest.raises(NotFoundError):
        service.send(AGENT, conversation_id=999, text="hello")
    with store.read_session(service.engine) as session:
        assert store.list_conversations(session=session) == []
    assert sandbox.state.requests() == []


def test_clean_message_strips_control_characters_and_lone_surrogates():
    assert clean_message("a\x00b\x07c\r\nd\ud800", max_chars=100) == "abc\nd?"


def test_required_case_details_are_asked_for_before_anything_is_stored(service, sandbox):
    from chatbot.personas import PersonaSpec, Variable

    service.personas.create(
        ADMIN,
        PersonaSpec(
            name="Billing desk",
            template="You help {{ customer_name }} with invoice {{ invoice }}.",
            variables=(Variable("customer_name", "Customer name", required=True),
                       Variable("invoice", "Invoice number", default="unknown")),
        ),
        key="billing",
    )
    with pytest.raises(InputError) as info:
        service.send(AGENT, conversation_id=None, text="hi", persona="billing")
    assert "Customer name" in info.value.user_message
    with store.read_session(service.engine) as session:
        assert store.list_conversations(session=session) == []
    generation = service.send(
        AGENT, conversation_id=None, text="hi", persona="billing", variables={"customer_name": "Dana"}
    )
    finish(generation)
    body = sandbox.state.requests()[-1]["body"]
    assert body["system"] == "You help Dana with invoice unknown."


def test_replies_waiting_on_the_api_are_kept_alive_by_the_heartbeat(tmp_path, sandbox):
    chat = build_service(tmp_path, sandbox.base_url, heartbeat_interval=0.05)
    beats: list[str] = []

    @event.listens_for(chat.engine, "before_cursor_execute")
    def spy(conn, cursor, statement, params, context, executemany):
        if statement.startswith("UPDATE message SET updated_at"):
            beats.append(statement)

    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 0.5}])
    generation = chat.send(AGENT, conversation_id=None, text="hello")
    (reply,) = [m for m in transcript(chat, generation.conversation_id) if m.role == "assistant"]
    assert not chat.is_orphaned(reply)
    finish(generation)
    assert len(beats) >= 2  # no text arrived for 0.5 s, yet the row was touched
    chat.close()
    chat.generations.shutdown()
    chat.client.close()


@pytest.mark.also_postgresql
def test_a_reply_orphaned_by_a_dead_process_can_be_retried(service, sandbox):
    from sqlalchemy import text

    with store.write_session(service.engine) as session:
        conversation = store.create_conversation(session=session, persona="support", owner=AGENT.username)
        store.add_message(session=session, conversation_id=conversation.id, role="user", content="hi")
        orphan = store.add_message(
            session=session, conversation_id=conversation.id, role="assistant",
            content="half of it", status="streaming",
        )
    assert not service.is_orphaned(orphan)  # just written: could be another server's
    with service.engine.begin() as connection:
        connection.execute(
            text("UPDATE message SET updated_at = '2026-01-01 00:00:00' WHERE id = :id"),
            {"id": orphan.id},
        )
    (stale,) = [m for m in transcript(service, conversation.id) if m.id == orphan.id]
    assert service.is_orphaned(stale)
    generation = service.retry(AGENT, conversation_id=conversation.id)
    finish(generation)
    reply = transcript(service, conversation.id)[-1]
    assert reply.id == orphan.id and reply.status == "complete" and reply.content != "half of it"


def test_a_repeated_first_question_is_answered_from_the_cache_but_retry_asks_again(service, sandbox):
    from chatbot.llm.cache import MemoryCache

    service.client.cache = MemoryCache()
    first = service.send(AGENT, conversation_id=None, text="What are your opening hours?")
    finish(first)
    second = service.send(AGENT2, conversation_id=None, text="What are your opening hours?")
    finish(second)
    assert len(sandbox.state.requests()) == 1
    one, two = (transcript(service, g.conversation_id)[-1] for g in (first, second))
    assert two.content == one.content and two.status == "complete"
    hit = [c for c in calls(service) if c.message_id == two.id][0]
    assert hit.cache_hit and hit.input_tokens == 0 and not hit.cost_usd

    again = service.retry(AGENT2, conversation_id=second.conversation_id)
    finish(again)
    assert len(sandbox.state.requests()) == 2  # a retry is a real call
