"""Deterministic, demo-worthy support replies and the token arithmetic around them.

A reply depends only on (system, messages, model): it names the company found in the
system prompt, quotes the customer's last message, answers with a template picked by
keywords, and ends with the turn number so a multi-turn demo never repeats itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")

FALLBACK_COMPANY = "our company"
_NAME = r"([A-Z0-9][\w&'’-]*(?:[ \t]+(?:&|[A-Z0-9][\w&'’-]*))*\.?)"
COMPANY_PATTERNS = (
    re.compile(r"(?i:\b(?:assistant|agent|representative|bot)\s+(?:for|at|of))\s+" + _NAME),
    re.compile(r"(?i:\byou\s+(?:work|are\s+working)\s+(?:for|at))\s+" + _NAME),
    re.compile(r"(?i:\bon\s+behalf\s+of)\s+" + _NAME),
    re.compile(r"(?i:\bcompany(?:\s+name)?\s*:)[ \t]*([^\n]+)"),
)
# A trailing period belongs to the name only for these; otherwise it ends the sentence.
ABBREVIATIONS = frozenset({"Co.", "Inc.", "Ltd.", "Corp.", "Bros.", "Pty.", "Plc."})

# First match wins, so the specific topics come before thanks and greetings.
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", re.compile(r"\b(refund\w*|money back|return(?:ed|ing|s)?|reimburse\w*)\b")),
    ("cancel", re.compile(r"\b(cancel\w*|subscription\w*|unsubscribe|membership)\b")),
    ("billing", re.compile(r"\b(invoice\w*|billing|bill(?:ed)?|charged?|charges|receipt|payment)\b")),
    ("account", re.compile(r"\b(password\w*|log ?in|sign ?in|account|locked|2fa|username)\b")),
    ("order", re.compile(r"\b(order\w*|shipping|ship(?:ped|ment)?|deliver\w*|package|parcel|track\w*)\b")),
    ("thanks", re.compile(r"\b(thanks?|thank you|thx|cheers|appreciate\w*)\b")),
    ("greeting", re.compile(r"^\W*(hi|hello|hey|good (?:morning|afternoon|evening)|greetings)\b")),
)

BODIES: dict[str, tuple[str, ...]] = {
    "refund": (
        "I'm sorry the purchase didn't work out. Here's how a refund works:\n\n"
        "1. Share your order number so I can find the purchase.\n"
        "2. I'll confirm it is within the 30-day refund window.\n"
        "3. Once approved, the money returns to your original payment method in 5–10 business days.",
        "I can help you get your money back. To start the refund:\n\n"
        "1. Tell me the order number and the item you'd like refunded.\n"
        "2. Let me know the reason: damaged, wrong item or no longer needed.\n"
        "3. I'll file the request and email you a confirmation.",
    ),
    "order": (
        "Let me help you track that order. Could you send me:\n\n"
        "1. Your order number from the confirmation email.\n"
        "2. The email address used at checkout.\n\n"
        "Most orders ship within 2 business days, and tracking updates appear within a day of dispatch.",
        "Sorry for the wait on your delivery. A few quick things to check:\n\n"
        "1. The tracking link in your shipping confirmation.\n"
        "2. That the delivery address on the order is correct.\n"
        "3. Any note from the carrier about a missed delivery.\n\n"
        "If it's still stuck, share the order number and I'll open a trace with the carrier.",
    ),
    "account": (
        "Let's get you back into your account. Please try this:\n\n"
        "1. Use **Forgot password** on the sign-in page.\n"
        "2. Check your inbox and spam folder for the reset link; it expires after 30 minutes.\n"
        "3. Choose a password you haven't used before.\n\n"
        "If the email never arrives, tell me the address on the account.",
        "Sign-in trouble is frustrating, so let's sort it out. Check that caps lock is off and "
        "that you're using the email you signed up with. If that doesn't work:\n\n"
        "1. Reset your password from the sign-in page.\n"
        "2. Try a private browser window.\n"
        "3. Tell me any error message you see.",
    ),
    "cancel": (
        "I can help with your subscription. Before cancelling, note that:\n\n"
        "1. You keep access until the end of the current billing period.\n"
        "2. Your data stays available for 30 days in case you change your mind.\n"
        "3. You can pause instead of cancelling.\n\n"
        "Shall I cancel now, or would pausing suit you better?",
        "Sorry to hear you're thinking of leaving. To cancel, open **Account → Subscription** and "
        "choose **Cancel plan**, or I can do it for you right now. You won't be charged again, "
        "and you can reactivate at any time.",
    ),
    "billing": (
        "Happy to help with billing. Every invoice is under **Account → Billing history**. "
        "If a charge looks wrong, tell me:\n\n"
        "1. The invoice number or the date of the charge.\n"
        "2. The amount you expected.\n\n"
        "I'll compare it with your plan and correct anything that's off.",
        "Let me look into that. Charges are billed at the start of each cycle, and taxes depend on "
        "your billing address. If you were charged twice or see an amount you don't recognise, "
        "send me the invoice number and I'll investigate straight away.",
    ),
    "greeting": (
        "Welcome! I can help with orders, deliveries, refunds, billing and account questions. "
        "If you have an order or ticket number handy, include it so I can get started right away.",
        "Good to hear from you. I can track orders, handle returns and refunds, and sort out "
        "subscriptions, invoices and sign-in problems. Tell me a little about what you need.",
    ),
    "thanks": (
        "You're very welcome, and I'm glad I could help. If anything else comes up, whether it's "
        "an order, a refund or your account, just send a message here.",
        "My pleasure! If there's nothing else, have a great day, and remember you can reach us "
        "any time through this chat.",
    ),
    "general": (
        "To point you in the right direction:\n\n"
        "1. Tell me which product or order this is about.\n"
        "2. Describe what you expected and what happened instead.\n"
        "3. Mention anything you've already tried.\n\n"
        "With that I can give you a specific answer rather than a general one.",
        "I'd like to give you accurate information, so could you share a bit more context, such as "
        "an order number, the product name or the exact error you see? Meanwhile, our help "
        "center covers the most common questions.",
    ),
}

OPENERS = (
    'Thanks for contacting {company}. You wrote: "{snippet}"',
    'Thank you for reaching out to {company} about "{snippet}".',
    'Hello, and thanks for writing to {company}! About "{snippet}":',
)
CLOSERS = (
    "Is there anything else I can help with?",
    "Let me know if that helps or if you'd like me to take the next step.",
    "I'm still here if you have more questions.",
    "Just reply here and I'll follow up.",
)
FOOTER = "_(Sandbox reply, turn {turn}.)_"
SNIPPET_WORDS = 12


@dataclass(frozen=True)
class Completion:
    """A finished reply after max_tokens and stop_sequences were applied."""

    text: str
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and single punctuation marks."""
    return len(TOKEN_PATTERN.findall(text))


