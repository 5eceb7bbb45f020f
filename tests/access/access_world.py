"""What the access tests act on: one actor per role, and a World whose builders make fresh
objects (a conversation, a person, a replay run...) for each call, so no call sees
another's changes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.personas import SUPPORT
from chatbot.services.runtime import Runtime

A, Q, D, N = Role.AGENT, Role.QA, Role.ADMIN, Role.NONE
ACTORS = {role: Actor(f"t-{role.value}", role, address="10.1.1.1") for role in (A, Q, D, N)}
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    """What the calls work on; every call gets fresh objects, so none sees another's changes."""

    rt: Runtime
    n: int = 0

    def owner(self, actor: Actor) -> Actor:
        """Who owns the conversation a call by `actor` works on: the actor, if they chat."""
        return actor if actor.role in (A, D) else ACTORS[A]

    def conversation(self, actor: Actor) -> tuple[int, int]:
        """(conversation id, its reply's id): one finished exchange owned as above."""
        with store.write_session(self.rt.engine) as session:
            c = store.create_conversation(session=session, persona="support", persona_version=1,
                                          owner=self.owner(actor).username)
            _, reply = store.add_messages(session=session, conversation_id=c.id, messages=[
                {"role": "user", "content": "Where is order 1042?"},
                {"role": "assistant", "content": "It ships today.", "status": "complete"}])
        return c.id, reply.id

    def person(self) -> str:
        self.n += 1
        name = f"person-{self.n}"
        self.rt.identity.users.provision(name, role="agent", password=PASSWORD)
        return name

    def run(self) -> int:
        cid, _ = self.conversation(ACTORS[A])
        with store.write_session(self.rt.engine) as session:
            run = store.ReplayRun(status="cancelled", conversation_ids=[cid], check_ids=[], created_by="t-qa",
                                  persona="support", persona_version=1, turns_total=1)
            session.add(run)
            session.flush()
            return run.id

    def check(self) -> int:
        self.n += 1
        return self.rt.checks.create(ACTORS[Q], name=f"Mentions orders {self.n}", kind="contains",
                                     config={"text": "order"}).id

    def budget(self) -> int:
        return self.rt.budgets.set_budget(ACTORS[D], user="", period="month", limit_usd=1000).budget_id

    def persona(self, versions: int = 1) -> str:
        self.n += 1
        key = self.rt.personas.create(ACTORS[D], replace(SUPPORT, name=f"Copy {self.n}"), key=f"copy-{self.n}").key
        for number in range(2, versions + 1):
            self.rt.personas.save(ACTORS[D], key, replace(SUPPORT, name=f"Copy {self.n}", greeting=f"Hi {number}"))
        return key

    def annotation(self, actor: Actor) -> int:
        cid, _ = self.conversation(actor)
        return self.rt.qa.note(ACTORS[Q], cid, "Checked.").id


def wait_done(generation) -> None:  # noqa: ANN001
    assert generation.wait(30), "the reply did not finish"


def since_until() -> tuple:
    now = store.utc_now()
    return now - timedelta(days=1), now + timedelta(minutes=1)


def snapshot(rt: Runtime) -> dict[str, int]:
    """Row counts of every table but the audit log (which refusals write to)."""
    with rt.engine.connect() as connection:
        tables = [t for t in sa_inspect(connection).get_table_names()
                  if t not in ("audit_entry", "alembic_version") and not t.startswith("message_fts")]
        return {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}


