"""What the replay tests share: a store, personas and checks on the loopback sandbox
(`Env`), the conversation they replay (`STORY`), and readers of what the sandbox received
and of the audit log."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import text

from chatbot import store
from chatbot.llm import ClientSettings, LLMClient, Secret
from chatbot.services.checks_service import ChecksService
from chatbot.services.personas import PersonaService
from chatbot.services.replay import ReplayService
from chatbot.store import replays as rows

from actors import ADMIN

WAIT = 20  # seconds: an upper bound for a run to finish, never slept
VARS = {"company_name": "Acme", "agent_name": "Alex", "customer_name": "Dana", "ticket_id": "T-7"}


class Env:
    def __init__(self, database_url: str, sandbox) -> None:
        self.sandbox = sandbox
        self.engine = store.make_engine(database_url)
        store.migrate(self.engine)
        self.client = LLMClient(
            ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1),
        )
        self.personas = PersonaService(self.engine, self.client)
        self.personas.seed_defaults()
        self.checks = ChecksService(self.engine)
        self.services: list[ReplayService] = []

    def service(self, **kw: Any) -> ReplayService:
        kw.setdefault("concurrency", 1)
        service = ReplayService(engine=self.engine, client=self.client, personas=self.personas,
                                checks=self.checks, **kw)
        self.services.append(service)
        return service

    def draft(self, company: str = "Globex", model: str | None = None) -> int:
        """A new, unpublished version of the support persona for another company."""
        spec = self.personas.published("support").spec
        spec = dataclasses.replace(
            spec, template=spec.template.replace("{{ company_name }}", company),
            model=model or spec.model,
        )
        return self.personas.save(ADMIN, "support", spec).number

    def conversation(self, messages: list[tuple[str, str, str]], *, version: int = 1) -> list[int]:
        """A stored conversation: (role, content, status) each; returns the message ids."""
        with store.write_session(self.engine) as session:
            conversation = store.create_conversation(
                session=session, persona="support", persona_version=version, persona_vars=VARS, owner="ana"
            )
            added = store.add_messages(
                session=session, conversation_id=conversation.id,
                messages=[
                    dict(role=role, content=content, status=status,
                         **({"output_tokens": 40, "input_tokens": 300, "total_ms": 900.0} if role == "assistant" else {}))
                    for role, content, status in messages
                ],
            )
            self.last_conversation = conversation.id
        return [m.id for m in added]

    def results(self, run_id: int) -> list[store.ReplayResult]:
        with store.read_session(self.engine) as session:
            return rows.list_results(session=session, run_id=run_id)

    def calls(self, purpose: str = "replay") -> list[store.ApiCall]:
        with store.read_session(self.engine) as session:
            return [c for c in store.list_api_calls(session=session) if c.purpose == purpose]

    def close(self) -> None:
        for service in self.services:
            service.close()
        self.client.close()
        self.engine.dispose()


def audit(engine) -> list[tuple[str, str, str, str, str]]:
    """(action, actor, role, target, detail) of every audit entry, oldest first, read with
    plain SQL rather than the audit service."""
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            text("SELECT action, actor, role, target, detail FROM audit_entry ORDER BY id")).all()]


def finish(service: ReplayService, run_id: int) -> None:
    assert service.wait(run_id, WAIT), "the replay run did not finish"


def sent(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.state.requests() if r.get("path", "/v1/messages") == "/v1/messages"]


def history(body: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


STORY = [
    ("user", "Hi, where is order 1042?", "complete"),
    ("assistant", "Let me check order 1042 for you.", "complete"),
    ("user", "It was due yesterday.", "complete"),
    ("assistant", "Sorry for the wai", "partial"),  # cut off: the agent saw this much
    ("user", "Hello?", "complete"),
    ("assistant", "", "error"),  # failed with no text: not a turn of its own
    ("user", "Can I get a refund instead?", "complete"),
    ("assistant", "Yes, refunds take 5-10 business days.", "complete"),
]
