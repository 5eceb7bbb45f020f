from __future__ import annotations

import pytest

from chatbot.sandbox import replies

SYSTEM = "You are a friendly support assistant for Acme Co. Keep answers short."


def conversation(*user_texts: str) -> list[dict]:
    messages = []
    for index, text in enumerate(user_texts):
        if index:
            messages.append({"role": "assistant", "content": "Previous answer."})
        messages.append({"role": "user", "content": text})
    return messages


def test_count_tokens_counts_words_and_punctuation():
    assert replies.count_tokens("Hello, world!") == 4
    assert replies.count_tokens("") == 0


@pytest.mark.parametrize(
    ("system", "company"),
    [
        (SYSTEM, "Acme Co."),
        ("You work for Globex Corporation, a logistics firm.", "Globex Corporation"),
        ("Be kind.\nCompany: Initech\nTone: calm", "Initech"),
        ("You are the customer support agent at Umbrella. Be brief.", "Umbrella"),
        ([{"type": "text", "text": "You answer on behalf of Stark Industries."}], "Stark Industries"),
        ("Be helpful.", "our company"),
        (None, "our company"),
    ],
)
def test_company_name_from_system_prompt(system, company):
    assert replies.company_name(system) == company


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I want a refund for my blender", "refund"),
        ("Where is my order #123?", "order"),
        ("The delivery is late", "order"),
        ("I forgot my password", "account"),
        ("Please cancel my subscription", "cancel"),
        ("My invoice looks wrong", "billing"),
        ("Hello!", "greeting"),
        ("Thanks, that worked", "thanks"),
        ("Hi, where is my package?", "order"),
        ("Which colours does the kettle come in?", "general"),
    ],
)
def test_topic_is_picked_by_keywords(text, topic):
    assert replies.classify(text) == topic


@pytest.mark.parametrize("text", ["refund", "order", "password", "cancel", "invoice", "hi", "thanks", "what?"])
@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5"])
def test_every_reply_is_40_to_120_words(text, model):
    words = replies.compose_reply(SYSTEM, conversation(text), model).split()
    assert 40 <= len(words) <= 120


def test_reply_names_company_and_quotes_the_customer():
    reply = replies.compose_reply(SYSTEM, conversation("My parcel never arrived at the office"), "claude-haiku-4-5")
    assert "Acme Co." in reply
    assert "My parcel never arrived at the office" in reply
    assert "turn 1" in reply


def test_long_messages_are_quoted_as_a_short_snippet():
    text = " ".join(f"word{i}" for i in range(40))
    reply = replies.compose_reply(None, conversation(text), "claude-haiku-4-5")
    assert "word11…" in reply and "word12" not in reply


def test_same_input_gives_same_reply():
    first = replies.compose_reply(SYSTEM, conversation("refund please"), "claude-haiku-4-5")
    assert replies.compose_reply(SYSTEM, conversation("refund please"), "claude-haiku-4-5") == first


def test_turns_of_one_conversation_differ():
    texts = ["hello", "hello", "hello"]
    seen = {replies.compose_reply(SYSTEM, conversation(*texts[: n + 1]), "claude-haiku-4-5") for n in range(3)}
    assert len(seen) == 3


def test_reply_reads_text_blocks():
    messages = [{"role": "user", "content": [{"type": "text", "text": "refund", "cache_control": {"type": "ephemeral"}}]}]
    assert '"refund"' in replies.compose_reply(SYSTEM, messages, "claude-haiku-4-5")


def test_finish_without_limits_is_end_turn():
    done = replies.finish("Hello there, friend.", max_tokens=100)
    assert done == replies.Completion("Hello there, friend.", "end_turn", None, 5)


def test_finish_cuts_at_max_tokens():
    done = replies.finish("Hello there, friend.", max_tokens=2)
    assert done == replies.Completion("Hello there", "max_tokens", None, 2)


def test_finish_cuts_before_the_first_stop_sequence():
    done = replies.finish("one two three four", max_tokens=100, stop_sequences=["four", "three"])
    assert done == replies.Completion("one two ", "stop_sequence", "three", 2)


def test_max_tokens_wins_when_reached_before_the_stop_sequence():
    done = replies.finish("one two three four", max_tokens=1, stop_sequences=["four"])
    assert (done.text, done.stop_reason, done.stop_sequence) == ("one", "max_tokens", None)


def test_input_tokens_cover_system_and_every_message():
    messages = conversation("a b", "c")
    assert replies.input_tokens("x y z", messages) == 3 + 2 + 3 + 1  # "Previous answer." is three tokens
