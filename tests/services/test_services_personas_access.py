"""Who may do what with personas: agents see published personas only, QA reads drafts too,
only admins change them; every change and every refusal is in the audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import InputError
from chatbot.llm import LLMClient, Turn
from chatbot.services.personas import PersonaService, PersonaSummary
from chatbot.services.scratch import ScratchChat

from actors import ADMIN, AGENT, QA
from test_services_personas import BILLING, edited, personas  # noqa: F401  (personas: a fixture)
from test_services_persona_files import REFUNDS, persona_file

NOBODY = Actor("waiting", Role.NONE)  # signed in by SSO, no role given yet


def audit(engine: Engine) -> list[tuple[str, str, str, str, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(
            "SELECT actor, role, action, target, detail FROM audit_entry ORDER BY id"
        )]


def persona_tables(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    """Every persona and version row, to show that a refused call changed nothing."""
    with engine.connect() as connection:
        return (
            [tuple(r) for r in connection.exec_driver_sql(
                "SELECT key, name, archived, published_version, updated_at FROM persona ORDER BY id")],
            [tuple(r) for r in connection.exec_driver_sql(
                "SELECT persona_id, number, created_by, note FROM persona_version ORDER BY id")],
        )



@pytest.fixture
def arranged(personas: PersonaService, engine: Engine) -> PersonaService:
    """billing: published v1 and a renamed draft v2; hidden: never published; old:
    archived; the shipped support persona."""
    personas.seed_defaults()
    personas.create(ADMIN, BILLING)
    personas.save(ADMIN, "billing", edited(BILLING, name="Billing (draft name)",
                                           description="Not out yet."))
    personas.create(ADMIN, edited(BILLING, name="Old desk"), key="old")
    personas.archive(ADMIN, "old")
    with store.write_session(engine) as session:
        store.create_persona(session=session, key="hidden", spec=REFUNDS.to_dict(),
                             created_by="admin", publish=False)
    return personas


# -- every change: admins only ------------------------------------------------------------


def edits(personas: PersonaService, client: LLMClient) -> dict[str, Callable[[Actor], object]]:
    scratch = ScratchChat(client, access=personas.access)
    data = persona_file([("billing", edited(BILLING, greeting="Hi")), ("refunds", REFUNDS)])

    def try_it(actor: Actor) -> str:
        with scratch.stream(actor, BILLING, {}, [Turn("user", "Hello")]) as reply:
            return "".join(reply)

    return {
        "create": lambda actor: personas.create(actor, REFUNDS),
        "save": lambda actor: personas.save(actor, "billing", edited(BILLING, greeting="Hey")),
        "save and publish": lambda actor: personas.save(
            actor, "billing", edited(BILLING, greeting="Hey"), publish=True),
        "publish": lambda actor: personas.publish(actor, "billing", 2),
        "restore": lambda actor: personas.restore(actor, "billing", 1),
        "duplicate": lambda actor: personas.duplicate(actor, "billing"),
        "archive": lambda actor: personas.archive(actor, "billing"),
        "unarchive": lambda actor: personas.archive(actor, "old", archived=False),
        "import": lambda actor: personas.import_file(actor, data, "team.json"),
        "export": lambda actor: personas.export(actor, ["billing"], "yaml"),
        "preview": lambda actor: personas.preview(actor, BILLING, {}),
        "try it": try_it,
    }


EDITS = ["create", "save", "save and publish", "publish", "restore", "duplicate", "archive",
         "unarchive", "import", "export", "preview", "try it"]


@pytest.mark.parametrize("actor", [AGENT, QA, NOBODY], ids=lambda a: a.role.value)
@pytest.mark.parametrize("entry", EDITS)
def test_every_change_refuses_those_who_may_not_edit(arranged, engine, client, sandbox, entry, actor):
    call = edits(arranged, client)[entry]
    before, logged = persona_tables(engine), audit(engine)
    sent = len(sandbox.state.requests())

    with pytest.raises(AccessDenied, match=f"Your role \\({actor.role.label}\\) cannot change personas"):
        call(actor)

    assert persona_tables(engine) == before
    assert len(sandbox.state.requests()) == sent  # no token count, no scratch reply
    [refusal] = audit(engine)[len(logged):]
    assert refusal[:3] == (actor.username, actor.role.value, "access.denied")
    assert refusal[4] == "personas.edit"


@pytest.mark.parametrize("entry", EDITS)
def test_an_admin_may_make_every_change(arranged, client, entry):
    edits(arranged, client)[entry](ADMIN)


# -- reading: published only, unless one may read drafts ----------------------------------


def test_an_agent_lists_only_published_personas_as_published(arranged):
    for include_archived in (False, True):
        summaries = arranged.list(AGENT, include_archived=include_archived)
        assert [s.key for s in summaries] == ["billing", "support"]  # no draft-only, no archived
        billing = summaries[0]
        # The published version's name and description, and no sign of the newer draft.
        assert billing == PersonaSummary(
            key="billing", name="Billing", description="Invoices and refunds.",
            published_version=1, latest_version=1, archived=False, updated_at=billing.updated_at,
        )  # fmt: skip
    assert arranged.published_keys() == ["billing", "support"]


def test_qa_and_admins_list_drafts_and_archived_personas_when_asked(arranged):
    for actor in (QA, ADMIN):
        listed = {s.key: s for s in arranged.list(actor)}
        assert sorted(listed) == ["billing", "hidden", "support"]
        assert (listed["billing"].name, listed["billing"].latest_version) == ("Billing (draft name)", 2)
        assert listed["hidden"].published_version is None
        everything = arranged.list(actor, include_archived=True)
        assert [s.key for s in everything if s.archived] == ["old"]


def test_an_agent_may_not_read_versions_or_drafts(arranged, engine):
    reads = {
        "latest": lambda actor: arranged.latest(actor, "billing"),
        "versions": lambda actor: arranged.versions(actor, "billing"),
        "diff": lambda actor: arranged.diff(actor, "billing", 1, 2),
        "summary": lambda actor: arranged.summary(actor, "billing"),
    }
    for name, read in reads.items():
        logged = len(audit(engine))
        with pytest.raises(AccessDenied, match="cannot read persona drafts"):
            read(AGENT)
        [refusal] = audit(engine)[logged:]
        assert refusal == ("agent", "agent", "access.denied", "persona:billing", "personas.read"), name
        assert read(QA) is not None  # QA replays against drafts
    assert arranged.latest(QA, "billing").number == 2
    assert arranged.latest_number("billing") == 2  # for the replay service: no actor


def test_the_persona_picker_gives_the_published_version(arranged, engine):
    assert arranged.published_for(AGENT, "billing").spec == BILLING
    with pytest.raises(AccessDenied):
        arranged.published_for(NOBODY, "billing")
    with pytest.raises(AccessDenied):
        arranged.list(NOBODY)


# -- the audit log ------------------------------------------------------------------------


def test_each_change_is_audited_with_its_author_and_target(personas, engine):
    ana = Actor("ana", Role.ADMIN, "Ana", address="10.1.1.1")
    personas.create(ana, BILLING, key="billing")
    personas.save(ana, "billing", edited(BILLING, greeting="Hi"))
    personas.publish(ana, "billing", 2)
    personas.restore(ana, "billing", 1, publish=True)
    personas.duplicate(ana, "billing")
    personas.archive(ana, "billing")
    personas.archive(ana, "billing", archived=False)
    personas.import_file(ana, persona_file([("billing", BILLING), ("refunds", REFUNDS)]), "team.json")
    personas.export(ana, ["refunds", "billing"], "json")

    assert [entry[2:] for entry in audit(engine)] == [
        ("persona.create", "persona:billing v1", "'Billing', published"),
        ("persona.save", "persona:billing v2", "v1 -> v2 (draft)"),
        ("persona.publish", "persona:billing v2", "published v1 -> v2"),
        ("persona.restore", "persona:billing v3", "v1 -> v3"),
        ("persona.publish", "persona:billing v3", "published v2 -> v3"),
        ("persona.create", "persona:billing-copy v1", "duplicate of billing v3, published"),
        ("persona.archive", "persona:billing v3", "active -> archived"),
        ("persona.archive", "persona:billing v3", "archived -> active"),
        ("persona.import", "persona:billing v3", "unchanged, from team.json"),
        ("persona.import", "persona:refunds v1", "created, published, from team.json"),
        ("persona.export", "persona:refunds v1", "as json, 2 in the file"),
        ("persona.export", "persona:billing v3", "as json, 2 in the file"),
    ]
    assert {entry[:2] for entry in audit(engine)} == {("ana", "admin")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT DISTINCT address FROM audit_entry").all() == [
            ("10.1.1.1",)
        ]


def test_a_change_that_fails_leaves_no_audit_entry(personas, engine):
    personas.create(ADMIN, BILLING)
    logged = audit(engine)
    with pytest.raises(InputError, match="No changes to save"):
        personas.save(ADMIN, "billing", BILLING)
    with pytest.raises(InputError):
        personas.import_file(ADMIN, b"{not json", "bad.json")
    assert audit(engine) == logged


def test_seeding_is_the_systems_and_needs_no_actor(personas):
    personas.seed_defaults()
    [info] = personas.versions(QA, "support")
    assert info.created_by == "system"


def test_a_service_built_without_access_still_checks(engine):
    # Tests and scripts may omit `access`; the policy (and its audit log) is still there.
    personas = PersonaService(engine)
    assert isinstance(personas.access, Access) and isinstance(personas.audit, AuditLog)
    with pytest.raises(AccessDenied):
        personas.create(AGENT, BILLING)
