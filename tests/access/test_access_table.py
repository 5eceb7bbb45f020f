"""Every service entry point x every role: allowed, or refused with nothing changed.

The table below is written from the issue's role list, not read from the policy, so the
policy can be wrong and this fails. A public method added to a service without a row
here (or a reason it is not an entry point) fails the first test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.errors import NotFoundError
from chatbot.llm import Turn
from chatbot.personas import SUPPORT
from chatbot.services.replay_plan import ReplayTarget
from chatbot.services.runtime import Runtime, build_runtime
from chatbot.store.search import SearchFilters
from chatbot.store.audit import AuditFilter

A, Q, D, N = Role.AGENT, Role.QA, Role.ADMIN, Role.NONE
ACTORS = {role: Actor(f"t-{role.value}", role, address="10.1.1.1") for role in (A, Q, D, N)}
PASSWORD = "correct horse battery staple"
PERSONA_FILE = SUPPORT.to_dict()


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


Call = Callable[[World, Actor], object]

# entry point -> (roles allowed, a call of it with objects fitting the actor)
ENTRY: dict[str, tuple[set[Role], Call]] = {
    # The chat page: an agent's own conversations (admins too).
    "ChatService.send": ({A, D}, lambda w, a: wait_done(
        w.rt.chat.send(a, conversation_id=w.conversation(a)[0], text="And when will it arrive?"))),
    "ChatService.retry": ({A, D}, lambda w, a: wait_done(
        w.rt.chat.retry(a, conversation_id=w.conversation(a)[0]))),
    "ChatService.active": ({A, D}, lambda w, a: w.rt.chat.active(a, w.conversation(a)[0])),
    "ChatService.budget_warning": ({A, D}, lambda w, a: w.rt.chat.budget_warning(a)),
    "Conversations.list": ({A, D}, lambda w, a: w.rt.conversations.list(a)),
    "Conversations.start": ({A, D}, lambda w, a: w.rt.conversations.start(a, persona="support")),
    "Conversations.default_persona": ({A, D}, lambda w, a: w.rt.conversations.default_persona(a)),
    "Conversations.transcript": ({A, Q, D}, lambda w, a: w.rt.conversations.transcript(a, w.conversation(a)[0])),
    "Conversations.export": ({A, Q, D}, lambda w, a: w.rt.conversations.export(a, w.conversation(a)[0], "md")),
    "Conversations.rename": ({A, D}, lambda w, a: w.rt.conversations.rename(a, w.conversation(a)[0], "Renamed")),
    "Conversations.update_details": ({A, D}, lambda w, a: w.rt.conversations.update_details(
        a, w.conversation(a)[0], {"customer_name": "Dana"})),
    "Conversations.delete": ({A, D}, lambda w, a: w.rt.conversations.delete(a, w.conversation(a)[0])),
    "SummaryService.summarise": ({A, D}, lambda w, a: w.rt.summaries.summarise(a, w.conversation(a)[0])),
    "SummaryService.latest": ({A, Q, D}, lambda w, a: w.rt.summaries.latest(a, w.conversation(a)[0])),
    "SummaryService.card": ({A, Q, D}, lambda w, a: w.rt.summaries.card(a, w.conversation(a)[0], [])),
    "QAService.rate": ({A, D}, lambda w, a: w.rt.qa.rate(a, w.conversation(a)[1], 1)),
    "QAService.ratings": ({A, Q, D}, lambda w, a: w.rt.qa.ratings(a, w.conversation(a)[0])),
    # Personas: everyone picks a published one; QA read drafts; admins change them.
    "PersonaService.list": ({A, Q, D}, lambda w, a: w.rt.personas.list(a)),
    "PersonaService.published_for": ({A, Q, D}, lambda w, a: w.rt.personas.published_for(a, "support")),
    "PersonaService.summary": ({Q, D}, lambda w, a: w.rt.personas.summary(a, "support")),
    "PersonaService.versions": ({Q, D}, lambda w, a: w.rt.personas.versions(a, "support")),
    "PersonaService.latest": ({Q, D}, lambda w, a: w.rt.personas.latest(a, "support")),
    "PersonaService.diff": ({Q, D}, lambda w, a: w.rt.personas.diff(a, "support", 1, 1)),
    "PersonaService.create": ({D}, lambda w, a: w.rt.personas.create(a, replace(SUPPORT, name="New one"))),
    "PersonaService.save": ({D}, lambda w, a: w.rt.personas.save(
        a, w.persona(), replace(SUPPORT, greeting="Hello there"), note="edit")),
    "PersonaService.publish": ({D}, lambda w, a: w.rt.personas.publish(a, w.persona(), 1)),
    "PersonaService.restore": ({D}, lambda w, a: w.rt.personas.restore(a, w.persona(versions=2), 1)),
    "PersonaService.duplicate": ({D}, lambda w, a: w.rt.personas.duplicate(a, "support")),
    "PersonaService.archive": ({D}, lambda w, a: w.rt.personas.archive(a, w.persona())),
    "PersonaService.preview": ({D}, lambda w, a: w.rt.personas.preview(a, SUPPORT, {})),
    "PersonaService.export": ({D}, lambda w, a: w.rt.personas.export(a, ["support"], "json")),
    "PersonaService.import_file": ({D}, lambda w, a: w.rt.personas.import_file(
        a, w.rt.personas.export(ACTORS[D], ["support"], "json").encode(), "support.json")),
    "ScratchChat.stream": ({D}, lambda w, a: list(w.rt.scratch.stream(a, SUPPORT, {}, [Turn("user", "Hi")]))),
    # QA: every conversation, read only; notes, tags, the golden set; exports and imports.
    "QAService.find": ({Q, D}, lambda w, a: w.rt.qa.find(a, SearchFilters())),
    "QAService.matching_ids": ({Q, D}, lambda w, a: w.rt.qa.matching_ids(a, SearchFilters())),
    "QAService.transcript": ({Q, D}, lambda w, a: w.rt.qa.transcript(a, w.conversation(a)[0])),
    "QAService.tags": ({Q, D}, lambda w, a: w.rt.qa.tags(a)),
    "QAService.owners": ({Q, D}, lambda w, a: w.rt.qa.owners(a)),
    "QAService.personas_used": ({Q, D}, lambda w, a: w.rt.qa.personas_used(a)),
    "QAService.is_golden": ({Q, D}, lambda w, a: w.rt.qa.is_golden(a, w.conversation(a)[0])),
    "QAService.golden_conversations": ({Q, D}, lambda w, a: w.rt.qa.golden_conversations(a)),
    "QAService.note": ({Q, D}, lambda w, a: w.rt.qa.note(a, w.conversation(a)[0], "Good.")),
    "QAService.tag": ({Q, D}, lambda w, a: w.rt.qa.tag(a, w.conversation(a)[0], "refund")),
    "QAService.untag": ({Q, D}, lambda w, a: w.rt.qa.untag(a, w.conversation(a)[0], "refund")),
    "QAService.remove_annotation": ({Q, D}, lambda w, a: w.rt.qa.remove_annotation(a, w.annotation(a))),
    "QAService.set_golden": ({Q, D}, lambda w, a: w.rt.qa.set_golden(a, w.conversation(a)[0], True)),
    "Exports.json": ({A, Q, D}, lambda w, a: w.rt.exports.json(a, [w.conversation(a)[0]])),
    "Exports.markdown": ({A, Q, D}, lambda w, a: w.rt.exports.markdown(a, [w.conversation(a)[0]])),
    "Exports.csv": ({A, Q, D}, lambda w, a: w.rt.exports.csv(a, [w.conversation(a)[0]])),
    "Exports.import_json": ({Q, D}, lambda w, a: w.rt.exports.import_json(
        a, w.rt.exports.json(ACTORS[D], [w.conversation(ACTORS[A])[0]]))),
    # Replays and checks.
    "ReplayService.preview": ({Q, D}, lambda w, a: w.rt.replays.preview(a, [w.conversation(a)[0]], ReplayTarget())),
    "ReplayService.start": ({Q, D}, lambda w, a: w.rt.replays.wait(
        w.rt.replays.start(a, [w.conversation(a)[0]], ReplayTarget()), 30)),
    "ReplayService.replay_golden": ({Q, D}, lambda w, a: (
        w.rt.qa.set_golden(ACTORS[Q], w.conversation(ACTORS[A])[0], True),
        w.rt.replays.wait(w.rt.replays.replay_golden(a, "support", 1), 30))),
    "ReplayService.resume": ({Q, D}, lambda w, a: (lambda run: (w.rt.replays.resume(a, run),
                                                                w.rt.replays.wait(run, 30)))(w.run())),
    "ReplayService.cancel": ({Q, D}, lambda w, a: w.rt.replays.cancel(a, w.run())),
    "ReplayService.is_active": ({Q, D}, lambda w, a: w.rt.replays.is_active(a, w.run())),
    "ReplayService.progress": ({Q, D}, lambda w, a: w.rt.replays.progress(a, w.run())),
    "ReplayService.runs": ({Q, D}, lambda w, a: w.rt.replays.runs(a)),
    "ReplayService.results": ({Q, D}, lambda w, a: w.rt.replays.results(a, w.run())),
    "ReplayService.pass_rates": ({Q, D}, lambda w, a: w.rt.replays.pass_rates(a)),
    "ChecksService.list": ({Q, D}, lambda w, a: w.rt.checks.list(a)),
    "ChecksService.get": ({Q, D}, lambda w, a: w.rt.checks.get(a, w.check())),
    "ChecksService.create": ({Q, D}, lambda w, a: w.rt.checks.create(
        a, name=f"Says sorry {w.person()}", kind="contains", config={"text": "sorry"})),
    "ChecksService.update": ({Q, D}, lambda w, a: w.rt.checks.update(a, w.check(), description="Changed")),
    "ChecksService.archive": ({Q, D}, lambda w, a: w.rt.checks.archive(a, w.check())),
    "ChecksService.try_check": ({Q, D}, lambda w, a: w.rt.checks.try_check(
        a, w.rt.checks.get(ACTORS[Q], w.check()), "Your order ships today.")),
    # Usage, budgets, people, the audit log: admins.
    "UsageService.summary": ({D}, lambda w, a: w.rt.usage.summary(a, *since_until())),
    "UsageService.timeline": ({D}, lambda w, a: w.rt.usage.timeline(a, *since_until())),
    "UsageService.csv": ({D}, lambda w, a: w.rt.usage.csv(a, *since_until())),
    "UsageService.owners": ({D}, lambda w, a: w.rt.usage.owners(a)),
    "UsageService.flagged": ({D}, lambda w, a: w.rt.usage.flagged(a)),
    "BudgetService.statuses": ({D}, lambda w, a: w.rt.budgets.statuses(a)),
    "BudgetService.alerts": ({D}, lambda w, a: w.rt.budgets.alerts(a)),
    "BudgetService.policy": ({D}, lambda w, a: w.rt.budgets.policy(a)),
    "BudgetService.set_budget": ({D}, lambda w, a: w.rt.budgets.set_budget(
        a, user=w.person(), period="day", limit_usd=5)),
    "BudgetService.remove_budget": ({D}, lambda w, a: w.rt.budgets.remove_budget(a, w.budget())),
    "BudgetService.set_policy": ({D}, lambda w, a: w.rt.budgets.set_policy(a, "stop")),
    "BudgetService.banner": ({A, Q, D, N}, lambda w, a: w.rt.budgets.banner(a)),  # about one's own budgets
    "UserService.list": ({D}, lambda w, a: w.rt.identity.users.list(a)),
    "UserService.get": ({D}, lambda w, a: w.rt.identity.users.get(a, w.person())),
    "UserService.usernames": ({Q, D}, lambda w, a: w.rt.identity.users.usernames(a)),
    "UserService.add": ({D}, lambda w, a: w.rt.identity.users.add(
        a, f"new-{w.person()}", role="agent", password=PASSWORD)),
    "UserService.set_role": ({D}, lambda w, a: w.rt.identity.users.set_role(a, w.person(), "qa")),
    "UserService.set_active": ({D}, lambda w, a: w.rt.identity.users.set_active(a, w.person(), False)),
    "UserService.disable": ({D}, lambda w, a: w.rt.identity.users.disable(a, w.person())),
    "UserService.enable": ({D}, lambda w, a: w.rt.identity.users.enable(a, w.person())),
    "UserService.reset_password": ({D}, lambda w, a: w.rt.identity.users.reset_password(
        a, w.person(), "another fine passphrase")),
    "UserService.update": ({D}, lambda w, a: w.rt.identity.users.update(a, w.person(), display_name="Renamed")),
    "UserService.reassign": ({D}, lambda w, a: w.rt.identity.users.reassign(a, w.person(), w.person())),
    "AuditLog.page": ({D}, lambda w, a: w.rt.identity.audit.page(a, AuditFilter())),
    "AuditLog.csv": ({D}, lambda w, a: w.rt.identity.audit.csv(a, AuditFilter())),
}

# Public methods that are not entry points for a signed-in person, and why.
NOT_ENTRY_POINTS = {
    "ChatService.close": "process shutdown",
    "ChatService.is_orphaned": "a pure test of a message already read through a checked transcript",
    "Conversations.persona_of": "takes a conversation already read through a checked call",
    "PersonaService.published": "the chat turn and replays, after their own checks; published content only",
    "PersonaService.version": "pinned versions for the chat turn, replays and QA transcripts",
    "PersonaService.spec": "the same, as a spec",
    "PersonaService.published_keys": "the default persona of a new conversation",
    "PersonaService.latest_number": "a replay target's latest draft, after replays.run",
    "PersonaService.seed_defaults": "start-up, as the system",
    "BudgetService.check": "accounting before a call, by services that checked their caller",
    "BudgetService.after_call": "accounting after a call is recorded",
    "BudgetService.record_alerts": "accounting after a call is recorded",
    "BudgetService.warm": "start-up",
    "ChecksService.kinds": "static form metadata",
    "ChecksService.many": "the replay worker, after start was allowed",
    "ChecksService.evaluate": "the replay worker, after start was allowed",
    "ReplayService.plan": "internal to preview, start and the worker",
    "ReplayService.estimate": "a pure calculation",
    "ReplayService.wait": "tests wait for a run",
    "ReplayService.close": "process shutdown",
    "UserService.provision": "makes accounts for add (checked) and the sign-in paths (nobody to check yet)",
    "UserService.needs_first_admin": "the anonymous sign-in page: whether to offer setup",
    "AuditLog.append": "services record what an actor did, inside their own transaction",
    "AuditLog.record": "the same, in a transaction of its own",
    "AuditLog.refusal": "the same, for refusals, capped per client",
}

# The sign-in machinery: anonymous by nature (it is what makes an actor).
ANONYMOUS = {"SignInService", "FirstAdmin"}

SERVICES = {
    "ChatService": lambda rt: rt.chat, "Conversations": lambda rt: rt.conversations,
    "PersonaService": lambda rt: rt.personas, "ScratchChat": lambda rt: rt.scratch,
    "SummaryService": lambda rt: rt.summaries, "BudgetService": lambda rt: rt.budgets,
    "ChecksService": lambda rt: rt.checks, "ReplayService": lambda rt: rt.replays, "QAService": lambda rt: rt.qa,
    "Exports": lambda rt: rt.exports, "UsageService": lambda rt: rt.usage,
    "UserService": lambda rt: rt.identity.users, "AuditLog": lambda rt: rt.identity.audit,
    "SignInService": lambda rt: rt.identity.signin, "FirstAdmin": lambda rt: rt.identity.first_admin,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, sandbox_server):
    data = tmp_path_factory.mktemp("access")
    rt = build_runtime({
        "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": sandbox_server.base_url,
        "CHATBOT_DATA_DIR": str(data), "CHATBOT_MAX_ATTEMPTS": "1", "CHATBOT_CACHE_TTL": "0",
    }, dotenv_path=None)
    for actor in ACTORS.values():  # real accounts, so budgets and reassignments can name them
        waiting = actor.role == N  # an SSO account no admin has given a role yet
        rt.identity.users.provision(actor.username, role=actor.role, password=None if waiting else PASSWORD,
                                    source="oidc" if waiting else "password")
    yield World(rt)
    rt.close()


def public_methods(service: object) -> set[str]:
    cls = type(service)
    return {
        f"{cls.__name__}.{name}" for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member)
        and not isinstance(inspect.getattr_static(cls, name), property)
    }


def test_every_public_service_method_is_in_the_table_or_says_why_not(world):
    found = set()
    for name, get in SERVICES.items():
        methods = public_methods(get(world.rt))
        found |= {m for m in methods if name not in ANONYMOUS}
    runtime_services = {type(getattr(world.rt, f.name)).__name__ for f in world.rt.__dataclass_fields__.values()
                        if type(getattr(world.rt, f.name)).__module__.startswith("chatbot.services")}
    assert runtime_services - set(SERVICES) <= {"Generations", "JudgeService"}, "a service the table misses"
    assert found - set(ENTRY) - set(NOT_ENTRY_POINTS) == set(), "an unclassified public method"
    assert set(ENTRY) - found == set() and set(NOT_ENTRY_POINTS) - found == set(), "a row for a method that is gone"
    for name in ENTRY:
        cls, method = name.split(".")
        parameters = list(inspect.signature(getattr(SERVICES[cls](world.rt), method)).parameters)
        assert parameters[0] == "actor", f"{name} does not take the acting user first"


def snapshot(rt: Runtime) -> dict[str, int]:
    """Row counts of every table but the audit log (which refusals write to)."""
    with rt.engine.connect() as connection:
        tables = [t for t in sa_inspect(connection).get_table_names()
                  if t not in ("audit_entry", "alembic_version") and not t.startswith("message_fts")]
        return {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}


class Watched:
    """The runtime, with every service call made by `actor` noted just before it runs:
    the state of the database and of the API then is what a refused call must leave.
    (The objects a call works on are made by the World's builders while its arguments are
    evaluated, so before this point.)"""

    def __init__(self, target: object, actor: Actor, notes: list, sandbox) -> None:  # noqa: ANN001
        self._target, self._actor, self._notes, self._sandbox = target, actor, notes, sandbox

    def __getattr__(self, name: str) -> object:
        value = getattr(self._target, name)
        if name in ("engine",) or isinstance(value, int | str | float | bool) or value is None:
            return value
        if callable(value):
            def call(*args, **kwargs):  # noqa: ANN002, ANN003
                if args and args[0] is self._actor:
                    self._notes.append((snapshot(ROOT_RT[0]), len(self._sandbox.state.requests())))
                return value(*args, **kwargs)

            return call
        return Watched(value, self._actor, self._notes, self._sandbox)


ROOT_RT: list[Runtime] = []
CASES = [(name, role) for name in ENTRY for role in (A, Q, D, N)]


@pytest.mark.parametrize("name, role", CASES, ids=[f"{n}-{r.value}" for n, r in CASES])
def test_each_role_is_allowed_or_refused_with_nothing_changed(world, sandbox_server, name, role):
    allowed, call = ENTRY[name]
    actor = ACTORS[role]
    if role in allowed:
        call(world, actor)  # allowed: it simply works
        return
    ROOT_RT[:] = [world.rt]
    notes: list = []
    watched = World(Watched(world.rt, actor, notes, sandbox_server), world.n)  # type: ignore[arg-type]
    with pytest.raises((AccessDenied, NotFoundError)):
        call(watched, actor)
    world.n = watched.n
    assert notes, "the call never reached the service"
    before, requests = notes[-1]
    assert snapshot(world.rt) == before, "a refused call changed something"
    assert len(sandbox_server.state.requests()) == requests, "a refused call reached the API"


# -- another person's objects, asked for by id -----------------------------------------

OTHER_AGENT = Actor("t-agent2", A, address="10.1.1.2")
MISSING = 999_999

# id-taking entry points an agent may use, called with (conversation id, reply id).
BY_ID: dict[str, Callable[[Runtime, Actor, int, int], object]] = {
    "ChatService.send": lambda rt, a, c, r: rt.chat.send(a, conversation_id=c, text="Mine now?"),
    "ChatService.retry": lambda rt, a, c, r: rt.chat.retry(a, conversation_id=c),
    "ChatService.active": lambda rt, a, c, r: rt.chat.active(a, c),
    "Conversations.transcript": lambda rt, a, c, r: rt.conversations.transcript(a, c),
    "Conversations.export": lambda rt, a, c, r: rt.conversations.export(a, c, "json"),
    "Conversations.rename": lambda rt, a, c, r: rt.conversations.rename(a, c, "Taken over"),
    "Conversations.update_details": lambda rt, a, c, r: rt.conversations.update_details(a, c, {"customer_name": "X"}),
    "Conversations.delete": lambda rt, a, c, r: rt.conversations.delete(a, c),
    "SummaryService.summarise": lambda rt, a, c, r: rt.summaries.summarise(a, c),
    "SummaryService.latest": lambda rt, a, c, r: rt.summaries.latest(a, c),
    "SummaryService.card": lambda rt, a, c, r: rt.summaries.card(a, c, []),
    "QAService.rate": lambda rt, a, c, r: rt.qa.rate(a, r, -1, "mine"),
    "QAService.ratings": lambda rt, a, c, r: rt.qa.ratings(a, c),
    "Exports.json": lambda rt, a, c, r: rt.exports.json(a, [c]),
    "Exports.markdown": lambda rt, a, c, r: rt.exports.markdown(a, [c]),
    "Exports.csv": lambda rt, a, c, r: rt.exports.csv(a, [c]),
}
# id-taking entry points for QA and admins only: their objects (runs, checks, notes,
# budgets, audit pages) are the team's, and an agent is refused the whole feature before
# any id is looked at.
TEAM_OBJECTS = {
    "QAService.transcript", "QAService.is_golden", "QAService.note", "QAService.tag", "QAService.untag",
    "QAService.remove_annotation", "QAService.set_golden", "ReplayService.preview", "ReplayService.start",
    "ReplayService.resume", "ReplayService.cancel", "ReplayService.is_active", "ReplayService.progress",
    "ReplayService.results", "ChecksService.get", "ChecksService.update", "ChecksService.archive",
    "ReplayService.replay_golden", "BudgetService.remove_budget", "AuditLog.page",
}


def takes_an_id(name: str, world: World) -> bool:
    cls, method = name.split(".")
    parameters = inspect.signature(getattr(SERVICES[cls](world.rt), method)).parameters
    return any(p.endswith(("_id", "_ids")) for p in parameters)


def test_every_id_taking_entry_point_is_tried_with_another_persons_id(world):
    with_ids = {name for name in ENTRY if takes_an_id(name, world)}
    assert with_ids == set(BY_ID) | TEAM_OBJECTS
    for name in TEAM_OBJECTS:
        assert A not in ENTRY[name][0], f"{name}: agents would need the per-person check of BY_ID"


@pytest.mark.parametrize("name", sorted(BY_ID))
def test_another_agents_object_is_not_found_exactly_as_a_missing_one(world, sandbox_server, name):
    call = BY_ID[name]
    cid, reply = world.conversation(ACTORS[A])  # the first agent's
    with pytest.raises(NotFoundError) as missing:
        call(world.rt, OTHER_AGENT, MISSING, MISSING)
    before, requests = snapshot(world.rt), len(sandbox_server.state.requests())
    with pytest.raises(NotFoundError) as foreign:
        call(world.rt, OTHER_AGENT, cid, reply)
    assert foreign.value.user_message == missing.value.user_message  # no hint that it exists
    assert snapshot(world.rt) == before and len(sandbox_server.state.requests()) == requests
    # ...and the owner can do it (the refusal is about whose it is, not a broken call).
    result = call(world.rt, ACTORS[A], cid, reply)
    if hasattr(result, "wait"):
        assert result.wait(30)
