"""The background half of a chat turn: stream one reply, save its text as it comes, then
save the outcome (complete, partial or error) with its API-call record and settle the
budgets. It runs on a generation worker, never in a page's script run.

    writer.run(generation, request, owner="ana", use_cache=True)
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from chatbot import store
from chatbot.config import AppSettings
from chatbot.errors import ChatbotError
from chatbot.llm import ChatRequest, LLMClient, LLMError, Reply
from chatbot.llm.cache import CachedReplyStream
from chatbot.llm.ratelimit import RateLimitWaitCancelled
from chatbot.llm.similar import SimilarityCache

from .budgets import BudgetService
from .call_log import record_call, settle_budgets
from .generation import Generation

log = logging.getLogger("chatbot.chat")

STOPPED_BY_AGENT = "Stopped by the agent. Retry to generate the whole reply."


class ReplyWriter:
    def __init__(
        self, *, engine: Engine, client: LLMClient, settings: AppSettings,
        budgets: BudgetService | None = None, similar: SimilarityCache | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.settings = settings
        self.budgets = budgets
        self.similar = similar

    def fail_before_call(self, reply_id: int, error: ChatbotError) -> None:
        with store.write_session(self.engine) as session:
            store.update_message(
                session=session,
                message_id=reply_id,
                status=store.MessageStatus.ERROR,
                error=error.user_message,
            )

    def run(
        self, generation: Generation, request: ChatRequest, *, owner: str, use_cache: bool,
        similar: bool = False,
    ) -> BaseException | None:
        """The worker: stream, save as we go, then save the outcome. Returns its error."""
        error: BaseException | None = None
        last_save = time.monotonic()
        similar_cache = self.similar if similar else None
        hit = similar_cache.lookup(request) if similar_cache is not None else None
        stream = CachedReplyStream(hit.reply) if hit is not None else self.client.stream(
            request,
            use_cache=use_cache,
            on_wait=generation.waiting_for_capacity,
            cancel=generation.cancel_event,
        )
        try:
            with stream:
                for text in stream:
                    generation.push(text)
                    if generation.cancelled:
                        break
                    if time.monotonic() - last_save >= self.settings.flush_interval:
                        self._save_progress(generation)
                        last_save = time.monotonic()
        except LLMError as exc:
            error = exc
            log.warning("reply for conversation %s failed: %s", generation.conversation_id, exc)
        except Exception as exc:  # never lose the partial text to a bug further down
            log.exception("reply for conversation %s crashed", generation.conversation_id)
            error = ChatbotError(str(exc))
        reply = stream.result
        if similar_cache is not None and not reply.cache_hit:
            similar_cache.remember(request, reply)  # only complete first-turn replies
        self._save_outcome(generation, reply, error, owner=owner)
        return error

    def _save_progress(self, generation: Generation) -> None:
        try:
            with store.write_session(self.engine) as session:
                store.update_message(
                    session=session, message_id=generation.message_id, content=generation.text
                )
        except Exception:  # a failed interim save must not stop the reply
            log.exception("could not save reply progress for message %s", generation.message_id)

    def _save_outcome(
        self, generation: Generation, reply: Reply, error: BaseException | None, *, owner: str
    ) -> None:
        status = reply.status
        note = error.user_message if isinstance(error, ChatbotError) else None
        if generation.cancelled and error is None and not reply.complete:
            note = STOPPED_BY_AGENT
        usage = reply.usage
        fields = dict(
            content=reply.text,
            context_dropped=generation.dropped_turns or None,
            status=status,
            error=note,
            model=reply.model,
            input_tokens=usage.input_tokens or None,
            output_tokens=usage.output_tokens or None,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or None,
            cache_read_input_tokens=usage.cache_read_input_tokens or None,
            stop_reason=reply.stop_reason,
            request_id=reply.request_id or getattr(error, "request_id", None),
            ttft_ms=reply.ttft * 1000 if reply.ttft is not None else None,
            total_ms=reply.total * 1000,
        )
        with store.write_session(self.engine) as session:
            store.update_message(session=session, message_id=generation.message_id, **fields)
            if isinstance(error, RateLimitWaitCancelled):
                return  # stopped before anything was sent: there is no call to record
            record_call(
                session,
                purpose="chat",
                owner=owner,
                model=reply.model or "",
                reply=reply,
                error=error,
                conversation_id=generation.conversation_id,
                message_id=generation.message_id,
            )
        settle_budgets(self.budgets, owner)
