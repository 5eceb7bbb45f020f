"""The composition root: one of everything per process, built from settings.

    runtime = build_runtime()
    generation = runtime.chat.send(actor, conversation_id=None, text="Hi")

The UI keeps one `Runtime` in `st.cache_resource`; tests build their own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from sqlalchemy import Engine

from chatbot import store
from chatbot.auth.identity import Identity, build_identity
from chatbot.auth.settings import load_auth_settings
from chatbot.config import AppSettings, load_app_settings
from chatbot.llm import LLMClient, load_client_settings
from chatbot.llm.cache import MemoryCache
from chatbot.llm.similar import SimilarityCache
from chatbot.llm.ratelimit import RateLimiter, RateLimits, UserLimits
from chatbot.llm.redis_state import RedisBucketStore, RedisCache, connect, redact_url

from .budgets import BudgetService
from .chat import ChatService
from .checks_service import ChecksService
from .conversations import Conversations
from .exports import Exports
from .generation import Generations
from .judge import JudgeService
from .personas import PersonaService
from .qa import QAService
from .replay import ReplayService
from .scratch import ScratchChat
from .summary import SummaryService
from .usage import UsageService

log = logging.getLogger("chatbot.runtime")


@dataclass
class Runtime:
    settings: AppSettings
    engine: Engine
    client: LLMClient
    generations: Generations
    chat: ChatService
    conversations: Conversations
    personas: PersonaService
    scratch: ScratchChat
    summaries: SummaryService
    budgets: BudgetService
    checks: ChecksService
    replays: ReplayService
    qa: QAService
    exports: Exports
    identity: Identity
    usage: UsageService
    redis: Redis | None = None  # the shared client when CHATBOT_REDIS_URL is set

    @property
    def sandbox_mode(self) -> bool:
        return self.client.settings.sandbox

    def close(self) -> None:
        self.replays.close()  # first: its runs' calls in flight finish and are saved
        self.chat.close()
        self.generations.shutdown(wait=True)
        self.client.close()
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build_runtime(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> Runtime:
    settings = load_app_settings(environ, dotenv_path=dotenv_path)
    auth_settings = load_auth_settings(environ, dotenv_path=dotenv_path)
    client_settings = load_client_settings(environ, dotenv_path=dotenv_path)
    redis_client = None
    if settings.redis_url:
        # Pinged now: a shared store that is misconfigured must stop the start, not quietly
        # become per-replica limits.
        redis_client = connect(settings.redis_url, setting="CHATBOT_REDIS_URL")
        log.info("rate limiter and response cache shared through Redis at %s",
                 redact_url(settings.redis_url))
    if not client_settings.has_key:
        # No key: answer from the built-in sandbox so the app works with no network.
        from chatbot.sandbox import ensure_background_sandbox

        url = ensure_background_sandbox(delay_ms=settings.sandbox_delay_ms)
        client_settings = client_settings.for_sandbox(url)
        log.info("no ANTHROPIC_API_KEY set: using the built-in sandbox at %s", url)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    identity = build_identity(engine, auth_settings)
    with store.write_session(engine) as session:
        closed = store.mark_stale_streaming_as_partial(
            session=session,
            older_than=store.utc_now() - timedelta(seconds=settings.stale_after),
        )
    if closed:
        log.warning("closed %d replies interrupted by an earlier shutdown", closed)
    cache = None
    if settings.cache_ttl > 0:
        cache = (
            RedisCache(redis_client, ttl_seconds=settings.cache_ttl)
            if redis_client is not None else MemoryCache(ttl_seconds=settings.cache_ttl)
        )
    limiter = None
    if settings.rpm > 0:
        shared = {}
        if redis_client is not None:
            # Bucket stamps compared between processes need a clock they share: the wall clock.
            shared = {"store": RedisBucketStore(redis_client), "clock": time.time}
        limiter = RateLimiter(
            default=RateLimits(rpm=settings.rpm, burst=min(settings.burst, 2 * settings.rpm)),
            users=UserLimits(rpm=settings.user_rpm, burst=max(1.0, settings.user_rpm / 3)),
            **shared,
        )
    client = LLMClient(client_settings, cache=cache, limiter=limiter)
    personas = PersonaService(engine, client, access=identity.access)
    seeded = personas.seed_defaults()
    if seeded:
        log.info("seeded %d shipped personas", seeded)
    generations = Generations(max_workers=settings.max_generations)
    budgets = BudgetService(engine, access=identity.access)
    budgets.warm()
    chat = ChatService(
        engine=engine,
        client=client,
        settings=settings,
        generations=generations,
        personas=personas,
        budgets=budgets,
        # Per process even with Redis: a reworded-question hit only saves a call, so a
        # replica that has not seen the question yet just asks the API.
        similar=SimilarityCache(ttl_seconds=settings.cache_ttl) if settings.cache_ttl > 0 else None,
        access=identity.access,
    )
    judge = JudgeService(engine=engine, client=client, settings=settings)
    checks = ChecksService(engine, judge=judge, budgets=budgets, access=identity.access)
    return Runtime(
        settings=settings,
        engine=engine,
        client=client,
        generations=generations,
        chat=chat,
        conversations=Conversations(engine, personas, access=identity.access),
        personas=personas,
        scratch=ScratchChat(client, access=identity.access),
        summaries=SummaryService(
            engine=engine, client=client, settings=settings, budgets=budgets, access=identity.access
        ),
        budgets=budgets,
        checks=checks,
        replays=ReplayService(
            engine=engine,
            client=client,
            personas=personas,
            checks=checks,
            budgets=budgets,
            judge=judge,
            context_tokens=settings.context_tokens,
            batch_poll_interval=settings.batch_poll_seconds,
            access=identity.access,
        ),
        qa=QAService(engine, personas, access=identity.access),
        exports=Exports(engine, access=identity.access),
        identity=identity,
        usage=UsageService(engine, access=identity.access, limiter=limiter),
        redis=redis_client,
    )
