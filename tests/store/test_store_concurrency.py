"""Many writers at once, next to a long read: no "database is locked", no duplicate positions."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from chatbot.store import (
    Conversation,
    add_message,
    create_conversation,
    list_messages,
    make_engine,
    migrate,
    read_session,
    write_session,
)

WRITERS = 20
SHARED_PER_WRITER = 5
OWN_PER_WRITER = 3
TIMEOUT = 60  # seconds; only reached if something deadlocks


@pytest.fixture
def wide_engine(database_url: str) -> Iterator[Engine]:
    # A pool big enough that all writers and the reader hold connections at once,
    # so they contend in the database rather than queue in the pool.
    engine = make_engine(database_url, pool_size=WRITERS + 5)
    migrate(engine)
    yield engine
    engine.dispose()


def test_concurrent_writers_beside_an_open_read(wide_engine: Engine) -> None:
    engine = wide_engine
    with write_session(engine) as session:
        shared = create_conversation(session=session, persona="support")

    reader_has_snapshot = threading.Event()
    writers_done = threading.Event()
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    seen_by_reader: list[int] = []
    own_conversations: list[Conversation] = []

    def count_shared(session) -> int:
        return len(list_messages(session=session, conversation_id=shared.id))

    def reader() -> None:
        try:
            with read_session(engine) as session:
                seen_by_reader.append(count_shared(session))
                reader_has_snapshot.set()
                assert writers_done.wait(TIMEOUT)
                # Same transaction, same snapshot: it was really open throughout.
                seen_by_reader.append(count_shared(session))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            reader_has_snapshot.set()

    def writer(n: int) -> None:
        try:
            start.wait(TIMEOUT)
            with write_session(engine) as session:
                own = create_conversation(session=session, persona="support", owner=f"w{n}")
            own_conversations.append(own)
            for i in range(max(SHARED_PER_WRITER, OWN_PER_WRITER)):
                if i < SHARED_PER_WRITER:
                    with write_session(engine) as session:
                        add_message(
                            session=session, conversation_id=shared.id, role="user",
                            content=f"w{n}-{i}",
                        )  # fmt: skip
                if i < OWN_PER_WRITER:
                    with write_session(engine) as session:
                        add_message(
                            session=session, conversation_id=own.id, role="user", content=f"{i}"
                        )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    reading = threading.Thread(target=reader)
    reading.start()
    assert reader_has_snapshot.wait(TIMEOUT)
    writing = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in writing:
        thread.start()
    for thread in writing:
        thread.join(TIMEOUT)
    writers_done.set()
    reading.join(TIMEOUT)

    assert errors == []
    assert seen_by_reader == [0, 0]
    with read_session(engine) as session:
        messages = list_messages(session=session, conversation_id=shared.id)
        own_positions = [
            [m.position for m in list_messages(session=session, conversation_id=c.id)]
            for c in own_conversations
        ]
    assert [m.position for m in messages] == list(range(WRITERS * SHARED_PER_WRITER))
    expected_contents = {f"w{n}-{i}" for n in range(WRITERS) for i in range(SHARED_PER_WRITER)}
    assert {m.content for m in messages} == expected_contents
    assert own_positions == [list(range(OWN_PER_WRITER))] * WRITERS
