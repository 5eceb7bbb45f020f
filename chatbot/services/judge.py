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

from sqlalchemy import Engine

from chatbot.config import DEFAULT_PURPOSE_MODELS, AppSettings, model_for
from chatbot.llm import ChatRequest, LLMClient, Turn

from .call_log import accounted_structured, opaque_user
from .checks import RubricVerdict

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

    def add_cost(self, usd: float) -> None:
        self.cost_usd += usd


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
            metadata={"user_id": opaque_user(bound.owner)},
        )
        result = accounted_structured(
            self.engine, self.client, request, RubricVerdict, tool_name=TOOL_NAME,
            purpose=PURPOSE, owner=bound.owner, conversation_id=bound.conversation_id,
            on_cost=bound.add_cost,
        )
        return result.value
