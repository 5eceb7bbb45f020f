""""Try it": a scratch chat against a persona draft, for admins. Nothing is saved: it is a
test bench, not a support conversation, and it never touches the conversation store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chatbot.auth import Actor
from chatbot.auth.policy import Access
from chatbot.llm import LLMClient, ReplyStream, Turn
from chatbot.personas import PersonaSpec

from .context import build_request


class ScratchChat:
    def __init__(self, client: LLMClient, *, access: Access) -> None:
        self.client = client
        self.access = access

    def stream(
        self, actor: Actor, spec: PersonaSpec, values: Mapping[str, str], turns: Sequence[Turn]
    ) -> ReplyStream:
        """Stream a reply to `turns` (ending with the admin's message) as `spec` would.
        AccessDenied without "personas.edit" (no call is made); `TemplateError` if a
        variable the template needs has no sample value."""
        self.access.require(actor, "personas.edit", target="persona try-it")
        system = spec.system_prompt(values)
        # Never from the cache: the point of a scratch chat is to see this draft answer.
        return self.client.stream(build_request(spec, system=system, turns=turns), use_cache=False)
