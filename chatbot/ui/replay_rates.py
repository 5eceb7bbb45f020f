"""Pass rates per persona version and model, over every replay run: a table, a bar chart,
and each persona's newest version compared with the one before it, so a draft that does
worse stands out before it is published."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from chatbot.services.replay_views import PassRate, baseline
from chatbot.services.runtime import Runtime

from . import state
from .qa_text import escape
from .usage_panels import percent

ALL = "All personas"
MODEL_DEFAULT = "persona's model"


def version_name(rate: PassRate, published: dict[str, int | None]) -> str:
    if rate.version is None:
        return f"{rate.persona} (own versions)"
    live = published.get(rate.persona)
    if rate.version == live:
        state = "published"
    else:  # newer than the published version: a draft; older: a version it replaced
        state = "draft" if live is None or rate.version > live else "earlier"
    return f"{rate.persona} v{rate.version} ({state})"


def rates_frame(rates: Sequence[PassRate], published: dict[str, int | None]) -> pd.DataFrame:
    rows = []
    for rate in rates:
        before = baseline(rates, rate)
        change = ""
        if before is not None and rate.rate is not None and before.rate is not None:
            change = f"{(rate.rate - before.rate) * 100:+.1f}"
        rows.append({
            "version": version_name(rate, published),
            "model": rate.model or MODEL_DEFAULT,
            "runs": rate.runs,
            "turns": rate.turns,
            "errors": rate.errors,
            "graded": rate.graded_turns,
            "passed": rate.passed_turns,
            "pass rate (%)": None if rate.rate is None else round(rate.rate * 100, 1),
            "compared with": f"v{before.version}" if before else "",
            "change (points)": change,
        })
    return pd.DataFrame(rows)


def pass_rates_panel(runtime: Runtime) -> None:
    st.subheader("Pass rates", anchor=False)
    st.fragment(_pass_rates)(runtime)  # picking a persona reruns only this panel


def _pass_rates(runtime: Runtime) -> None:
    actor = state.actor()  # a fragment rerun checks the session again
    published = {p.key: p.published_version for p in runtime.personas.list(actor, include_archived=True)}
    rates = runtime.replays.pass_rates(actor)
    if not rates:
        st.caption("Pass rates appear once a run with checks has replayed some turns.")
        return
    personas = sorted({r.persona for r in rates})
    chosen = st.selectbox("Persona", [ALL, *personas], key="replay-rates-persona")
    if chosen != ALL:
        rates = [r for r in rates if r.persona == chosen]
    regressions(rates, published)
    frame = rates_frame(rates, published)
    st.dataframe(
        frame, hide_index=True, width="stretch",
        column_config={"pass rate (%)": st.column_config.ProgressColumn(
            "pass rate", min_value=0, max_value=100, format="%.0f%%",
            help="Graded turns where every check passed.")},
    )
    # Short bar labels ("support v3"): the table beside says which is the draft.
    graded = frame.assign(version=[version_name(r, {}).split(" (")[0] for r in rates])
    graded = graded.dropna(subset=["pass rate (%)"])
    if not graded.empty:
        st.bar_chart(graded, x="version", y="pass rate (%)", color="model", stack=False,
                     x_label="", y_label="pass rate (%)", horizontal=True,
                     height=110 + 40 * len(graded))  # one thin bar per version and model
    per_check(rates, published)


def regressions(rates: Sequence[PassRate], published: dict[str, int | None]) -> None:
    """The newest version of each persona and model against its baseline."""
    newest: dict[tuple[str, str | None], PassRate] = {}
    for rate in rates:  # newest version first within a persona
        if rate.version is not None and rate.rate is not None:
            newest.setdefault((rate.persona, rate.model), rate)
    for rate in newest.values():
        before = baseline(rates, rate)
        if before is None or before.rate is None:
            continue
        name = escape(version_name(rate, published))
        on = f" on {escape(rate.model)}" if rate.model else ""
        text = (f"**{name}**{on}: {percent(rate.rate, 0)} of graded turns pass, against "
                f"{percent(before.rate, 0)} for v{before.version}")
        worse = [c.name for c in rate.checks
                 if (old := before.check(c.check_id)) is not None and c.rate is not None
                 and old.rate is not None and c.rate < old.rate]
        if worse:
            text += " · worse on " + ", ".join(escape(n) for n in worse)
        if rate.rate < before.rate:
            st.error(f"Regression: {text}.", icon=":material/trending_down:")
        elif worse:
            st.warning(f"{text}.", icon=":material/warning:")
        else:
            st.success(f"No regression: {text}.", icon=":material/trending_up:")


def per_check(rates: Sequence[PassRate], published: dict[str, int | None]) -> None:
    rows = [
        {
            "version": version_name(rate, published),
            "model": rate.model or MODEL_DEFAULT,
            "check": check.name,
            "passed": check.passed,
            "graded": check.graded,
            "pass rate": percent(check.rate, 0),
        }
        for rate in rates for check in rate.checks
    ]
    if rows:
        with st.expander("Per check"):
            st.dataframe(rows, hide_index=True, width="stretch")
