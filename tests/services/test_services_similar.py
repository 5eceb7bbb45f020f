"""The similarity cache in the chat use case: a reworded first question is answered from
the cache, for personas that opt in, and nothing else is. Real SQLite, the loopback
sandbox, no exact-match cache (so every hit here is the similarity cache's)."""

from __future__ import annotations

import pytest

from actors import AGENT

from chatbot import store
from chatbot.config import load_app_settings
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.llm.similar import SimilarityCache
from chatbot.personas import PersonaSpec
from chatbot.services.chat import ChatService
from chatbot.services.generation import Generations
from chatbot.services.personas import PersonaService
from chatbot.services.runtime import build_runtime

from actors import ADMIN

WAIT = 20  # seconds; an upper bound for a background reply, never slept
FAQ = {"name": "FAQ", "template": "You answer questions from Acme's FAQ.", "temperature": 0}


@pytest.fixture
def service(tmp_path, sandbox):
    settings = load_app_settings({"CHATBOT_DATA_DIR": str(tmp_path / "data")}, dotenv_path=None)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    client = LLMClient(ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url,
                                      max_attempts=2, backoff_initial=0.01))
    personas = PersonaService(engine, client)
    personas.create(ADMIN, PersonaSpec.from_dict({**FAQ, "similar_questions": True}), key="faq")
    personas.create(ADMIN, PersonaSpec.from_dict({**FAQ, "name": "FAQ off"}), key="faq-off")
    personas.create(ADMIN, PersonaSpec.from_dict({**FAQ, "name": "FAQ no cache", "cache_replies": False,
                                                  "similar_questions": True}), key="faq-nocache")
    chat = ChatService(engine=engine, client=client, settings=settings, generations=Generations(4),
                       personas=personas, similar=SimilarityCache(ttl_seconds=600))
    yield chat
    chat.close()
    chat.generations.shutdown()
    client.close()
    engine.dispose()


def ask(service: ChatService, text: str, *, persona: str = "faq", conversation_id: int | None = None):
    generation = service.send(AGENT, conversation_id=conversation_id, text=text, persona=persona)
    assert generation.wait(WAIT), "the reply did not finish"
    with store.read_session(service.engine) as session:
        reply = store.list_messages(session=session, conversation_id=generation.conversation_id)[-1]
        call = [c for c in store.list_api_calls(session=session) if c.message_id == reply.id][-1]
    return generation, reply, call


def sent(sandbox) -> list[str]:
    """The last user message of each request that reached the sandbox."""
    return [r["body"]["messages"][-1]["content"] for r in sandbox.state.requests()
            if r["path"] == "/v1/messages"]


def test_a_reworded_first_question_is_a_free_cache_hit(service, sandbox):
    _, first, first_call = ask(service, "How do I reset my password?")
    assert first.status == "complete" and not first_call.cache_hit
    assert sent(sandbox) == ["How do I reset my password?"]

    generation, second, call = ask(service, "password reset - how?")
    assert sent(sandbox) == ["How do I reset my password?"]  # no new request
    assert second.content == first.content and second.status == "complete"
    assert "".join(generation.deltas()) == first.content  # streamed like a live reply
    assert call.cache_hit and call.input_tokens == 0 and call.output_tokens == 0
    assert not call.cost_usd and call.outcome == "ok"


def test_a_near_miss_is_asked_live_and_then_answered_from_the_cache_too(service, sandbox):
    ask(service, "How do I reset my password?")
    _, reply, call = ask(service, "How do I reset my username?")
    assert not call.cache_hit and call.output_tokens > 0
    assert sent(sandbox) == ["How do I reset my password?", "How do I reset my username?"]
    _, again, call = ask(service, "how can i reset my username")
    assert call.cache_hit and again.content == reply.content
    assert len(sent(sandbox)) == 2


@pytest.mark.parametrize("near_miss", [
    "How do I reset my password on the app?", "I can't reset my password",
    "How do I reset my password for order #1234?",
])
def test_near_misses_reach_the_api(service, sandbox, near_miss):
    ask(service, "How do I reset my password?")
    _, _, call = ask(service, near_miss)
    assert not call.cache_hit and sent(sandbox)[-1] == near_miss


def test_a_second_turn_never_uses_it(service, sandbox):
    ask(service, "How do I reset my password?")
    generation, _, _ = ask(service, "Where is my order?")
    _, _, call = ask(service, "password reset - how?", conversation_id=generation.conversation_id)
    assert not call.cache_hit
    assert sent(sandbox)[-1] == "password reset - how?" and len(sent(sandbox)) == 3


def test_a_second_turn_is_not_stored_either(service, sandbox):
    generation, _, _ = ask(service, "Where is my order?")
    ask(service, "How do I reset my password?", conversation_id=generation.conversation_id)
    _, _, call = ask(service, "password reset - how?")
    assert not call.cache_hit and len(sent(sandbox)) == 3


@pytest.mark.parametrize("persona", ["faq-off", "faq-nocache"])
def test_personas_without_both_flags_never_use_it(service, sandbox, persona):
    ask(service, "How do I reset my password?", persona=persona)
    _, _, call = ask(service, "password reset - how?", persona=persona)
    assert not call.cache_hit and len(sent(sandbox)) == 2
    assert len(service.similar) == 0


def test_answers_do_not_cross_personas(service, sandbox):
    ask(service, "How do I reset my password?", persona="faq-off")
    _, _, call = ask(service, "password reset - how?")
    assert not call.cache_hit and len(sent(sandbox)) == 2


def test_retry_asks_the_api_again(service, sandbox):
    ask(service, "How do I reset my password?")
    generation, _, call = ask(service, "password reset - how?")
    assert call.cache_hit and len(sent(sandbox)) == 1
    retried = service.retry(AGENT, conversation_id=generation.conversation_id)
    assert retried.wait(WAIT)
    assert len(sent(sandbox)) == 2


def test_a_failed_reply_is_not_stored(service, sandbox):
    sandbox.state.add_faults([{"kind": "drop", "after": 4}])
    _, reply, _ = ask(service, "How do I reset my password?")
    assert reply.status == "partial"
    _, _, call = ask(service, "password reset - how?")
    assert not call.cache_hit and len(sent(sandbox)) == 2


@pytest.mark.parametrize(("ttl", "expected"), [("900", 900), ("0", None)])
def test_the_runtime_owns_one_with_the_cache_ttl(tmp_path, sandbox, ttl, expected):
    runtime = build_runtime({"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": sandbox.base_url,
                             "CHATBOT_DATA_DIR": str(tmp_path / "data"), "CHATBOT_CACHE_TTL": ttl},
                            dotenv_path=None)
    try:
        similar = runtime.chat.similar
        assert (similar.ttl_seconds if similar is not None else None) == expected
    finally:
        runtime.close()
