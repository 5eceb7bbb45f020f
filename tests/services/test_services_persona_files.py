"""Persona import and export through the service: round trips, drafts for existing keys,
and all-or-nothing imports."""

from __future__ import annotations

import json

import pytest

from chatbot import store
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import PersonaSpec
from chatbot.personas.files import FORMAT, ImportedPersona, PersonaFileError
from chatbot.services import persona_files as personas_module  # _keyed lives there
from chatbot.services.personas import ImportResult, PersonaService, ResolvedPersona

from test_services_personas import (  # noqa: F401  (personas: a fixture)
    ADMIN,
    ANA,
    BILLING,
    BO,
    edited,
    personas,
    row_counts,
)


def persona_file(items: list[tuple[str | None, PersonaSpec]]) -> bytes:
    """A JSON import file; a None key leaves the key out (the name gives it)."""
    entries = [({"key": key} if key else {}) | spec.to_dict() for key, spec in items]
    return json.dumps({"format": FORMAT, "personas": entries}, indent=2).encode()


REFUNDS = edited(BILLING, name="Refunds", description="Refunds only.")
SHIPPING = edited(BILLING, name="Shipping", template="You track parcels.", variables=[])


def test_export_then_import_changes_nothing(personas: PersonaService, engine) -> None:
    personas.seed_defaults()
    personas.create(ANA, BILLING)
    personas.create(ANA, REFUNDS)
    personas.create(ANA, SHIPPING)
    personas.archive(ADMIN, "shipping")
    exported = personas.export(ADMIN, None, "json")
    before = row_counts(engine)

    result = personas.import_file(BO, exported.encode(), "personas.json")
    # By name: Billing, Customer support assistant, Refunds; archived ones left out.
    assert result == ImportResult(
        created=[], updated=[], unchanged=["billing", "support", "refunds"]
    )
    assert row_counts(engine) == before
    # Explicit keys, archived ones included, in the order asked.
    chosen = personas.export(ADMIN, ["shipping", "billing"], "json")
    result = personas.import_file(BO, chosen.encode(), "x.json")
    assert result.unchanged == ["shipping", "billing"]
    # YAML too.
    everything = personas.export(ADMIN, None, "yaml")
    assert len(personas.import_file(BO, everything.encode(), "all.yaml").unchanged) == 3
    assert row_counts(engine) == before


def test_export_of_an_unknown_key_or_format(personas: PersonaService) -> None:
    with pytest.raises(NotFoundError):
        personas.export(ADMIN, ["nope"], "json")
    with pytest.raises(InputError, match="yaml or json"):
        personas.export(ADMIN, None, "xml")  # type: ignore[arg-type]


def test_import_creates_new_and_drafts_existing(personas: PersonaService) -> None:
    personas.create(ANA, BILLING)
    better = edited(BILLING, greeting="Welcome")
    data = persona_file([("billing", better), ("refunds", REFUNDS)])

    result = personas.import_file(BO, data, "team.json")
    assert result == ImportResult(created=["refunds"], updated=["billing"], unchanged=[])
    assert personas.published("billing").number == 1  # the import is a draft
    assert personas.latest(ADMIN, "billing") == ResolvedPersona("billing", 2, better, published=False)
    assert personas.versions(ADMIN, "billing")[0].note == "Imported from team.json"
    assert personas.published("refunds").spec == REFUNDS  # new: created and published
    assert personas.versions(ADMIN, "refunds")[0].created_by == "bo"


def test_import_is_all_or_nothing_when_a_persona_is_invalid(personas, engine) -> None:
    personas.create(ANA, BILLING)
    broken = edited(SHIPPING, template="BROKEN-TEMPLATE")
    data = persona_file(
        [("billing", edited(BILLING, greeting="New")), ("refunds", REFUNDS), ("shipping", broken)]
    )
    data = data.replace(b"BROKEN-TEMPLATE", b"Hi {{ undeclared }}")  # the 3rd persona
    before = row_counts(engine)
    with pytest.raises(PersonaFileError) as caught:
        personas.import_file(BO, data, "bad.json")
    assert caught.value.line
    assert row_counts(engine) == before
    assert personas.latest(ADMIN, "billing").number == 1


def test_import_is_one_transaction(personas, engine, monkeypatch) -> None:
    """A failure while writing the 3rd persona undoes the first two."""
    personas.create(ANA, BILLING)
    data = persona_file(
        [("billing", edited(BILLING, greeting="New")), ("refunds", REFUNDS), ("shipping", SHIPPING)]
    )
    real = store.create_persona
    calls = []

    def failing_create(**kwargs):
        calls.append(kwargs["key"])
        if kwargs["key"] == "shipping":
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(personas_module.store, "create_persona", failing_create)
    before = row_counts(engine)
    with pytest.raises(RuntimeError):
        personas.import_file(BO, data, "x.json")
    assert calls == ["refunds", "shipping"]
    assert row_counts(engine) == before


def test_a_key_twice_in_one_file_is_refused(personas, engine) -> None:
    data = persona_file([("refunds", REFUNDS), ("billing", BILLING), ("refunds", SHIPPING)])
    with pytest.raises(PersonaFileError):
        personas.import_file(BO, data, "x.json")
    assert row_counts(engine) == (0, 0)


def test_a_name_that_gives_the_key_of_another_persona_in_the_file(personas, engine) -> None:
    data = persona_file([("billing", REFUNDS), (None, SHIPPING), (None, BILLING)])
    clash = "'billing' is also the key of the persona at line"
    with pytest.raises(PersonaFileError, match=clash) as caught:
        personas.import_file(BO, data, "x.json")
    assert caught.value.line and caught.value.line > 4
    assert row_counts(engine) == (0, 0)


def test_personas_without_a_key_are_keyed_by_name(personas) -> None:
    data = persona_file([(None, REFUNDS), (None, edited(BILLING, name="Billing & Co"))])
    assert personas.import_file(BO, data, "x.json").created == ["refunds", "billing-co"]
    # The same file again: the names give the same keys, so nothing changes.
    assert personas.import_file(BO, data, "x.json").unchanged == ["refunds", "billing-co"]


def test_keys_of_imported_personas() -> None:
    keyed = personas_module._keyed(
        [ImportedPersona(None, BILLING, 2), ImportedPersona("refunds", REFUNDS, 9)]
    )
    assert keyed == [("billing", BILLING), ("refunds", REFUNDS)]
    clash = r"line 14: its key 'billing' is also the key of the persona at line 2"
    with pytest.raises(PersonaFileError, match=clash):
        personas_module._keyed(
            [ImportedPersona(None, BILLING, 2), ImportedPersona("billing", REFUNDS, 14)]
        )
