"""The chat use case: one turn, end to end (DESIGN.md, "One turn").

    1. validate the text (a clear error, nothing stored);
    2. commit the user's message and an empty "streaming" reply row in one transaction;
    3. render the persona, fit the history to the context budget, build the request;
    4. stream the reply on a background worker, saving the text every `flush_interval`;
    5. commit the final reply (complete, partial or error) and one API-call record
       (4 and 5: `reply_writer.py`).
No transaction is open while the API is being called. Before any of it, the acting user
must hold "chat" and be allowed to post into the conversation (else nothing happens).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import NOT_FOUND, Access
from chatbot.store.conversations import set_conversation_persona
from chatbot.config import AppSettings
from chatbot.errors import ChatbotError, ConversationBusy, InputError, NotFoundError
from chatbot.llm import LLMClient
from chatbot.llm.similar import SimilarityCache
from chatbot.personas import PersonaSpec

from .budgets import BudgetService
from .call_log import opaque_user
from .context import build_request, fit_history, history_budget, turns_from_messages
from .conversations import checked_conversation, create_with_persona, default_persona_key
from .generation import Generation, Generations
from .personas import PersonaService
from .reply_writer import ReplyWriter

log = logging.getLogger("chatbot.chat")

# Control characters other than tab and newline have no business in a chat message, and
# NUL breaks some drivers; lone surrogates cannot be encoded as UTF-8 at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_message(text: str, *, max_chars: int) -> str:
    """The text as it will be stored and sent, or an `InputError` saying what to fix."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text or ""))
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InputError("Type a message first.")
    if len(text) > max_chars:
        raise InputError(
            f"The message is {len(text):,} characters long; the limit is {max_chars:,}. "
            "Shorten it or send it in parts. Nothing was sent."
        )
    return text


