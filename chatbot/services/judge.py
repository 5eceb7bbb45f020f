"""The judge for rubric checks: a structured call on the cheaper model routed for "judge".

    judge = JudgeService(engine=engine, client=client, settings=settings)
    grade = judge.for_turn(owner="qa", conversation_id=12)
    verdict = grade("Asks for the order number", reply_text, question)   # RubricVerdict
    grade.cost_usd                                                      # what it spent

The verdict is forced into `RubricVerdict` by `chatbot.llm.structured` (one repair at
most), at temperature 0 so the same reply gets the same grade. Every call it makes is
recorded as an api_call with purpose "judge", owned by whoever started the replay, so
budgets and the usage page see it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from chatbot import pricing, store
from chatbot.config import DEFAULT_PURPOSE_MODELS, AppSettings, model_for
from chatbot.llm import ChatRequest, LLMClient, LLMError, Turn
from chatbot.llm.errors import StructuredOutputError
from chatbot.llm.structured import Attempt, structured

from .chat import _opaque_user
from .checks import RubricVerdict

log = logging.getLogger("chatbot.judge")

PURPOSE = "judge"
TOOL_NAME = "record_verdict"
MAX_TOKENS = 512
MAX_REPLY_CHARS = 30_000  # what the judge reads of a reply; longer ones are cut, and it is told
SYSTEM = (
    "You are a strict quality reviewer for a customer-support assistant. You are given a "
    "rubric, the message the assistant answered, and the assistant's reply. Decide whether "
    "the reply meets the rubric. Judge only against the rubric, not your own preferences. "
    "Answer by calling the record_verdict tool."
)


def judge_prompt(rubric: str, reply: str, question: str | None) -> str:
    cut = ""
    if len(reply) > MAX_REPLY_CHARS:
        reply, cut = reply[:MAX_REPLY_CHARS], "\n(The reply was cut here for length.)"
    parts = [f"<rubric>\n{rubric}\n</rubric>"]
    if question:
        parts.append(f"<message>\n{question}\n</message>")
    parts.append(f"<reply>\n{reply}{cut}\n</reply>")
    return "\n\n".join(parts)


class BoundJudge:
    """The judge for one replayed turn: who pays, which conversation, what it cost."""

    def __init__(self, service: JudgeService, owner: str, conversation_id: int | None) -> None:
        self.service = service
        self.owner = owner
        self.conversation_id = conversation_id
        self.cost_usd = 0.0

    def __call__(self, rubric: str, reply: str, question: str | None) -> RubricVerdict:
        return self.service.grade(rubric, reply, question, bound=self)


class JudgeService:
    """Grades replies against rubrics; see the module docstring."""

    def __init__(self, *, engine: Engine, client: LLMClient, settings: AppSettings | None = None,
                 model: str | None = None) -> None:
        self.engine = engine
        self.client = client
        self.settings = settings
        self._model = model

    @property
    def model(self) -> str:
        if self._model:
            return self._model
        default = DEFAULT_PURPOSE_MODELS[PURPOSE]
        return model_for(PURPOSE, self.settings, default) if self.settings is not None else default

    def for_turn(self, *, owner: str, conversation_id: int | None) -> BoundJudge:
        return BoundJudge(self, owner, conversation_id)

    def grade(self, rubric: str, reply: str, question: str | None, *, bound: BoundJudge) -> RubricVerdict:
        """Raises the client's `LLMError`s (`StructuredOutputError` included); every call
        made is recorded first."""
        model = self.model
        request = ChatRequest(
            model=model,
            messages=[Turn("user", judge_prompt(rubric, reply, question))],
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            temperature=0.0,
            metadata={"user_id": _opaque_user(bound.owner)},
        )
        try:
            result = structured(
                self.client, request, RubricVerdict, tool_name=TOOL_NAME,
                on_attempt=lambda attempt: self._record(bound, model, attempt),
            )
        except LLMError as error:
            if not isinstance(error, StructuredOutputError):  # its calls are recorded already
                self._record_failure(bound, model, error)
            raise
        return result.value

    def _record(self, bound: BoundJudge, model: str, attempt: Attempt) -> None:
        reply = attempt.reply
        usage = reply.usage
        cost = pricing.cost_usd(reply.model or model, usage, cache_hit=reply.cache_hit)
        bound.cost_usd += cost or 0.0
        with store.write_session(self.engine) as session:
            store.record_api_call(
                session=session,
                conversation_id=bound.conversation_id,
                owner=bound.owner,
                purpose=PURPOSE,
                model=reply.model or model,
                # A refused (invalid) verdict is an error: error rates then show a judge
                # model that cannot follow the schema.
                outcome="ok" if attempt.problem is None else "error",
                error_type=None if attempt.problem is None else "invalid_output",
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                ttft_ms=reply.ttft * 1000 if reply.ttft is not None else None,
                total_ms=reply.total * 1000,
                attempts=reply.attempts,
                request_id=reply.request_id,
                cache_hit=reply.cache_hit,
                cost_usd=cost,
            )

    def _record_failure(self, bound: BoundJudge, model: str, error: LLMError) -> None:
        log.warning("judge call failed: %s", error)
        with store.write_session(self.engine) as session:
            store.record_api_call(
                session=session,
                conversation_id=bound.conversation_id,
                owner=bound.owner,
                purpose=PURPOSE,
                model=model,
                outcome="error",
                status_code=error.status,
                error_type=error.error_type or type(error).__name__,
                attempts=error.attempts,
                request_id=error.request_id,
                total_ms=error.elapsed * 1000,
                cost_usd=0.0,  # an error response is not billed
            )
