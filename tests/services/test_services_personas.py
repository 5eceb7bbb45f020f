"""The persona use cases against a real SQLite file (and the loopback sandbox for tokens)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, event

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.errors import InputError, NotFoundError
from chatbot.llm import LLMClient
from chatbot.personas import SHIPPED, SUPPORT, PersonaSpec, Variable
from chatbot.sandbox.replies import input_tokens
from chatbot.services.personas import (
    PersonaService,
    PersonaSummary,
    Preview,
    ResolvedPersona,
    diff_specs,
)

from actors import ADMIN

# Two admins, so a test can tell whose change a version records.
ANA = Actor("ana", Role.ADMIN, "Ana")
BO = Actor("bo", Role.ADMIN, "Bo")

BILLING = PersonaSpec(
    name="Billing",
    description="Invoices and refunds.",
    template="You help {{ company }} customers with bills.\nBe brief.",
    variables=(Variable("company", "Company", default="Acme", required=True),),
)


def edited(spec: PersonaSpec, **changes) -> PersonaSpec:
    return PersonaSpec.from_dict({**spec.to_dict(), **changes})


@pytest.fixture
def personas(engine: Engine) -> PersonaService:
    return PersonaService(engine)


def row_counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return tuple(
            connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in ("persona", "persona_version")
        )


# -- seeding ------------------------------------------------------------------------------


def test_seed_defaults_is_idempotent(personas: PersonaService) -> None:
    assert personas.seed_defaults() == len(SHIPPED)
    assert personas.seed_defaults() == 0
    support = personas.published("support")
    assert support == ResolvedPersona("support", 1, SUPPORT, published=True)
    [info] = personas.versions(ADMIN, "support")
    assert (info.number, info.created_by, info.note, info.published) == (
        1, "system", "Shipped default", True,
    )  # fmt: skip


def test_seed_from_two_threads_at_once(engine: Engine) -> None:
    start = threading.Barrier(2)
    created: list[int] = []
    errors: list[BaseException] = []

    def seed() -> None:
        try:
            start.wait(timeout=10)
            created.append(PersonaService(engine).seed_defaults())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=seed) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(created) == [0, len(SHIPPED)]
    assert row_counts(engine) == (len(SHIPPED), len(SHIPPED))


def test_seed_keeps_an_admins_changes(personas: PersonaService) -> None:
    personas.seed_defaults()
    personas.save(ANA, "support", edited(SUPPORT, greeting="Hello there"), publish=True)
    personas.archive(ADMIN, "support")
    assert personas.seed_defaults() == 0
    assert personas.latest(ADMIN, "support").number == 2


# -- create, save, publish, restore, duplicate, archive -----------------------------------


def test_create_save_publish_flow(personas: PersonaService) -> None:
    created = personas.create(ANA, BILLING, note="first cut")
    assert created == ResolvedPersona("billing", 1, BILLING, published=True)

    better = edited(BILLING, template="You help {{ company }} customers with invoices.")
    draft = personas.save(BO, "billing", better, note="wording")
    assert (draft.number, draft.published) == (2, False)
    assert personas.published("billing").number == 1  # a draft changes nothing for agents
    assert personas.latest(ADMIN, "billing") == ResolvedPersona("billing", 2, better, published=False)

    assert personas.publish(ANA, "billing", 2).published
    assert personas.published("billing").spec == better
    assert personas.version("billing", 1) == ResolvedPersona("billing", 1, BILLING, published=False)

    [summary] = personas.list(ADMIN)
    assert summary == PersonaSummary(
        key="billing", name="Billing", description="Invoices and refunds.",
        published_version=2, latest_version=2, archived=False, updated_at=summary.updated_at,
    )  # fmt: skip
    infos = personas.versions(ADMIN, "billing")
    assert [(v.number, v.created_by, v.note, v.published) for v in infos] == [
        (2, "bo", "wording", True),
        (1, "ana", "first cut", False),
    ]


def test_save_and_publish_in_one_step(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    saved = personas.save(ANA, "billing", edited(BILLING, max_tokens=500), publish=True)
    assert saved.published and personas.published("billing").number == 2


def test_save_without_changes_is_refused(personas: PersonaService, engine: Engine) -> None:
    personas.create(ANA, BILLING)
    with pytest.raises(InputError, match="No changes to save"):
        personas.save(ANA, "billing", PersonaSpec.from_dict(BILLING.to_dict()))
    assert row_counts(engine) == (1, 1)


def test_create_makes_keys_unique_and_checks_given_ones(personas: PersonaService) -> None:
    assert personas.create(ANA, BILLING).key == "billing"
    assert personas.create(ANA, BILLING).key == "billing-2"
    assert personas.create(ANA, BILLING).key == "billing-3"
    assert personas.create(ANA, edited(BILLING, name="Billing!!")).key == "billing-4"
    assert personas.create(ANA, BILLING, key="money").key == "money"
    with pytest.raises(InputError, match="already used by the persona 'Billing'"):
        personas.create(ANA, BILLING, key="money")
    with pytest.raises(InputError, match="key"):
        personas.create(ANA, BILLING, key="Not A Key")
    long_name = edited(BILLING, name="x" * 80)
    keys = [personas.create(ANA, long_name).key for _ in range(2)]
    assert keys == ["x" * 63, "x" * 61 + "-2"]


def test_restore_makes_a_new_version_and_leaves_the_old_one(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    changed = edited(BILLING, greeting="Hi!")
    personas.save(ANA, "billing", changed, publish=True)

    restored = personas.restore(BO, "billing", 1)
    assert restored == ResolvedPersona("billing", 3, BILLING, published=False)
    assert personas.published("billing").number == 2  # not published unless asked
    assert personas.version("billing", 1).spec == BILLING
    assert personas.version("billing", 2).spec == changed
    assert personas.versions(ADMIN, "billing")[0].note == "Restored from version 1"
    assert personas.diff(ADMIN, "billing", 1, 3) == ""

    with pytest.raises(InputError, match="No changes to save"):
        personas.restore(BO, "billing", 3)  # already the latest content
    again = personas.restore(BO, "billing", 2, publish=True)
    assert (again.number, again.published, personas.published("billing").number) == (4, True, 4)


def test_duplicate(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    personas.save(ANA, "billing", edited(BILLING, greeting="Draft greeting"))
    copy = personas.duplicate(BO, "billing")
    assert (copy.key, copy.number, copy.published) == ("billing-copy", 1, True)
    assert copy.spec == edited(BILLING, name="Billing (copy)", greeting="Draft greeting")
    assert personas.versions(ADMIN, "billing-copy")[0].note == "Duplicated from billing version 2"
    assert personas.duplicate(BO, "billing").key == "billing-copy-2"
    assert personas.duplicate(BO, "billing", name="Refunds").spec.name == "Refunds"
    with pytest.raises(InputError, match="name"):
        personas.duplicate(BO, "billing", name="   ")

    personas.create(ANA, edited(BILLING, name="y" * 80), key="long")
    assert len(personas.duplicate(BO, "long").spec.name) == 80


def test_archive_hides_a_persona_but_keeps_its_versions(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    personas.archive(ADMIN, "billing")
    with pytest.raises(NotFoundError, match="archived"):
        personas.published("billing")
    assert personas.list(ADMIN) == []
    assert [s.archived for s in personas.list(ADMIN, include_archived=True)] == [True]
    # Conversations already on it keep their version.
    assert personas.version("billing", 1).spec == BILLING
    personas.archive(ADMIN, "billing", archived=False)
    assert personas.published("billing").number == 1


def test_unknown_keys_and_numbers(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    for call in (
        lambda: personas.published("nope"),
        lambda: personas.latest(ADMIN, "nope"),
        lambda: personas.versions(ADMIN, "nope"),
        lambda: personas.save(ANA, "nope", BILLING),
        lambda: personas.archive(ADMIN, "nope"),
        lambda: personas.version("billing", 7),
        lambda: personas.publish(ANA, "billing", 7),
        lambda: personas.restore(ANA, "billing", 7),
        lambda: personas.diff(ADMIN, "billing", 1, 7),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_published_needs_a_published_version(personas: PersonaService, engine: Engine) -> None:
    with store.write_session(engine) as session:
        store.create_persona(
            session=session, key="draft", spec=BILLING.to_dict(), created_by="a", publish=False
        )
    with pytest.raises(NotFoundError, match="no published version"):
        personas.published("draft")
    assert personas.latest(ADMIN, "draft").published is False


def test_versions_are_cached_and_immutable(personas: PersonaService, engine: Engine) -> None:
    personas.create(ANA, BILLING)
    personas.version("billing", 1)
    statements: list[str] = []
    capture = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert personas.version("billing", 1).spec == BILLING
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert not any("persona_version" in s for s in statements)  # served from the cache


def test_a_version_that_no_longer_validates_is_reported(personas, engine) -> None:
    with store.write_session(engine) as session:
        bad = {**BILLING.to_dict(), "temperature": 5}  # as if the rules became stricter
        store.create_persona(session=session, key="old", spec=bad, created_by="a")
    with pytest.raises(InputError, match="no longer valid"):
        personas.published("old")
    # ...and saving a corrected version is possible.
    assert personas.save(ANA, "old", BILLING, publish=True).number == 2


def test_one_service_from_many_threads(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait(timeout=10)
            for n in range(3):
                writer = Actor(f"w{index}", Role.ADMIN)
                personas.save(writer, "billing", edited(BILLING, greeting=f"{index}-{n}"))
                personas.version("billing", 1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [v.number for v in personas.versions(ADMIN, "billing")] == list(range(19, 0, -1))


# -- diff ---------------------------------------------------------------------------------


def test_diff_of_a_template_change(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    personas.save(
        ANA, "billing", edited(BILLING, template=BILLING.template.replace("brief", "kind"))
    )
    diff = personas.diff(ADMIN, "billing", 1, 2)
    lines = diff.splitlines()
    assert lines[:2] == ["--- version 1", "+++ version 2"]
    assert "-  Be brief." in lines and "+  Be kind." in lines
    assert "   You help {{ company }} customers with bills." in lines  # context, unchanged
    assert not any(line.startswith(("-name", "+name")) for line in lines)
    assert personas.diff(ADMIN, "billing", 1, 1) == ""


def test_diff_of_a_variable_change(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    variables = [
        {"name": "company", "label": "Company", "default": "Globex", "required": True},
        {"name": "region", "label": "", "default": "", "required": False},
    ]
    personas.save(ANA, "billing", edited(BILLING, variables=variables))
    changed = [
        line
        for line in personas.diff(ADMIN, "billing", 2, 1).splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-  company: label 'Company', default 'Globex', required",
        "-  region: optional",
        "+  company: label 'Company', default 'Acme', required",
    ]


def test_diff_specs_is_pure_and_labels_as_told() -> None:
    other = edited(BILLING, suggestions=["Refund?"], temperature=None)
    diff = diff_specs(BILLING, other, "version A", "version B")
    assert diff.startswith("--- version A\n+++ version B\n")
    assert "+temperature: (API default)" in diff and "+  - Refund?" in diff
    assert "-suggestions: (none)" in diff


# -- preview ------------------------------------------------------------------------------


def test_preview_renders_without_a_client(personas: PersonaService) -> None:
    preview = personas.preview(ADMIN, BILLING, {"company": "Globex"})
    assert preview == Preview(
        prompt="You help Globex customers with bills.\nBe brief.", tokens=None, error=None
    )


def test_preview_with_a_missing_variable_is_an_error_not_an_exception(personas) -> None:
    spec = edited(BILLING, variables=[{"name": "company", "required": True}])  # no default
    preview = personas.preview(ADMIN, spec, {"company": "  "})
    assert preview.prompt is None and preview.tokens is None
    assert "company" in preview.error



def test_preview_counts_tokens_on_the_sandbox(engine: Engine, client: LLMClient) -> None:
    preview = PersonaService(engine, client).preview(ADMIN, BILLING, {})
    assert preview.prompt == "You help Acme customers with bills.\nBe brief."
    assert preview.error is None
    # The system prompt plus the one-word user turn the count is made with.
    assert preview.tokens == input_tokens(preview.prompt, [{"role": "user", "content": "Hello"}])


def test_preview_keeps_the_prompt_when_counting_fails(engine: Engine, client: LLMClient) -> None:
    spec = edited(BILLING, model="claude-no-such-model")  # the sandbox answers 404
    preview = PersonaService(engine, client).preview(ADMIN, spec, {})
    assert preview.prompt == "You help Acme customers with bills.\nBe brief."
    assert preview.tokens is None and preview.error


# -- import and export --------------------------------------------------------------------
