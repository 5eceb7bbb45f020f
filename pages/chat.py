"""The chat page: conversations with the assistant, streamed and saved."""

from functools import partial

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.ui import state
from chatbot.ui.case_details import greeting_and_suggestions, new_conversation_panel
from chatbot.ui.chat_view import AVATARS, context_notice, live_reply, render_message
from chatbot.ui.conversation_header import conversation_header
from chatbot.ui.reply_feedback import reply_feedback
from chatbot.ui.resources import get_runtime
from chatbot.ui.sidebar import conversation_sidebar
from chatbot.ui.summary_card import summary_panel

runtime = get_runtime()
current = state.conversation_id()
# The reply in progress first, then the messages: a reply that ends in between is already
# saved when it stops being active, so it is never shown as stuck "still being written".
generation = runtime.chat.active(current) if current else None
transcript = runtime.conversations.transcript(current) if current else None
if current and transcript is None:
    st.warning("That conversation no longer exists; here is a new one.", icon=":material/info:")
    state.open_conversation(None)
    current = generation = None

prompt = st.chat_input(
    "Type the customer's question or your reply…",
    key="prompt",
    # No max_chars: Streamlit would silently cut a longer paste and send the cut text; the
    # chat service refuses it with a clear message instead, and the page keeps the draft.
    disabled=generation is not None,
    submit_mode="disable",
)


def _retry() -> None:
    state.attempt(lambda: runtime.chat.retry(conversation_id=state.conversation_id(), owner=state.owner()))


if transcript is None:
    new_persona, new_details = new_conversation_panel(runtime)
else:
    new_persona, new_details = None, None
    conversation_header(runtime, transcript.conversation, busy=generation is not None)
    summary_panel(runtime, transcript, busy=generation is not None)

prompt = prompt or state.take_pending_prompt()
if prompt is not None and prompt.strip():
    try:
        generation = runtime.chat.send(
            conversation_id=current,
            text=prompt,
            owner=state.owner(),
            persona=new_persona,
            variables=new_details,
        )
    except ChatbotError as error:
        st.error(error.user_message, icon=":material/error:")
        state.keep_draft(prompt)
    else:
        # Start over so this run's widgets (the input above all) reflect the reply in progress.
        state.open_conversation(generation.conversation_id)
        st.rerun()

conversation_sidebar(runtime, current)

state.show_flash()

budget_notice = runtime.chat.budget_warning(state.actor())
if budget_notice:  # 80 % or more of a budget this agent's messages count against
    st.warning(budget_notice, icon=":material/savings:")

draft = state.take_draft()
if draft:
    st.info("Your message was not sent. Here it is, to copy and send again:", icon=":material/draft:")
    st.code(draft, language=None, wrap_lines=True)

if transcript is not None and not transcript.messages:
    greeting_and_suggestions(runtime.conversations.persona_of(transcript.conversation).spec)

if transcript is not None:
    messages = transcript.messages
    ratings = runtime.qa.ratings(current, state.owner()) if messages else {}
    for index, message in enumerate(messages):
        if generation is not None and message.id == generation.message_id:
            continue
        rateable = message.role == "assistant" and message.status in ("complete", "partial")
        render_message(
            message,
            can_retry=index == len(messages) - 1 and generation is None,
            on_retry=_retry,
            orphaned=runtime.chat.is_orphaned(message),
            footer=partial(reply_feedback, runtime, message, ratings.get(message.id))
            if rateable
            else None,
        )

if generation is not None:
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        if generation.dropped_turns:
            context_notice(generation.dropped_turns)
        if st.button("Stop", key=f"stop-{generation.message_id}", icon=":material/stop_circle:"):
            generation.cancel()
        live_reply(generation)
    generation.wait(timeout=runtime.settings.flush_interval)
    st.rerun()