def content_text(content: Any) -> str:
    """The text of a `content` or `system` value: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"] for block in content
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
        )
    return ""


def input_tokens(system: Any, messages: list[dict]) -> int:
    texts = [content_text(system)] + [content_text(message.get("content")) for message in messages]
    return sum(count_tokens(text) for text in texts)


def company_name(system: Any) -> str:
    text = content_text(system)
    for pattern in COMPANY_PATTERNS:
        match = pattern.search(text)
        if match:
            name = _trim_name(match.group(1))
            if name:
                return name
    return FALLBACK_COMPANY


def _trim_name(raw: str) -> str:
    name = raw.strip().rstrip(",;:!?")
    if name.endswith(".") and name.rsplit(" ", 1)[-1] not in ABBREVIATIONS:
        name = name.rstrip(".")
    return name.strip()


def classify(text: str) -> str:
    lowered = text.lower()
    for topic, pattern in TOPICS:
        if pattern.search(lowered):
            return topic
    return "general"


def snippet(text: str) -> str:
    # Quote marks and Markdown characters would break the quote around the snippet.
    words = re.sub(r"[\"*_`#<>\[\]]", "", text).split()
    if not words:
        return "your message"
    shown = " ".join(words[:SNIPPET_WORDS])
    return shown + "…" if len(words) > SNIPPET_WORDS else shown


def stable_hash(*parts: str) -> int:
    """Unlike hash(), the same on every run and machine."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return int(digest[:12], 16)


def compose_reply(system: Any, messages: list[dict], model: str) -> str:
    user_texts = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
    last = user_texts[-1] if user_texts else ""
    turn = len(user_texts)
    topic = classify(last)
    seed = stable_hash(model, content_text(system), last, str(turn))
    opener = OPENERS[seed % len(OPENERS)]
    body = BODIES[topic][(seed // 7) % len(BODIES[topic])]
    closer = CLOSERS[(turn - 1) % len(CLOSERS)]
    company = company_name(system)
    if company.endswith("."):  # "Acme Co." must not end a sentence as "Acme Co.."
        opener = opener.replace("{company}.", "{company}")
    head = opener.format(company=company, snippet=snippet(last))
    return f"{head}\n\n{body}\n\n{closer} {FOOTER.format(turn=turn)}"


def finish(text: str, *, max_tokens: int, stop_sequences: list[str] | None = None) -> Completion:
    """Cut `text` the way generation would stop: at a stop sequence or at max_tokens."""
    stop_at, matched = _first_stop(text, stop_sequences or [])
    if matched is not None:
        text = text[:stop_at]
    tokens = list(TOKEN_PATTERN.finditer(text))
    if len(tokens) > max_tokens:
        cut = text[: tokens[max_tokens - 1].end()]
        return Completion(cut, "max_tokens", None, max_tokens)
    if matched is not None:
        return Completion(text, "stop_sequence", matched, len(tokens))
    return Completion(text, "end_turn", None, len(tokens))


def _first_stop(text: str, stop_sequences: list[str]) -> tuple[int, str | None]:
    best: tuple[int, str | None] = (len(text), None)
    for sequence in stop_sequences:
        index = text.find(sequence)
        if index != -1 and index < best[0]:
            best = (index, sequence)
    return best


def complete(body: dict) -> Completion:
    """The whole reply for a validated /v1/messages body."""
    text = compose_reply(body.get("system"), body["messages"], body["model"])
    return finish(text, max_tokens=body["max_tokens"], stop_sequences=body.get("stop_sequences"))
