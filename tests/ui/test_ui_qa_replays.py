"""The QA Replays page: conversations handed over by the Conversations page, the estimate
before start, a run against the sandbox, its results side by side with the word diff and
check verdicts, pass rates against the version before, the golden set against a draft in
one click, budget refusals, and Cancel / Resume.

Runs go on in the service's own workers: the tests wait on `replays.wait`, never sleep."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from streamlit.testing.v1 import AppTest

from actors import ADMIN
from chatbot.services.replay import ReplayTarget
from chatbot.ui.resources import get_runtime
from chatbot.ui.safe_markdown import safe_markdown
from actors import ADMIN, QA
from ui_helpers import conversation_id, open_address, send, walk

PAGE = "../../pages/qa_replays.py"
WAIT = 30  # seconds: an upper bound for a run to finish, never slept


def open_replays(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def conversation(new_app, *questions: str) -> int:
    at = new_app()
    for question in questions:
        send(at, question)
    return conversation_id(at)


def draft(company: str = "Globex") -> int:
    """A new, unpublished version of the support persona, for another company."""
    personas = get_runtime().personas
    spec = personas.published("support").spec
    assert "{{ company_name }}" in spec.template
    spec = dataclasses.replace(spec, template=spec.template.replace("{{ company_name }}", company))
    return personas.save(ADMIN, "support", spec).number


def names_globex() -> int:
    return get_runtime().checks.create(QA, name="Names Globex", kind="contains", config={"text": "Globex"}).id


def handed_over(new_app, ids: list[int]) -> AppTest:
    """The Replays page of a session the Conversations page handed `ids` to."""
    at = new_app(user="qa")
    at.session_state["qa_replay_ids"] = ids
    return open_replays(at)


def finish(run_id: int) -> None:
    replays = get_runtime().replays
    assert replays.wait(run_id, WAIT), "the replay run did not finish"


def start_button(at: AppTest):
    return at.button(key="replay-start")


def only_run() -> int:
    (run,) = get_runtime().replays.runs(QA)
    return run.run_id


def test_handed_over_ids_show_the_estimate_then_a_run_compares_each_turn(new_app, db):
    cid = conversation(new_app, "Where is order 1042?", "It was due yesterday.")
    check = names_globex()
    version = draft("Globex")
    at = handed_over(new_app, [cid])

    assert at.radio(key="replay-source").value == "handed"
    assert any("1 conversation handed over: #" in c for c in texts(at.caption))
    at.selectbox(key="replay-persona").set_value("support").run()
    versions = at.selectbox(key="replay-version-support")
    assert versions.options == [f"v{version} · draft", "v1 · published"]
    versions.set_value(version)
    at.multiselect(key="replay-checks").set_value([check]).run()

    # The estimate, before anything is sent.
    shown = metrics(at)
    assert shown["Turns to replay"] == "2"
    assert int(shown["Output tokens (est.)"].replace(",", "")) > 0
    assert shown["Cost (est.)"].startswith("$")
    assert db("SELECT COUNT(*) FROM replay_run") == [(0,)]
    assert any("No replay runs yet" in c for c in texts(at.caption))

    start_button(at).click().run()
    assert "The replay has started; its progress is below." in texts(at.success)
    run_id = only_run()
    finish(run_id)
    at.run()
    assert not at.exception, at.exception

    assert db("SELECT status, persona_version, turns_done, turns_total FROM replay_run") == [("done", version, 2, 2)]
    (bar, *_) = at.get("progress")
    assert bar.proto.value == 100 and bar.proto.text.startswith("2 of 2 turns · $")

    # Results: a summary, then each turn's two replies side by side, the diff, the verdicts.
    shown = metrics(at)
    assert (shown["Turns"], shown["Passed"], shown["Failed"], shown["Errors"]) == ("2", "2", "0", "0")
    originals = [c for (c,) in db("SELECT content FROM message WHERE role = 'assistant' ORDER BY position")]
    replayed = [t for (t,) in db("SELECT text FROM replay_result ORDER BY position")]
    assert all("Globex" in t for t in replayed) and not any("Globex" in o for o in originals)
    pairs = [
        [texts(column.markdown) for column in row]
        for row in _column_rows(at)
    ]
    for original, replay in zip(originals, replayed, strict=True):
        assert [[safe_markdown(original)], [safe_markdown(replay)]] in [[a[-1:], b[-1:]] for a, b in pairs]
    diffs = [m for m in texts(at.markdown) if ":green-background[" in m]
    assert len(diffs) == 2 and all(":red-background[~~" in d for d in diffs)
    assert sum(":green-badge[:material/check: Names Globex]" in m for m in texts(at.markdown)) == 2
    assert any(c.startswith("Replay vs original: length ") for c in texts(at.caption))

    # Pass rates: the draft, graded on every turn.
    table = at.dataframe[0].value
    assert list(table["version"]) == [f"support v{version} (draft)"]
    assert list(table["pass rate (%)"]) == [100.0] and list(table["graded"]) == [2]


def test_an_agent_opening_the_replays_address_gets_the_no_access_page_only(new_app, db, sandbox):
    cid = conversation(new_app, "Where is order 1042?")
    run_id = get_runtime().replays.start(QA, [cid], ReplayTarget())
    finish(run_id)
    sandbox.state.clear_requests()

    at = open_address(new_app(), "qa_replays")
    page = at.main
    assert [t.value for t in page.title] == ["Replays"]
    assert texts(page.error) == ["You have no access to this page. Ask an admin if you need it."]
    assert not page.button and not page.metric and not page.dataframe and not page.radio and not page.caption
    assert sandbox.state.requests() == [] and db("SELECT COUNT(*) FROM replay_run") == [(1,)]

    admin = open_address(new_app(user="admin"), "qa_replays")
    assert not admin.error and any(c.startswith(f"Run {run_id} · Live · ") for c in texts(admin.caption))


def _column_rows(at: AppTest) -> list[list]:
    """Every horizontal block's columns (st.columns), as lists."""
    rows = []
    for node in walk(at._tree):
        columns = [child for child in getattr(node, "children", {}).values() if child.type == "column"]
        if len(columns) == 2:
            rows.append(columns)
    return rows


