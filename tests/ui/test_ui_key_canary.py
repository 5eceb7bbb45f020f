"""The API key reaches the API and nothing else (DESIGN.md, "The backend client"): not the
database, session state, logs, exceptions, reprs or the page, even when calls fail.

A unique canary key is used with a sandbox that accepts only that key, so a reply proves
the key was sent, and any copy of the canary anywhere else is a leak."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Iterable, Iterator

import pytest
from actors import AGENT, QA
from ui_helpers import conversation_id, send, walk

from chatbot.llm import ChatRequest, LLMError, Turn
from chatbot.personas import SUPPORT
from chatbot.sandbox import SandboxServer
from chatbot.ui.resources import get_runtime

CANARY = f"sk-ant-canary-{uuid.uuid4()}"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # format() adds the traceback text of exc_info and stack_info too.
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))


@pytest.fixture
def everything_logged() -> Iterator[Capture]:
    """Every logger at DEBUG, each record captured however its logger is configured."""
    capture = Capture()
    saved: dict[logging.Logger, int] = {}
    attached: list[logging.Logger] = []

    def debug_everything() -> None:
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            saved.setdefault(logger, logger.level)
            logger.setLevel(logging.DEBUG)
            # Streamlit's loggers do not propagate: attach to them directly.
            if (logger.name == "root" or not logger.propagate) and capture not in logger.handlers:
                logger.addHandler(capture)
                attached.append(logger)

    capture.debug_everything = debug_everything  # type: ignore[attr-defined]
    debug_everything()
    yield capture
    for logger in attached:
        logger.removeHandler(capture)
    for logger, level in saved.items():
        logger.setLevel(level)


@pytest.fixture
def canary_sandbox():
    with SandboxServer(delay_ms=0, api_key=CANARY) as server:
        yield server


def error_texts(error: BaseException) -> Iterator[str]:
    """Everything an exception could show: its chain, args, attributes and traceback."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        yield repr(vars(current)) if hasattr(current, "__dict__") else ""
        if isinstance(current, LLMError):
            yield current.user_message
        current = current.__cause__ or current.__context__
    yield "".join(traceback.format_exception(error))


def leaks(texts: Iterable[str]) -> list[str]:
    return [text for text in texts if CANARY in text]


def test_the_scan_finds_the_canary_when_it_is_there():
    # The checks below can fail: the same scan flags a planted copy.
    assert leaks(["x", f"key={CANARY}!"]) == [f"key={CANARY}!"]
    assert CANARY.encode() in f"...{CANARY}...".encode()


