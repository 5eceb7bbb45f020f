"""QA: replays — re-send saved conversations to a persona version or model, compare the
replies side by side, grade them with checks, and follow pass rates per version."""

import streamlit as st

from chatbot.ui import state
from chatbot.ui.replay_rates import pass_rates_panel
from chatbot.ui.replay_results import results_panel
from chatbot.ui.replay_runs import runs_panel
from chatbot.ui.replay_setup import new_run_panel
from chatbot.ui.resources import get_runtime

runtime = get_runtime()
actor = state.actor()
st.title("Replays", anchor=False)
st.caption(
    "Replay conversations turn by turn against another persona version or model: each "
    "replayed reply answers the same history the original did. Runs go on in the background, "
    "rate-limited and within budgets; a stopped run resumes where it left off."
)

state.show_flash()

new_run_panel(runtime, actor)
runs_panel(runtime, actor)
results_panel(runtime)
pass_rates_panel(runtime)
