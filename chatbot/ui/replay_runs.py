"""The Replays page's list of runs, newest first: what each replays, live or offline (with
its Message Batch's status), its status and progress, Cancel while it runs and Resume
once it stopped short.

While a run is active the list redraws itself every few seconds as a fragment (only this
part of the page reruns); when the last active run ends it reruns the whole page once,
so the results and pass rates below catch up."""

from __future__ import annotations

import streamlit as st

from chatbot.auth import Actor
from chatbot.services.replay import ReplayTarget, RunProgress
from chatbot.services.runtime import Runtime

from . import state
from .qa_text import badge, escape
from .replay_setup import SELECTED_RUN
from .usage_panels import money

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
MODE = {"live": "Live", "offline": "Offline"}
BATCH_STATUS = {"in_progress": "in progress", "canceling": "cancelling", "ended": "ended"}
CANCEL_HELP = {
    "live": "Stop sending; replies already in flight are kept.",
    "offline": "Cancel its Message Batch; the replies it already gave are kept.",
}
RESUME_HELP = {
    "live": "Send only the turns without a result (failed ones again).",
    "offline": "Collect its Message Batch, then send only the turns still without a result.",
}


def target_text(run: RunProgress) -> str:
    return ReplayTarget(run.persona, run.persona_version, run.model).describe()


def status_of(run: RunProgress) -> str:
    return "interrupted" if run.interrupted else run.status


def batch_text(run: RunProgress) -> str | None:
    """An offline run's Message Batch, as this app last saw it; None for a live run."""
    if run.mode != "offline":
        return None
    if run.provider_batch_id is None:
        return "Message Batch: not submitted yet."
    named = f"Message Batch `{run.provider_batch_id}`"
    if run.batch is None:  # seen by another process, or before a restart
        return f"{named}: resume the run to collect its results." if run.interrupted else f"{named}."
    counts = run.batch.counts
    text = (f"{named} {BATCH_STATUS.get(run.batch.status, run.batch.status)}: "
            f"{counts.succeeded + counts.errored} of {counts.total} answered")
    unanswered = [f"{n} {kind}" for kind, n in (("cancelled", counts.canceled), ("expired", counts.expired)) if n]
    return text + (f", {', '.join(unanswered)}." if unanswered else ".")


def runs_panel(runtime: Runtime, actor: Actor) -> None:
    st.subheader("Runs", anchor=False)
    _runs_fragment(runtime, runtime.replays.runs(actor, limit=SHOWN))


def _runs_fragment(runtime: Runtime, first: list[RunProgress]) -> None:
    refresh = any(r.active for r in first)
    unread = [first]  # drawn as read in this page run; the fragment's own reruns read afresh

    @st.fragment(run_every=REFRESH_SECONDS if refresh else None)
    def draw() -> None:
        actor = state.actor()  # a rerun of the fragment alone checks the session again
        runs = unread.pop() if unread else runtime.replays.runs(actor, limit=SHOWN)
        if not runs:
            st.caption("No replay runs yet. Start one above.")
            return
        for run in runs:
            _run_row(runtime, actor, run)
        still = any(r.active for r in runs)
        if still:
            st.session_state[_WATCHING] = True
        elif st.session_state.pop(_WATCHING, False) and refresh:
            st.rerun(scope="app")  # the last one finished: results and pass rates catch up

    draw()


def _run_row(runtime: Runtime, actor: Actor, run: RunProgress) -> None:
    label, colour, icon = STATUS.get(status_of(run), (run.status, "gray", ":material/help:"))
    with st.container(border=True):
        about, bar, actions = st.columns([3, 3, 1.4], vertical_alignment="center")
        with about:
            st.markdown(f"**{escape(run.label)}** {badge(label, colour, icon)}")
            when = f"{run.created_at:%Y-%m-%d %H:%M} UTC" if run.created_at else ""
            st.caption(f"Run {run.run_id} · {MODE.get(run.mode, run.mode)} · {escape(target_text(run))} · "
                       f"by {escape(run.created_by)} {when}")
        with bar:
            spent = money(run.cost_usd)
            if run.estimated_cost_usd is not None:
                spent += f" of ~{money(run.estimated_cost_usd)}"
            st.progress(run.fraction, text=f"{run.done} of {run.total} turns · {spent}")
            batch = batch_text(run)
            if batch:
                st.caption(batch)
            if run.error:
                st.caption(f":red[{escape(run.error)}]")
        with actions:
            _actions(runtime, actor, run)


def _actions(runtime: Runtime, actor: Actor, run: RunProgress) -> None:
    owner_key = f"replay-{run.run_id}"
    if run.active:
        if st.button("Cancel", key=f"{owner_key}-cancel", icon=":material/stop:", width="stretch",
                     help=CANCEL_HELP.get(run.mode, CANCEL_HELP["live"])):
            state.attempt(lambda: runtime.replays.cancel(actor, run.run_id),
                          f"Run {run.run_id} is stopping; what finished is kept.")
            st.rerun(scope="app")
    elif run.status in ("cancelled", "failed") or run.interrupted:
        if st.button("Resume", key=f"{owner_key}-resume", icon=":material/play_arrow:", width="stretch",
                     help=RESUME_HELP.get(run.mode, RESUME_HELP["live"])):
            state.attempt(lambda: runtime.replays.resume(actor, run.run_id), f"Run {run.run_id} has resumed.")
            st.session_state[SELECTED_RUN] = run.run_id
            st.rerun(scope="app")
    if st.button("Results", key=f"{owner_key}-open", icon=":material/compare:", width="stretch",
                 type="tertiary"):
        st.session_state[SELECTED_RUN] = run.run_id
        st.rerun(scope="app")
