"""The Replays page's list of runs, newest first: what each replays, its status and
progress, Cancel while it runs and Resume once it stopped short.

While a run is active the list redraws itself every few seconds as a fragment (only this
part of the page reruns); when the last active run ends it reruns the whole page once,
so the results and pass rates below catch up."""

from __future__ import annotations

import streamlit as st

from chatbot.services.replay import ReplayTarget, RunProgress
from chatbot.services.runtime import Runtime

from . import state
from .replay_diff import escape_text as _plain
from .replay_setup import SELECTED_RUN

REFRESH_SECONDS = 2
SHOWN = 20
_WATCHING = "qa_replay_watching"  # the fragment is refreshing: rerun the page when it stops
STATUS = {
    "pending": ("Waiting", "blue", ":material/schedule:"),
    "running": ("Running", "blue", ":material/sync:"),
    "done": ("Done", "green", ":material/check_circle:"),
    "cancelled": ("Cancelled", "orange", ":material/cancel:"),
    "failed": ("Failed", "red", ":material/error:"),
    "interrupted": ("Interrupted", "orange", ":material/pause_circle:"),
}


def money(usd: float | None) -> str:
    if usd is None:
        return "unpriced"
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.4f}"


def target_text(run: RunProgress) -> str:
    return ReplayTarget(run.persona, run.persona_version, run.model).describe()


def status_of(run: RunProgress) -> str:
    return "interrupted" if run.interrupted else run.status


def runs_panel(runtime: Runtime) -> None:
    st.subheader("Runs", anchor=False)
    active = any(r.active for r in runtime.replays.runs(limit=SHOWN))
    _runs_fragment(runtime, active)


def _runs_fragment(runtime: Runtime, refresh: bool) -> None:
    @st.fragment(run_every=REFRESH_SECONDS if refresh else None)
    def draw() -> None:
        runs = runtime.replays.runs(limit=SHOWN)
        if not runs:
            st.caption("No replay runs yet. Start one above.")
            return
        for run in runs:
            _run_row(runtime, run)
        still = any(r.active for r in runs)
        if still:
            st.session_state[_WATCHING] = True
        elif st.session_state.pop(_WATCHING, False) and refresh:
            st.rerun(scope="app")  # the last one finished: results and pass rates catch up

    draw()


def _run_row(runtime: Runtime, run: RunProgress) -> None:
    label, colour, icon = STATUS.get(status_of(run), (run.status, "gray", ":material/help:"))
    with st.container(border=True):
        about, bar, actions = st.columns([3, 3, 1.4], vertical_alignment="center")
        with about:
            st.markdown(f"**{_plain(run.label)}** :{colour}-badge[{icon} {label}]")
            when = f"{run.created_at:%Y-%m-%d %H:%M} UTC" if run.created_at else ""
            st.caption(f"Run {run.run_id} · {_plain(target_text(run))} · by {_plain(run.created_by)} {when}")
        with bar:
            spent = money(run.cost_usd)
            if run.estimated_cost_usd is not None:
                spent += f" of ~{money(run.estimated_cost_usd)}"
            st.progress(run.fraction, text=f"{run.done} of {run.total} turns · {spent}")
            if run.error:
                st.caption(f":red[{_plain(run.error)}]")
        with actions:
            _actions(runtime, run)


def _actions(runtime: Runtime, run: RunProgress) -> None:
    owner_key = f"replay-{run.run_id}"
    if run.active:
        if st.button("Cancel", key=f"{owner_key}-cancel", icon=":material/stop:", width="stretch",
                     help="Stop sending; replies already in flight are kept."):
            state.attempt(lambda: runtime.replays.cancel(run.run_id),
                          f"Run {run.run_id} is stopping; what finished is kept.")
            st.rerun(scope="app")
    elif run.status in ("cancelled", "failed") or run.interrupted:
        if st.button("Resume", key=f"{owner_key}-resume", icon=":material/play_arrow:", width="stretch",
                     help="Send only the turns without a result (failed ones again)."):
            state.attempt(lambda: runtime.replays.resume(run.run_id), f"Run {run.run_id} has resumed.")
            st.session_state[SELECTED_RUN] = run.run_id
            st.rerun(scope="app")
    if st.button("Results", key=f"{owner_key}-open", icon=":material/compare:", width="stretch",
                 type="tertiary"):
        st.session_state[SELECTED_RUN] = run.run_id
        st.rerun(scope="app")