class ChatService:
    """Sends messages and keeps every turn in the store."""

    def __init__(
        self,
        *,
        engine: Engine,
        client: LLMClient,
        settings: AppSettings,
        generations: Generations,
        personas: PersonaService,
        budgets: BudgetService | None = None,
        similar: SimilarityCache | None = None,
        access: Access | None = None,
    ) -> None:
        self.engine = engine
        self.access = access or Access(AuditLog(engine))
        self.writer = ReplyWriter(engine=engine, client=client, settings=settings, budgets=budgets,
                                  similar=similar)
        self.settings = settings
        self.generations = generations
        self.personas = personas
        self._stopping = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="reply-heartbeat", daemon=True)
        self._heartbeat.start()

    # The reply writer calls the API, counts each call against the budgets and fills the
    # similarity cache; the turn checks the same budgets first. One of each, shared.
    @property
    def client(self) -> LLMClient:
        return self.writer.client

    @client.setter
    def client(self, client: LLMClient) -> None:
        self.writer.client = client

    @property
    def budgets(self) -> BudgetService | None:
        return self.writer.budgets

    @budgets.setter
    def budgets(self, budgets: BudgetService | None) -> None:
        self.writer.budgets = budgets

    @property
    def similar(self) -> SimilarityCache | None:
        return self.writer.similar

    def close(self) -> None:
        self._stopping.set()
        self._heartbeat.join(timeout=5)

    def _beat(self) -> None:
        """Keep the rows of replies in progress fresh, so that a reply waiting on a retry
        or a slow first token is never taken for one orphaned by a dead process."""
        while not self._stopping.wait(self.settings.heartbeat_interval):
            ids = self.generations.active_message_ids()
            if not ids:
                continue
            try:
                with store.write_session(self.engine) as session:
                    store.touch_streaming_messages(session=session, message_ids=ids)
            except Exception:
                log.exception("could not mark replies in progress as alive")

    def is_orphaned(self, message: store.Message) -> bool:
        """A reply still marked "streaming" that no process has touched for too long:
        its server stopped mid-reply. Show it as interrupted, with a way to retry."""
        if message.status != store.MessageStatus.STREAMING:
            return False
        if self.generations.get(message.conversation_id) is not None:
            return False
        return store.utc_now() - message.updated_at > timedelta(seconds=self.settings.stale_after)

    # -- one turn -------------------------------------------------------------------------

    def active(self, actor: Actor, conversation_id: int) -> Generation | None:
        """The reply in progress in a conversation `actor` may read (it can be stopped)."""
        self.access.require(actor, "chat")
        checked_conversation(self.engine, self.access, actor, conversation_id)
        return self._active(conversation_id)

    def send(
        self,
        actor: Actor,
        *,
        conversation_id: int | None,
        text: str,
        persona: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Generation:
        """Commit the agent's message, then start the reply in the background.

        With `conversation_id=None` a new conversation is created for the message, with
        `persona` (default: the agent's last used one) and its case details `variables`.
        """
        checked, owner = self._admit(actor, conversation_id), actor.username
        text = clean_message(text, max_chars=self.settings.max_input_chars)
        chosen = None
        if checked is None:
            chosen = self.personas.published(
                persona or default_persona_key(self.engine, self.personas, owner)
            )
        # Few statements on purpose: this transaction is most of what the app adds before
        # the first token (benchmarks/first_token.py).
        with store.write_session(self.engine) as session:
            if chosen is not None:
                conversation = create_with_persona(
                    session, chosen, owner=owner, variables=variables
                )
                history: list[store.Message] = []
            else:
                conversation = self._locked(session, checked)  # type: ignore[arg-type]
                # The history, read under the lock: it also tells the next position and
                # whether a reply is still streaming.
                history = store.list_messages(session=session, conversation_id=conversation.id)
                self._refuse_if_streaming(session, history)
            message, reply = store.add_messages(
                session=session,
                conversation_id=conversation.id,
                messages=[{"role": "user", "content": text}, self._new_reply_row()],
                locked=conversation,
                position=history[-1].position + 1 if history else 0,
            )
            if message.position == 0:
                store.set_auto_title(
                    session=session, conversation_id=conversation.id, first_message=text
                )
        messages = [*history, message, reply]
        return self._generate(conversation, reply.id, owner, use_cache=True, messages=messages)

    def retry(self, actor: Actor, *, conversation_id: int) -> Generation:
        """Generate the last reply again (after an error, a cut-off or a stop)."""
        checked, owner = self._admit(actor, conversation_id), actor.username
        with store.write_session(self.engine) as session:
            conversation = self._locked(session, checked)  # type: ignore[arg-type]
            messages = store.list_messages(session=session, conversation_id=conversation.id)
            self._refuse_if_streaming(session, messages)
            if not messages:
                raise InputError("There is nothing to retry in this conversation yet.")
            last = messages[-1]
            if last.role == "assistant":
                reply = store.update_message(
                    session=session,
                    message_id=last.id,
                    content="",
                    status=store.MessageStatus.STREAMING,
                    error=None,
                    stop_reason=None,
                )
            else:
                (reply,) = store.add_messages(
                    session=session, conversation_id=conversation.id, messages=[self._new_reply_row()]
                )
        # A retry asks for a fresh answer: the cached one may be what the agent rejected.
        return self._generate(conversation, reply.id, owner, use_cache=False, messages=messages)

    def budget_warning(self, actor: Actor) -> str | None:
        """The notice the chat page shows while a budget for `actor` is at 80 % or over."""
        self.access.require(actor, "chat")
        return self.budgets.banner(actor) if self.budgets is not None else None

    # -- internals ------------------------------------------------------------------------

    def _active(self, conversation_id: int) -> Generation | None:
        generation = self.generations.get(conversation_id)
        return generation if generation is not None and not generation.done else None

    def _admit(self, actor: Actor, conversation_id: int | None) -> store.Conversation | None:
        """Before anything is stored or sent: the actor chats and may post into this
        conversation (None: a new one of theirs), asked first, so that "busy" says nothing
        about another's; then no reply is in progress and no budget says stop."""
        self.access.require(actor, "chat")
        checked = None
        if conversation_id is not None:
            checked = checked_conversation(self.engine, self.access, actor, conversation_id, write=True)
            if self._active(conversation_id):
                raise self._busy()
        if self.budgets is not None:
            self.budgets.check("chat", actor.username)
        return checked

    @staticmethod
    def _locked(session: Any, checked: store.Conversation) -> store.Conversation:
        """The checked conversation, locked for this turn; one deleted (or given to someone
        else) since the check is not found."""
        conversation = store.lock_conversation(session=session, conversation_id=checked.id)
        if conversation is None or conversation.owner != checked.owner:
            raise NotFoundError(NOT_FOUND)
        return conversation

    @staticmethod
    def _new_reply_row() -> dict[str, Any]:
        """The empty row a reply streams into; it exists before the call is made."""
        return {"role": "assistant", "content": "", "status": store.MessageStatus.STREAMING}

    def _busy(self) -> ConversationBusy:
        return ConversationBusy(
            "The assistant is still answering in this conversation. Wait for the reply "
            "(or stop it), then send your message."
        )

    def _refuse_if_streaming(self, session: Any, messages: list[store.Message]) -> None:
        streaming = next(
            (m for m in reversed(messages) if m.status == store.MessageStatus.STREAMING), None
        )
        if streaming is None:
            return
        if not self.is_orphaned(streaming):
            raise self._busy()
        # Left behind by a process that died mid-reply: close it and carry on.
        store.update_message(
            session=session,
            message_id=streaming.id,
            status=store.MessageStatus.PARTIAL if streaming.content else store.MessageStatus.ERROR,
            error=store.INTERRUPTED_ERROR,
        )

    def _persona(self, conversation: store.Conversation) -> PersonaSpec:
        """The exact persona version this conversation uses; one started before versions
        were recorded is pinned to the published version on its next turn."""
        if conversation.persona_version is not None:
            return self.personas.spec(conversation.persona, conversation.persona_version)
        resolved = self.personas.published(conversation.persona)
        with store.write_session(self.engine) as session:
            set_conversation_persona(
                session=session, conversation_id=conversation.id, persona_version=resolved.number
            )
        return resolved.spec

    def _generate(
        self,
        conversation: store.Conversation,
        reply_id: int,
        owner: str,
        *,
        use_cache: bool,
        messages: list[store.Message],
    ) -> Generation:
        try:
            persona = self._persona(conversation)
            system = persona.system_prompt(conversation.persona_vars)
        except ChatbotError as error:
            self.writer.fail_before_call(reply_id, error)
            raise
        history = turns_from_messages(m for m in messages if m.id != reply_id)
        fitted = fit_history(
            history,
            system=system,
            budget_tokens=history_budget(
                persona.model, persona.max_tokens, self.settings.context_tokens
            ),
        )
        request = build_request(
            persona, system=system, turns=fitted.turns, metadata={"user_id": opaque_user(owner)}
        )
        generation = Generation(conversation.id, reply_id, dropped_turns=fitted.dropped)
        use_cache = use_cache and persona.cache_replies
        # Reworded first questions too, for personas that opt in (never on a retry).
        similar = use_cache and persona.similar_questions
        return self.generations.start(
            generation,
            lambda g: self.writer.run(g, request, owner=owner, use_cache=use_cache, similar=similar),
        )
