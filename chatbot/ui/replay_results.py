"""A replay run's results: a summary, then per turn the user's message, the original and
the replayed reply side by side, the word diff, the deltas and the check verdicts; and
the results as a CSV download."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.spreadsheet import csv_cell
from chatbot.services.replay import RunProgress
from chatbot.services.replay_views import TurnComparison
from chatbot.services.runtime import Runtime

from . import state
from .qa_text import badge, escape
from .replay_diff import diff_markdown
from .replay_runs import status_of, target_text
from .replay_setup import SELECTED_RUN
from .safe_markdown import safe_markdown
from .usage_panels import money

PAGE_SIZE = 20


def results_panel(runtime: Runtime) -> None:
    st.subheader("Results", anchor=False)
    # A fragment: picking a run, paging or filtering turns reruns only this panel, not the
    # New run estimate (which plans every conversation) or the pass rates over every run.
    st.fragment(_results)(runtime)  # its own reruns ask who is signed in again (state.actor)


def _results(runtime: Runtime) -> None:
    actor = state.actor()
    runs = runtime.replays.runs(actor)
    if not runs:
        st.caption("The results of a run appear here once it has replayed a turn.")
        return
    run = _run_picker(runs)
    try:
        turns = runtime.replays.results(actor, run.run_id)
    except ChatbotError as error:
        st.error(error.user_message, icon=":material/error:")
        return
    summary(run, turns)
    if not turns:
        st.caption("No turn of this run has been replayed yet.")
        return
    only_problems = st.toggle("Only failed or errored turns", key=f"replay-problems-{run.run_id}")
    shown = [t for t in turns if t.passed is False or t.replay_status == "error"] if only_problems else turns
    if not shown:
        st.caption("Every turn passed.")
    page = 0
    if len(shown) > PAGE_SIZE:
        pages = (len(shown) + PAGE_SIZE - 1) // PAGE_SIZE
        page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"replay-page-{run.run_id}") - 1
    for turn in shown[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        turn_card(turn)
    export_button(run, turns)


def _run_picker(runs: Sequence[RunProgress]) -> RunProgress:
    by_id = {r.run_id: r for r in runs}
    selected = st.session_state.get(SELECTED_RUN)
    if selected not in by_id:
        selected = runs[0].run_id
    key = f"replay-results-of-{selected}"  # a run chosen elsewhere (Start, Results) resets it

    def chosen() -> None:
        st.session_state[SELECTED_RUN] = st.session_state[key]

    run_id = st.selectbox(
        "Run", list(by_id), index=list(by_id).index(selected), key=key, on_change=chosen,
        format_func=lambda i: f"Run {i}: {by_id[i].label} ({status_of(by_id[i])})",
    )
    return by_id[run_id]


def summary(run: RunProgress, turns: Sequence[TurnComparison]) -> None:
    st.caption(f"{escape(target_text(run))} · {run.done} of {run.total} turns replayed")
    shown, passed, failed, errors, cost = st.columns(5)
    shown.metric("Turns", f"{len(turns):,}", border=True)
    passed.metric("Passed", f"{sum(t.passed is True for t in turns):,}", border=True,
                  help="Turns where every check passed.")
    failed.metric("Failed", f"{sum(t.passed is False for t in turns):,}", border=True,
                  help="Turns where at least one check failed.")
    errors.metric("Errors", f"{sum(t.replay_status == 'error' for t in turns):,}", border=True,
                  help="Turns the model gave no reply to; Resume tries them again.")
    cost.metric("Cost", money(run.cost_usd), border=True, help="Replies and rubric grading, at list prices.")


def _signed(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value / scale:+,.{digits}f}{unit}"


def deltas_text(turn: TurnComparison) -> str:
    """Replay minus original, for the caption under a turn."""
    parts = [
        f"length {_signed(turn.length_delta)} chars",
        f"words {_signed(turn.words_delta)}",
        f"latency {_signed(turn.total_ms_delta, ' s', 1000, 2)}",
        f"input tokens {_signed(turn.input_tokens_delta)}",
        f"output tokens {_signed(turn.output_tokens_delta)}",
    ]
    if turn.cost_usd is not None:
        parts.append(f"cost {money(turn.cost_usd)}")
    return "Replay vs original: " + " · ".join(parts)


def verdict_badges(turn: TurnComparison) -> str:
    badges = []
    for check in turn.checks:
        colour, icon = ("green", ":material/check:") if check.passed else ("red", ":material/close:")
        badges.append(badge(check.name, colour, icon))
    return " ".join(badges)


def _verdict(turn: TurnComparison) -> str:
    if turn.replay_status == "error":
        return badge("no reply", "red", ":material/error:")
    if turn.passed is None:
        return badge("not graded", "gray")
    return badge("passed", "green", ":material/check:") if turn.passed else badge("failed", "red", ":material/close:")


def turn_card(turn: TurnComparison) -> None:
    with st.container(border=True, key=f"turn-{turn.source_message_id}"):
        st.markdown(f"**Conversation #{turn.conversation_id}, message {turn.position}** {_verdict(turn)}")
        if turn.question:
            st.caption("User message")
            st.markdown(safe_markdown(turn.question))
        original, replayed = st.columns(2, gap="medium")
        with original:
            st.caption(f"Original · {escape(turn.original_model or 'unknown model')} · {turn.original_status}")
            st.markdown(safe_markdown(turn.original_text))
        with replayed:
            st.caption(f"Replay · {escape(turn.replay_model or 'unknown model')} · {turn.replay_status}")
            if turn.replay_text:
                st.markdown(safe_markdown(turn.replay_text))
            if turn.replay_error:
                st.error(turn.replay_error, icon=":material/error:")
        if turn.replay_text and all(op == "equal" for op, _ in turn.diff):
            st.caption(":material/drag_handle: Word for word the original reply.")
        elif turn.replay_text:
            with st.expander("Word diff (green: added, red: removed)", expanded=True):
                st.markdown(diff_markdown(turn.diff))
        st.caption(deltas_text(turn))
        if turn.checks:
            st.markdown(verdict_badges(turn))
            failing = [c for c in turn.checks if not c.passed and c.detail]
            for check in failing:
                st.caption(f"{escape(check.name)}: {escape(check.detail or '')}")


def results_frame(turns: Sequence[TurnComparison]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "conversation_id": t.conversation_id,
                "message_position": t.position,
                "user_message": t.question,
                "original_reply": t.original_text,
                "replayed_reply": t.replay_text,
                "replay_status": t.replay_status,
                "replay_model": t.replay_model,
                "passed": "" if t.passed is None else t.passed,
                "checks": "; ".join(f"{c.name}: {'pass' if c.passed else 'fail'}" for c in t.checks),
                "length_delta": t.length_delta,
                "words_delta": t.words_delta,
                "latency_ms_delta": t.total_ms_delta,
                "input_tokens_delta": t.input_tokens_delta,
                "output_tokens_delta": t.output_tokens_delta,
                "cost_usd": t.cost_usd,
            }
            for t in turns
        ]
    )


def export_button(run: RunProgress, turns: Sequence[TurnComparison]) -> None:
    st.download_button(
        "Download these results (CSV)",
        # Built when clicked, not on every rerun; no cell runs as a formula.
        lambda: results_frame(turns).map(csv_cell).to_csv(index=False),
        file_name=f"replay-run-{run.run_id}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"replay-export-{run.run_id}",
    )