def test_pass_rates_show_a_draft_that_does_worse_than_the_version_before(new_app):
    cid = conversation(new_app, "Where is order 1042?")
    replays = get_runtime().replays
    check = names_globex()
    globex = draft("Globex")
    first = replays.start(QA, [cid], ReplayTarget("support", globex), [check])
    finish(first)
    initech = draft("Initech")
    second = replays.start(QA, [cid], ReplayTarget("support", initech), [check])
    finish(second)

    at = open_replays(new_app(user="qa"))
    table = at.dataframe[0].value
    assert list(table["version"]) == [f"support v{initech} (draft)", f"support v{globex} (draft)"]
    assert list(table["pass rate (%)"]) == [0.0, 100.0]
    assert list(table["compared with"]) == [f"v{globex}", ""]
    assert list(table["change (points)"]) == ["-100.0", ""]
    (regression,) = texts(at.error)
    assert regression.startswith(f"Regression: **support v{initech} \\(draft\\)** on claude\\-sonnet")
    assert f"0% of graded turns pass, against 100% for v{globex}" in regression
    assert "worse on Names Globex" in regression


def test_the_golden_set_replays_against_a_draft_in_one_click(new_app, db):
    golden = conversation(new_app, "Where is order 1042?")
    conversation(new_app, "Not a regression case.")
    runtime = get_runtime()
    runtime.qa.set_golden(QA, golden, True)
    at = open_replays(new_app(user="qa"))
    assert not [b for b in at.button if b.key == "replay-golden-support"]  # no draft yet

    version = draft("Globex")
    at.run()
    button = at.button(key="replay-golden-support")
    assert button.label == f"Replay the golden set against Customer support assistant draft v{version}"
    button.click().run()
    assert f"The golden set is replaying against support v{version}." in texts(at.success)
    run_id = only_run()
    finish(run_id)
    progress = runtime.replays.progress(QA, run_id)
    assert (progress.status, progress.persona_version, progress.total) == ("done", version, 1)
    assert progress.label == f"Golden set on support v{version}"
    assert db("SELECT DISTINCT conversation_id FROM replay_result") == [(golden,)]


def test_over_budget_the_page_refuses_and_starts_nothing(new_app, db, sandbox):
    cid = conversation(new_app, "Where is order 1042?")
    runtime = get_runtime()
    runtime.budgets.set_budget(ADMIN, user="", period="day", limit_usd=0.000001)
    sandbox.state.clear_requests()

    at = handed_over(new_app, [cid])
    (refusal,) = [e for e in texts(at.error) if e.startswith("Over budget:")]
    assert "budget" in refusal.lower()
    assert start_button(at).disabled
    assert db("SELECT COUNT(*) FROM replay_run") == [(0,)] and sandbox.state.requests() == []


