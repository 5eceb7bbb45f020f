"""Markup in a message or a reply is shown as text, never run (DESIGN.md: pages render
model output; `chatbot/ui/safe_markdown.py` makes it inert)."""

from __future__ import annotations

import re

from actors import AGENT
from ui_helpers import send, transcript, walk

from chatbot.ui.resources import get_runtime

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
JS_LINK = re.compile(r"\]\(\s*<?\s*javascript:", re.I)


def assert_inert(body: str) -> None:
    assert "<" not in body.replace("\\<", ""), body  # every "<" is the escaped, literal one
    assert not JS_LINK.search(body), body


def test_markup_in_a_message_and_in_a_reply_is_inert(new_app, sandbox):
    new_app()  # builds the runtime
    # The sandbox names the company it finds in the system prompt, so a company name holding
    # the payload makes the sandbox's own reply carry it (its quote of the message drops <>[]).
    conversation = get_runtime().conversations.start(
        AGENT, persona="support", variables={"company_name": "company: " + PAYLOAD}
    )
    at = new_app({"c": str(conversation.id)})

    send(at, "Refund please " + PAYLOAD)

    sent = sandbox.state.requests()[-1]["body"]
    assert PAYLOAD in sent["system"]
    assert sent["messages"][-1]["content"] == "Refund please " + PAYLOAD  # stored and sent as typed
    (_, user), (_, reply) = transcript(at)
    for body in (user, reply):
        assert "\\<script>alert(1)\\</script>" in body
        assert "\\<img src=x onerror=alert(1)>" in body
        assert_inert(body)
    assert user.endswith(" x")  # the link keeps its text and loses its target
    assert "Thank" in reply or "Hello" in reply

    protos = [n.proto for n in walk(at._tree) if getattr(n, "proto", None) is not None]
    markdown = [p for p in protos if hasattr(p, "allow_html")]
    assert len(markdown) >= 4
    assert not [p for p in markdown if p.allow_html]  # unsafe_allow_html is never used
    # Everything rendered as Markdown (bodies, labels: the title in the header and the
    # sidebar comes from the message) has no live "<" and no javascript: link.
    rendered = [getattr(p, field) for p in protos for field in ("body", "label") if hasattr(p, field)]
    assert any("alert(1)" in text for text in rendered if text not in (user, reply))
    for text in rendered:
        assert_inert(text)
