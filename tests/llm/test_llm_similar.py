"""The similarity cache for first questions: rewordings match, near misses never do, and
the cache keeps scopes apart, expires, evicts and ignores unfinished replies. The clock is
fake; nothing sleeps."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from chatbot.llm import ChatRequest, Reply, Turn, Usage
from chatbot.llm.similar import (
    DEFAULT_THRESHOLD,
    SimilarityCache,
    first_question,
    matches,
    normalise,
    signature,
    similarity,
    similarity_scope,
    veto,
)

# Rewordings of one question: every pair within a group must match.
PARAPHRASES = [
    ("How do I reset my password?", "how can i reset my password", "Password reset - how?",
     "HOW DO I RESET MY PASSWORD", "How do I reset my passwords?"),
    ("Where is my order?", "where's my order", "Where’s my order??", "Where is my order, please?"),
    ("Can I cancel my order?", "Is it possible to cancel my order?", "can i cancel my orders"),
    ("What is your returns policy?", "What's your return policy"),
    ("I can't log in", "I cannot log in!", "I can not login", "I'm unable to log in"),
    ("How do I sign up?", "how do i signup", "How can I sign-up?"),
    ("Where is order #1234?", "where's order 1234", "Where is order no. 1234"),
    ("Can I return an item within 30 days?", "Can I return items within thirty days?"),
    ("Do you deliver to the UK?", "do you deliver to the UK"),
    ("Why was I charged twice?", "Why have I been charged twice?"),
    ("How much does shipping cost?", "How much does shipping cost please?"),
    ("Where can I find my invoice?", "Where is my invoice?"),
    ("How do I change my delivery address?", "how to change my delivery addresses"),
]

# Questions that look alike and need different answers: none may match.
NEAR_MISSES = [
    ("How do I reset my password?", "How do I reset my username?"),
    ("Cancel my order", "Cancel my subscription"),
    ("Can I return an item within 30 days?", "Can I return an item within 60 days?"),
    ("Where is order #1234?", "Where is order #1235?"),
    ("Where is order ORD-1234?", "Where is order ORD-1243?"),
    ("I can log in", "I can't log in"),
    ("I can log in", "I can log out"),
    ("Upgrade my plan", "Downgrade my plan"),
    ("Can I get a refund?", "Can I get an exchange?"),
    ("Do you deliver to the UK?", "Do you deliver to the US?"),
    ("Do you deliver to France?", "Do you deliver to Germany?"),
    ("Can I cancel before it ships?", "Can I cancel after it ships?"),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
    ("How do I add a card?", "How do I remove a card?"),
    ("How do I renew my subscription?", "How do I cancel my subscription?"),
    ("Will the price increase?", "Will the price decrease?"),
    ("Where is my order?", "When is my order arriving?"),
    ("Where is my order?", "Where is my refund?"),
    ("How do I track my order?", "How do I track my return?"),
    ("Is shipping free?", "Is shipping free over $50?"),
    ("Is shipping free over $50?", "Is shipping free over £50?"),
    ("Do you accept PayPal?", "Do you accept Klarna?"),
    ("My order has arrived", "My order hasn't arrived"),
    ("Is the item in stock?", "Is the item out of stock?"),
    ("Can I pay with a card?", "Can I pay without a card?"),
    ("Change my plan from monthly to annual", "Change my plan from annual to monthly"),
    ("I want an exchange instead of a refund", "I want a refund instead of an exchange"),
    ("Send the invoice to bob@example.com", "Send the invoice to rob@example.com"),
    ("Is https://acme.test/a safe?", "Is https://acme.test/b safe?"),
    ("Can I return it on 2025-01-05?", "Can I return it on 2025-01-06?"),
    ("Is the store open at 9:00?", "Is the store open at 10:00?"),
    ("Do I get 10% off?", "Do I get 20% off?"),
    ("Can I return an item?", "Can I return a damaged item?"),
    ("How do I reset my password?", "How do I reset my password on the app?"),
    ("Can I cancel my order?", "Can I cancel and renew my order?"),
    ("Can I return two items?", "Can I return three items?"),
    ("Where is my first order?", "Where is my second order?"),
    ("Is my order shipped?", "Is my order delivered?"),
    ("Why was my card charged?", "Why was my card not charged?"),
    ("What happens if I never pay?", "What happens if I pay?"),
    ("Can I get a refund for my order?", "Can I see a refund for my order?"),
    ("Where can I see my invoice?", "Where can I get my invoice?"),
]


@pytest.mark.parametrize("group", PARAPHRASES, ids=lambda g: g[0])
def test_paraphrases_match(group):
    first = group[0]
    for other in group[1:]:
        assert veto(first, other) is None, (first, other)
        assert matches(first, other) and matches(other, first), (first, other, similarity(first, other))


@pytest.mark.parametrize("pair", NEAR_MISSES, ids=lambda p: f"{p[0]} | {p[1]}")
def test_near_misses_never_match(pair):
    a, b = pair
    assert not matches(a, b) and not matches(b, a)
    assert similarity(a, b) < DEFAULT_THRESHOLD
    # Each pair is turned away by a guard, not by luck with the score.
    assert veto(a, b) is not None or similarity(a, b) < 0.85, similarity(a, b)


def test_normalise_expands_contractions_and_keeps_literals():
    assert normalise("Where's order #1,234?") == ["wher", "order", "#1234"]
    assert "not" in normalise("It doesn't work") and "not" in normalise("it won't load")
    assert "not" in normalise("isnt it shipped") and "not" not in normalise("is it shipped")
    assert normalise("ＵＫ delivery") == normalise("UK delivery")  # NFKC: full-width letters
    assert "#$30" in normalise("Refund of $30?") and "#30" in normalise("30 day returns")


def test_the_guards_say_why():
    assert "numbers" in veto("order 1", "order 2")
    assert "negated" in veto("I can pay", "I can't pay")
    assert "flips" in veto("Cancel my order", "Renew my order")
    assert "content" in veto("Reset my password", "Reset my username")
    assert veto("Reset my password", "reset my passwords") is None


def test_the_semantic_hash_is_the_same_for_rewordings_and_differs_otherwise():
    assert signature("How do I reset my password?").key == signature("password reset: how").key
    assert signature("How do I reset my password?").key != signature("How do I reset my PIN?").key


def test_greetings_and_long_messages_are_not_eligible():
    assert not signature("Hi there!").eligible
    assert not signature("order " * 100).eligible
    long_question = " ".join(f"word{chr(97 + i)}x" for i in range(13))
    assert not signature(long_question).eligible
    assert not matches("Hello", "Hello")


# -- the cache ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reply(text: str = "Go to Settings > Password.", **changes) -> Reply:
    return replace(Reply(text=text, model="claude-sonnet-4-5", stop_reason="end_turn",
                         usage=Usage(input_tokens=30, output_tokens=12), complete=True), **changes)


REQUEST = ChatRequest(
    model="claude-sonnet-4-5",
    system="You answer Acme's FAQ.",
    messages=(Turn("user", "How do I reset my password?"),),
    temperature=0.2,
)


def test_a_reworded_question_gets_the_stored_answer():
    cache = SimilarityCache(clock=FakeClock())
    cache.put("s", "How do I reset my password?", reply())
    hit = cache.get("s", "password reset - how?")
    assert hit is not None and hit.score == 1.0
    assert hit.reply.text == "Go to Settings > Password." and hit.reply.usage.output_tokens == 12
    assert cache.get("s", "How do I reset my username?") is None


def test_the_best_match_wins():
    cache = SimilarityCache(clock=FakeClock())
    cache.put("s", "Is it possible to cancel my order please?", reply("filler"))
    cache.put("s", "Can I cancel my order?", reply("exact words"))
    hit = cache.get("s", "can i cancel my order")
    assert hit.reply.text == "exact words" and hit.score == 1.0


def test_scopes_never_share_answers():
    cache = SimilarityCache(clock=FakeClock())
    scope = similarity_scope(REQUEST)
    cache.put(scope, "How do I reset my password?", reply())
    for other in (replace(REQUEST, model="claude-haiku-4-5"), replace(REQUEST, system="Other"),
                  replace(REQUEST, temperature=0.9), replace(REQUEST, max_tokens=10)):
        assert similarity_scope(other) != scope
        assert cache.get(similarity_scope(other), "How do I reset my password?") is None
    # The question and the user are not part of the scope.
    same = replace(REQUEST, messages=(Turn("user", "x"),), metadata={"user_id": "b"})
    assert similarity_scope(same) == scope
    assert cache.get(scope, "how can I reset my password") is not None


def test_first_question_only_for_a_single_user_turn():
    assert first_question(REQUEST) == "How do I reset my password?"
    later = replace(REQUEST, messages=(Turn("user", "Hi"), Turn("assistant", "Hello"),
                                       Turn("user", "How do I reset my password?")))
    assert first_question(later) is None
    assert first_question(replace(REQUEST, messages=())) is None


def test_entries_expire_after_the_ttl():
    clock = FakeClock()
    cache = SimilarityCache(ttl_seconds=60, clock=clock)
    cache.put("s", "Where is my order?", reply())
    clock.now += 59
    assert cache.get("s", "where's my order") is not None
    clock.now += 1
    assert cache.get("s", "where's my order") is None
    assert len(cache) == 0


def test_a_clock_that_steps_back_expires_too():
    clock = FakeClock()
    cache = SimilarityCache(clock=clock)
    cache.put("s", "Where is my order?", reply())
    clock.now -= 5
    assert cache.get("s", "Where is my order?") is None


def test_least_recently_used_is_evicted():
    cache = SimilarityCache(max_entries=2, clock=FakeClock())
    cache.put("s", "Where is my order?", reply("a"))
    cache.put("s", "How do I reset my password?", reply("b"))
    assert cache.get("s", "where's my order") is not None  # now the most recent
    cache.put("s", "Can I cancel my order?", reply("c"))
    assert len(cache) == 2
    assert cache.get("s", "How do I reset my password?") is None
    assert cache.get("s", "Where is my order?").reply.text == "a"
    assert cache.get("s", "Can I cancel my order?").reply.text == "c"


def test_a_rewording_replaces_rather_than_adds():
    cache = SimilarityCache(clock=FakeClock())
    cache.put("s", "Where is my order?", reply("old"))
    cache.put("s", "where's my order", reply("new"))
    assert len(cache) == 1 and cache.get("s", "Where is my order").reply.text == "new"


@pytest.mark.parametrize("unfinished", [
    reply(complete=False),
    reply(text="   "),
    reply(error=RuntimeError("cut off")),
])
def test_unfinished_replies_are_not_stored(unfinished):
    cache = SimilarityCache(clock=FakeClock())
    cache.put("s", "Where is my order?", unfinished)
    assert len(cache) == 0 and cache.get("s", "Where is my order?") is None


def test_ineligible_questions_are_not_stored():
    cache = SimilarityCache(clock=FakeClock())
    cache.put("s", "Hello!", reply())
    assert len(cache) == 0


@pytest.mark.parametrize("kwargs", [{"ttl_seconds": 0}, {"max_entries": 0}, {"threshold": 0},
                                    {"threshold": 1.5}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SimilarityCache(**kwargs)


def test_a_higher_threshold_turns_filler_differences_into_misses():
    strict = SimilarityCache(threshold=1.0, clock=FakeClock())
    strict.put("s", "Can I cancel my order?", reply())
    assert strict.get("s", "Is it possible to cancel my order?") is None
    assert strict.get("s", "can i cancel my orders") is not None


def test_many_threads_at_once():
    cache = SimilarityCache(max_entries=50, clock=FakeClock())
    errors: list[BaseException] = []
    words = ["order", "refund", "invoice", "parcel", "voucher", "account", "basket", "points"]

    def work(n: int) -> None:
        try:
            for i in range(200):
                noun = words[(n + i) % len(words)]
                cache.put(f"s{n % 3}", f"Where is my {noun} {i % 17}?", reply(f"{noun}-{i}"))
                hit = cache.get(f"s{n % 3}", f"where's my {noun} {i % 17}")
                assert hit is None or hit.reply.text.startswith(noun)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(cache) == 50
