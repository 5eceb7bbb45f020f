"""Admin: usage — calls, success, latency, tokens and cost of the Messages API over time."""

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.pricing import default_prices
from chatbot.ui import state
from chatbot.ui.budget_panel import budget_section
from chatbot.ui.resources import get_runtime
from chatbot.ui.usage_filters import group_picker, range_picker
from chatbot.ui.usage_panels import (
    breakdown_table,
    csv_download,
    errors_table,
    flagged_agents,
    metrics_row,
    timeline_charts,
)

runtime = get_runtime()
usage = runtime.usage
actor = state.actor()
st.title("Usage", anchor=False)

try:
    default_prices()  # a broken price file is news for the admin, not only the log
except ChatbotError as error:
    st.error(f"New calls are recorded as unpriced until the price file is fixed: {error.user_message}")

try:
    # Usage first: a role without it is refused by the service before anything is drawn
    # (whatever led here: a stale page after a role change, an address typed by hand).
    flagged = usage.flagged(actor)
    people = runtime.identity.users.usernames(actor)
    budget_section(runtime.budgets, actor, people)
    flagged_agents(flagged, runtime.settings.user_rpm)
    period = range_picker()
    summary = usage.summary(actor, period.since, period.until, group_by="model")
except ChatbotError as error:
    st.error(error.user_message)
    st.stop()

if not summary.total.calls:
    st.info(
        f"No API calls in {period.label} (UTC). Each reply the assistant writes in a "
        "conversation is recorded here with its tokens, latency and cost.",
        icon=":material/query_stats:",
    )
    st.stop()

metrics_row(summary.total)
timeline_charts(usage.timeline(actor, period.since, period.until, bucket=period.bucket), period)
errors_table(summary.total)

st.subheader("Breakdown", anchor=False)
group_by = group_picker()
if group_by != summary.group_by:
    summary = usage.summary(actor, period.since, period.until, group_by=group_by)
breakdown_table(summary.groups, {"owner": "user"}.get(group_by, group_by))

csv_download(usage.csv(actor, period.since, period.until), period)