def test_the_api_key_never_leaks(new_app, db, monkeypatch, canary_sandbox, everything_logged, app_env):
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", canary_sandbox.base_url)
    faults = canary_sandbox.state

    at = new_app()
    everything_logged.debug_everything()  # loggers created while the runtime was built
    runtime = get_runtime()

    send(at, "I need a refund for order 1042")
    cid = conversation_id(at)
    faults.add_faults([{"kind": "status", "status": 529}] * 2)
    send(at, "They also want to know where order #1043 is.")
    assert "overloaded" in at.chat_message[3].error[0].value
    at.button(key=next(b.key for b in at.main.button if b.label == "Retry")).click().run()
    faults.add_faults([{"kind": "drop", "after": 3}])
    send(at, "Anything else they should know?")
    faults.add_faults([{"kind": "status", "status": 401}])
    send(at, "Thanks!")
    assert "ANTHROPIC_API_KEY" in at.chat_message[7].error[0].value

    # The same failures through the service and the client, to keep the error objects.
    errors: list[BaseException] = []
    faults.add_faults([{"kind": "status", "status": 401}])
    generation = runtime.chat.send(AGENT, conversation_id=cid, text="One more question.")
    assert generation.wait(timeout=30)
    errors.append(generation.error)
    for fault in ({"kind": "status", "status": 401}, {"kind": "status", "status": 529}):
        faults.add_faults([fault] * 2)
        with pytest.raises(LLMError) as raised:
            runtime.client.create(ChatRequest(model=SUPPORT.model, messages=[Turn("user", "Hi")]))
        errors.append(raised.value)
        faults.clear_faults()  # a 401 is not retried: its second copy is left over
    assert [getattr(e, "status", None) for e in errors] == [401, 401, 529]
    at.run()

    # The key did reach the API: this sandbox answers only to the canary.
    requests = faults.requests()
    assert requests and all(r["has_key"] for r in requests)
    assert db("SELECT status FROM message WHERE role = 'assistant' ORDER BY id") == [
        ("complete",), ("complete",), ("partial",), ("error",), ("error",)
    ]
    assert "x-api-key" not in json.dumps(requests)

    # ...and nowhere else.
    data_files = sorted((app_env / "data").iterdir())
    assert any(f.name == "chatbot.db" for f in data_files)
    for path in data_files:  # chatbot.db, and its -wal / -shm while the engine is open
        assert CANARY.encode() not in path.read_bytes(), path
    state = at.session_state
    assert not leaks([repr(dict(state.items())), repr(at.query_params)])
    assert not leaks([repr(key) + repr(value) for key, value in state.items()])
    assert not leaks(everything_logged.lines), "the key was logged"
    assert len(everything_logged.lines) > 20  # DEBUG logging really was on
    assert any(line.startswith("httpcore") for line in everything_logged.lines)
    assert not leaks(text for error in errors for text in error_texts(error))
    assert not leaks(error for (error,) in db("SELECT coalesce(error, '') FROM message"))
    client = runtime.client
    assert not leaks(
        [
            repr(runtime),
            repr(runtime.settings),
            repr(client),
            str(client.settings),
            repr(client.settings),
            repr(client.settings.api_key),
            f"{client.settings.api_key}",
            repr(vars(client)),
            repr(client._http.headers),
            repr(client._http.auth),
        ]
    )
    page = [str(at)] + [
        repr(node) + (str(node.proto) if getattr(node, "proto", None) is not None else "")
        for node in walk(at._tree)
    ]
    assert any("Sandbox reply" in text for text in page)  # the walk did reach the messages
    assert not leaks(page)



QA_PAGES = ("../../pages/usage.py", "../../pages/qa_conversations.py", "../../pages/qa_replays.py", "../../pages/qa_checks.py")


def test_summaries_replays_batches_and_the_admin_and_qa_pages_keep_the_key_too(
    new_app, db, monkeypatch, canary_sandbox, everything_logged, app_env
):
    from chatbot.llm import MessageBatches
    from chatbot.services.replay import ReplayTarget

    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", canary_sandbox.base_url)
    at = new_app()
    everything_logged.debug_everything()
    runtime = get_runtime()
    send(at, "My parcel never arrived, order 1042")
    cid = conversation_id(at)

    errors: list[BaseException] = []
    runtime.summaries.summarise(AGENT, cid)  # a structured call, recorded
    canary_sandbox.state.add_faults([{"kind": "status", "status": 401}])
    with pytest.raises(LLMError) as raised:
        runtime.summaries.summarise(AGENT, cid)
    errors.append(raised.value)
    run_id = runtime.replays.start(QA, [cid], ReplayTarget())
    assert runtime.replays.wait(run_id, 30)
    assert runtime.replays.progress(QA, run_id).status == "done"
    batches = MessageBatches(runtime.client)
    batch = batches.submit([("a1", ChatRequest(model=SUPPORT.model, messages=[Turn("user", "Hi")]))])
    assert [type(r).__name__ for _, r in batches.results(batches.wait(batch.id, sleep=lambda s: None))] == ["Reply"]

    page = []
    admin = new_app({"qc": str(cid)}, user="admin")  # the QA and admin pages, QA transcript open
    for path in QA_PAGES:
        admin.switch_page(path).run()
        assert not admin.exception, (path, admin.exception)
        page += [str(admin)] + [
            repr(node) + (str(node.proto) if getattr(node, "proto", None) is not None else "")
            for node in walk(admin._tree)
        ]

    assert any("Sandbox reply" in text for text in page)  # the open transcript was walked
    requests = canary_sandbox.state.requests()
    assert len(requests) >= 4 and all(r["has_key"] for r in requests)  # it did reach the API
    for path in sorted((app_env / "data").iterdir()):
        assert CANARY.encode() not in path.read_bytes(), path
    assert not leaks(page)
    assert not leaks(everything_logged.lines), "the key was logged"
    assert not leaks(text for error in errors for text in error_texts(error))
    assert not leaks([repr(dict(at.session_state.items())), repr(dict(admin.session_state.items())),
                      repr(runtime.replays), repr(batches)])
