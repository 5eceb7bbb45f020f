"""The usage page's panels: headline metrics, charts over time, the breakdown table and
the call-log download. Each takes what the usage service returned and only draws it."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from chatbot.services.usage import Group, Stats, TimelineRow

from .usage_filters import UsageRange

OUTCOME_COLORS = {"ok": "#2e7d32", "partial": "#f9a825", "error": "#c62828"}


def money(usd: float | None, unpriced: str = "unpriced") -> str:
    """$1,234.57 for dollars; four decimals below a dollar, where single calls live.
    None (no price on file) reads as `unpriced`."""
    if usd is None:
        return unpriced
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.4f}"


def seconds(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.2f} s"


def percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{rate:.{digits}%}"


def metrics_row(total: Stats) -> None:
    calls, success, p50, p95, cost = st.columns(5)
    calls.metric("Calls", f"{total.calls:,}", border=True)
    success.metric(
        "Success rate",
        percent(total.success_rate),
        border=True,
        help="Calls that returned a complete reply, out of all calls (partial replies count as failures).",
    )
    p50.metric(
        "Latency p50",
        seconds(total.total_ms.p50),
        border=True,
        help=f"Whole call, retries included. First token p50: {seconds(total.ttft_ms.p50)}.",
    )
    p95.metric(
        "Latency p95",
        seconds(total.total_ms.p95),
        border=True,
        help=f"Whole call, retries included. First token p95: {seconds(total.ttft_ms.p95)}.",
    )
    cost.metric(
        "Total cost",
        money(total.cost_usd),
        border=True,
        help="At list prices when each call was made; cache hits are free.",
    )
    if total.unpriced_calls:
        st.warning(
            f"{total.unpriced_calls:,} unpriced calls are not in the total: no price on file "
            f"for {', '.join(total.unpriced_models)}. Add them to the price file "
            "(CHATBOT_PRICES_FILE); calls made after that are priced.",
            icon=":material/price_change:",
        )


def _frame(timeline: Sequence[TimelineRow], bucket: str) -> pd.DataFrame:
    frame = pd.DataFrame([row.__dict__ for row in timeline])
    # Naive UTC: the axis reads the same for every viewer, and its title says UTC.
    frame["time (UTC)"] = frame["bucket"].dt.tz_convert("UTC").dt.tz_localize(None)
    # Bars sit on labelled slots rather than on a time axis, where they would be slivers.
    frame["period (UTC)"] = frame["time (UTC)"].dt.strftime(
        "%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"
    )
    frame["tokens"] = frame["input_tokens"] + frame["output_tokens"] + frame["cache_tokens"]
    return frame


def timeline_charts(timeline: Sequence[TimelineRow], period: UsageRange) -> None:
    if not timeline:
        return
    frame = _frame(timeline, period.bucket)
    step = period.bucket
    tokens, cost = st.columns(2)
    with tokens:
        st.subheader(f"Tokens per {step}", anchor=False)
        st.bar_chart(
            frame, x="period (UTC)", y="tokens", color="model",
            y_label="tokens (in + out + cache)", height=300,
        )
    with cost:
        st.subheader(f"Cost per {step}", anchor=False)
        # A model with no price would draw a flat $0 line: leave it out (the warning names it).
        totals = frame.groupby("model")[["calls", "unpriced_calls"]].sum()
        priced = totals.index[totals["unpriced_calls"] < totals["calls"]]
        st.line_chart(
            frame[frame["model"].isin(priced)], x="time (UTC)", y="cost_usd", color="model",
            y_label="USD", height=300,
        )

    st.subheader(f"Calls per {step}, by outcome", anchor=False)
    outcomes = frame.groupby("period (UTC)")[list(OUTCOME_COLORS)].sum().reset_index()
    st.bar_chart(
        outcomes,
        x="period (UTC)",
        y=list(OUTCOME_COLORS),
        color=list(OUTCOME_COLORS.values()),
        y_label="calls",
        height=260,
    )


def errors_table(total: Stats) -> None:
    if not total.errors_by_type:
        return
    st.subheader("Failures by type", anchor=False)
    st.dataframe(
        [{"error type": kind, "calls": count} for kind, count in total.errors_by_type.items()],
        hide_index=True,
        width="stretch",
    )


def breakdown_table(groups: Sequence[Group], group_label: str) -> None:
    st.dataframe(
        [
            {
                group_label: g.key,
                "calls": g.stats.calls,
                "success": percent(g.stats.success_rate),
                "failures": g.stats.calls - g.stats.ok,
                "p50 (s)": _s(g.stats.total_ms.p50),
                "p95 (s)": _s(g.stats.total_ms.p95),
                "first token p50 (s)": _s(g.stats.ttft_ms.p50),
                "input tokens": g.stats.input_tokens,
                "output tokens": g.stats.output_tokens,
                "cache tokens": g.stats.cache_creation_input_tokens + g.stats.cache_read_input_tokens,
                # Blank rather than $0 when nothing in the group could be priced.
                "cost (USD)": round(g.stats.cost_usd, 6)
                if g.stats.unpriced_calls < g.stats.calls
                else None,
                "unpriced calls": g.stats.unpriced_calls,
            }
            for g in groups
        ],
        hide_index=True,
        width="stretch",
        column_config={"cost (USD)": st.column_config.NumberColumn(format="$%.4f")},
    )


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


def csv_download(csv_text: str, period: UsageRange) -> None:
    st.download_button(
        "Download call log (CSV)",
        data=csv_text,
        file_name=f"api-calls-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="usage-csv",
        help="One row per API call in the range: times (UTC), model, outcome, tokens, latency, cost.",
    )


def flagged_agents(flagged: Sequence[tuple[str, int]], per_minute: float) -> None:
    """Agents the per-agent limit slowed down (`UsageService.flagged`): worth a look (a
    stuck script, a shared login, or a colleague who needs a canned answer instead)."""
    if not flagged:
        return
    lines = "\n".join(
        f"- **{name}**: {count:,} request{'' if count == 1 else 's'} slowed down"
        for name, count in flagged
    )
    st.warning(
        f"Agents over their own limit of {per_minute:g} requests a minute were slowed "
        f"down:\n\n{lines}",
        icon=":material/speed:",
    )
