"""QA: find conversations, read them with everything recorded per reply, annotate them,
keep the golden set, export and import, and hand a set to the Replays page."""

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.ui import qa_state, state
from chatbot.ui.qa_export import export_set, import_popover, imported_notice, replay_button
from chatbot.ui.qa_filters import filter_bar, is_filtered
from chatbot.ui.qa_results import empty_state, result_header, result_list, search
from chatbot.ui.qa_transcript import transcript_panel
from chatbot.ui.resources import get_runtime

runtime = get_runtime()
qa, exports = runtime.qa, runtime.exports
actor = state.actor()

st.title("Conversations", anchor=False)
st.caption("Search every saved conversation, read what each reply recorded, and mark regression cases.")

state.show_flash()

filters = filter_bar(qa)
try:
    found, page = search(qa, filters)
except ChatbotError as error:
    st.error(error.user_message, icon=":material/search_off:")
    st.stop()

with st.container(horizontal=True, gap="small", vertical_alignment="center"):
    result_header(found, page)
    export_set(exports, lambda: qa.matching_ids(actor, filters), found.total)
    if found.total:
        replay_button(lambda: qa.matching_ids(actor, filters), key="qa-replay-set", label="Replay these…")
    import_popover(exports)
imported_notice()

open_id = qa_state.open_id()
if open_id is not None:
    results, transcript = st.columns([2, 3], gap="large")
else:
    results, transcript = st.container(), None

with results:
    if not found.total:
        empty_state(is_filtered(filters))
    else:
        result_list(found, open_id, searched=bool(filters.text.strip()))

if transcript is not None:
    with transcript:
        transcript_panel(qa, exports, open_id)
