"""Personas and their numbered, immutable versions in the store."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from chatbot.store import (
    NotFoundError,
    add_persona_version,
    create_persona,
    get_persona_by_key,
    get_persona_version,
    latest_persona_version,
    latest_version_numbers,
    list_persona_versions,
    list_personas,
    make_engine,
    migrate,
    persona_keys_like,
    read_session,
    set_persona_archived,
    set_published_version,
    write_session,
)


def spec(name: str = "Billing", template: str = "You help with bills.", **extra) -> dict:
    return {"name": name, "description": f"{name} questions", "template": template, **extra}


def make(engine: Engine, key: str = "billing", **kwargs):
    with write_session(engine) as session:
        return create_persona(
            session=session, key=key, spec=kwargs.pop("spec", spec()), created_by="ana", **kwargs
        )


def test_create_makes_a_published_version_one(engine: Engine) -> None:
    persona, version = make(engine, note="first")
    assert (persona.key, persona.name) == ("billing", "Billing")
    assert persona.description == "Billing questions"
    assert persona.published_version == 1 and not persona.archived
    assert (version.number, version.created_by, version.note) == (1, "ana", "first")
    assert version.spec == spec()
    assert persona.created_at.tzinfo is not None

    draft, _ = make(engine, key="draft", publish=False)
    assert draft.published_version is None


def test_a_key_is_unique(engine: Engine) -> None:
    make(engine)
    with pytest.raises(IntegrityError):
        make(engine, spec=spec("Other"))
    with read_session(engine) as session:
        assert [p.name for p in list_personas(session=session)] == ["Billing"]


def test_bad_arguments_are_refused(engine: Engine) -> None:
    with write_session(engine) as session:
        with pytest.raises(ValueError):
            create_persona(session=session, key="", spec=spec(), created_by="ana")
        with pytest.raises(ValueError):
            create_persona(session=session, key="x", spec={"template": "t"}, created_by="ana")


def test_versions_number_up_and_update_the_listing(engine: Engine) -> None:
    persona, _ = make(engine)
    with write_session(engine) as session:
        v2 = add_persona_version(
            session=session, persona_id=persona.id, spec=spec("Billing desk"), created_by="bo"
        )
        v3 = add_persona_version(
            session=session, persona_id=persona.id, spec=spec("Billing team"), created_by="cy",
            note="tone",
        )  # fmt: skip
    assert (v2.number, v3.number, v3.note) == (2, 3, "tone")
    with read_session(engine) as session:
        stored = get_persona_by_key(session=session, key="billing")
        assert (stored.name, stored.description) == ("Billing team", "Billing team questions")
        assert stored.updated_at >= persona.updated_at
        assert stored.published_version == 1  # a new version is a draft
        numbers = [v.number for v in list_persona_versions(session=session, persona_id=persona.id)]
        assert numbers == [3, 2, 1]
        assert latest_persona_version(session=session, persona_id=persona.id).number == 3
        first = get_persona_version(session=session, persona_id=persona.id, number=1)
        assert first.spec == spec()  # untouched by later versions
        assert get_persona_version(session=session, persona_id=persona.id, number=9) is None
        assert latest_version_numbers(session=session) == {persona.id: 3}


def test_version_of_a_missing_persona(engine: Engine) -> None:
    with write_session(engine) as session:
        with pytest.raises(NotFoundError):
            add_persona_version(session=session, persona_id=99, spec=spec(), created_by="ana")


def test_publish_and_archive(engine: Engine) -> None:
    persona, _ = make(engine)
    with write_session(engine) as session:
        add_persona_version(session=session, persona_id=persona.id, spec=spec("B2"), created_by="a")
        published = set_published_version(session=session, persona_id=persona.id, number=2)
        assert published.published_version == 2
        with pytest.raises(NotFoundError):
            set_published_version(session=session, persona_id=persona.id, number=5)
        with pytest.raises(NotFoundError):
            set_published_version(session=session, persona_id=42, number=1)
    make(engine, key="alpha", spec=spec("Alpha"))
    with write_session(engine) as session:
        set_persona_archived(session=session, persona_id=persona.id)
    with read_session(engine) as session:
        assert [p.key for p in list_personas(session=session)] == ["alpha"]
        everything = list_personas(session=session, include_archived=True)
        assert [p.key for p in everything] == ["alpha", "billing"]  # by name: Alpha, B2
    with write_session(engine) as session:
        set_persona_archived(session=session, persona_id=persona.id, archived=False)
    with read_session(engine) as session:
        assert len(list_personas(session=session)) == 2


def test_keys_like_matches_the_key_and_its_numbered_variants_only(engine: Engine) -> None:
    for key in ("billing", "billing-2", "billing-desk", "billings", "bill"):
        make(engine, key=key)
    make(engine, key="a_b", spec=spec("Underscore"))  # not a valid_key, but LIKE must not match
    with read_session(engine) as session:
        assert persona_keys_like(session=session, prefix="billing") == {
            "billing", "billing-2", "billing-desk",
        }  # fmt: skip
        assert persona_keys_like(session=session, prefix="a") == set()


def test_deleting_a_persona_deletes_its_versions(engine: Engine) -> None:
    persona, _ = make(engine)
    with write_session(engine) as session:
        add_persona_version(session=session, persona_id=persona.id, spec=spec("B2"), created_by="a")
    with engine.begin() as connection:  # the database's cascade, as a raw delete would see it
        connection.execute(text("DELETE FROM persona WHERE id = :id"), {"id": persona.id})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM persona_version")).scalar() == 0


def test_version_numbers_are_unique_per_persona(engine: Engine) -> None:
    persona, _ = make(engine)
    with pytest.raises(IntegrityError):
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO persona_version (persona_id, number, spec, created_by, created_at)"
                    " VALUES (:id, 1, '{}', 'x', '2026-01-01 00:00:00')"
                ),
                {"id": persona.id},
            )


WRITERS = 8
PER_WRITER = 5


@pytest.fixture
def wide_engine(database_url: str) -> Iterator[Engine]:
    # Enough pooled connections that the writers contend in the database, not in the pool.
    engine = make_engine(database_url, pool_size=WRITERS + 2)
    migrate(engine)
    yield engine
    engine.dispose()


def test_concurrent_versions_get_contiguous_numbers(wide_engine: Engine) -> None:
    persona, _ = make(wide_engine)
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(PER_WRITER):
                with write_session(wide_engine) as session:
                    add_persona_version(
                        session=session,
                        persona_id=persona.id,
                        spec=spec(f"Writer {index} edit {n}"),
                        created_by=f"w{index}",
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with read_session(wide_engine) as session:
        versions = list_persona_versions(session=session, persona_id=persona.id)
        stored = get_persona_by_key(session=session, key="billing")
    total = WRITERS * PER_WRITER + 1
    assert [v.number for v in versions] == list(range(total, 0, -1))
    # The listing copy is the newest version's name, whichever writer was last.
    assert stored.name == versions[0].spec["name"]
