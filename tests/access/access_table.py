"""The table the access tests walk: every service entry point, the roles it allows (from
the issue's role list, not read from the policy, so the policy can be wrong and the tests
fail), and a call of it; the public methods that are not entry points, and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from access_world import ACTORS, PASSWORD, A, D, N, Q, World, since_until, wait_done
from chatbot.auth import Actor, Role
from chatbot.llm import Turn
from chatbot.personas import SUPPORT
from chatbot.services.replay_plan import ReplayTarget
from chatbot.store.audit import AuditFilter
from chatbot.store.search import SearchFilters

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
    "UserService.provision": "makes accounts for add (checked), tests and scripts",
    "UserService.provision_in": "the same in a transaction, for the sign-in paths (nobody to check yet)",
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