def test_a_budget_used_up_after_the_estimate_is_refused_on_start(new_app, db, sandbox):
    cid = conversation(new_app, "Where is order 1042?")
    at = handed_over(new_app, [cid])
    assert not start_button(at).disabled and not at.error

    get_runtime().budgets.set_budget(ADMIN, user="", period="day", limit_usd=0.000001)
    sandbox.state.clear_requests()
    start_button(at).click().run()

    assert any("budget" in e.lower() for e in texts(at.error))
    assert db("SELECT COUNT(*) FROM replay_run") == [(0,)] and sandbox.state.requests() == []


def test_typed_ids_that_are_not_ids_are_explained(new_app):
    at = open_replays(new_app(user="qa"))
    at.radio(key="replay-source").set_value("typed").run()
    at.text_input(key="replay-typed-ids").set_value("12, twelve").run()
    assert "'twelve' is not a conversation id" in at.info[0].value
    assert start_button(at).disabled
    at.text_input(key="replay-typed-ids").set_value("404").run()
    assert any("Conversation 404 no longer exists" in e for e in texts(at.error))


class Held:
    """Budgets stand-in for the run's worker: every check passes, and each finished turn
    waits for the gate, so the run is still going while the page is looked at."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.saved = threading.Event()

    def check(self, purpose: str, owner: str) -> None:
        return None

    def after_call(self, owner: str) -> None:
        self.saved.set()
        assert self.gate.wait(WAIT)


def test_cancel_and_resume_buttons_drive_the_run(new_app, db, monkeypatch):
    cid = conversation(new_app, "Where is order 1042?", "It was due yesterday.", "Refund, then?")
    runner = get_runtime().replays.runner
    held = Held()
    monkeypatch.setattr(runner, "budgets", held)
    monkeypatch.setattr(runner, "concurrency", 1)
    monkeypatch.setattr(runner, "slice_size", 1)
    at = handed_over(new_app, [cid])

    start_button(at).click().run()
    run_id = only_run()
    try:
        assert held.saved.wait(WAIT)  # the first turn is saved; the worker waits at the gate
        at.run()
        assert not [b for b in at.button if b.key == f"replay-{run_id}-resume"]
        at.button(key=f"replay-{run_id}-cancel").click().run()
        assert f"Run {run_id} is stopping; what finished is kept." in texts(at.success)
    finally:
        held.gate.set()
    finish(run_id)
    assert db("SELECT status, turns_done, turns_total FROM replay_run") == [("cancelled", 1, 3)]

    at.run()
    assert not [b for b in at.button if b.key == f"replay-{run_id}-cancel"]
    at.button(key=f"replay-{run_id}-resume").click().run()
    assert f"Run {run_id} has resumed." in texts(at.success)
    finish(run_id)
    assert db("SELECT status, turns_done, turns_total FROM replay_run") == [("done", 3, 3)]
    at.run()
    assert metrics(at)["Turns"] == "3"


def _usd(text: str) -> float:
    return float(text.lstrip("$").replace(",", ""))


def test_an_offline_run_goes_through_one_message_batch_and_shows_it(new_app, db, sandbox):
    cid = conversation(new_app, "Where is order 1042?", "It was due yesterday.")
    at = handed_over(new_app, [cid])
    mode = at.radio(key="replay-mode")
    assert mode.value == "live"
    assert mode.options == ["Live (now, full price)", "Offline (Message Batches: half price, results within 24 h)"]
    live = _usd(metrics(at)["Cost (est.)"])
    mode.set_value("offline").run()
    assert _usd(metrics(at)["Cost (est.)"]) == pytest.approx(live / 2, abs=0.0001) and live > 0

    sandbox.state.clear_requests()
    start_button(at).click().run()
    assert any("submitted as a Message Batch" in s for s in texts(at.success))
    run_id = only_run()
    finish(run_id)
    at.run()
    assert not at.exception, at.exception

    ((status, turns_done, batch_id, mode_stored),) = db(
        "SELECT status, turns_done, provider_batch_id, mode FROM replay_run")
    assert (status, turns_done, mode_stored) == ("done", 2, "offline") and batch_id.startswith("msgbatch_")
    paths = [r["path"] for r in sandbox.state.requests()]
    assert paths.count("/v1/messages/batches") == 1 and "/v1/messages" not in paths
    captions = texts(at.caption)
    assert any(c.startswith(f"Run {run_id} · Offline · ") for c in captions)
    assert f"Message Batch `{batch_id}` ended: 2 of 2 answered." in captions
    (bar, *_) = at.get("progress")
    assert bar.proto.value == 100 and bar.proto.text.startswith("2 of 2 turns · $")
    assert metrics(at)["Turns"] == "2"  # the results look the same as a live run's
