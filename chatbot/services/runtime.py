"""The composition root: one of everything per process, built from settings.

    runtime = build_runtime()
    generation = runtime.chat.send(conversation_id=None, text="Hi", owner="agent")

The UI keeps one `Runtime` in `st.cache_resource`; tests build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from chatbot import store
from chatbot.config import AppSettings, load_app_settings
from chatbot.llm import LLMClient, load_client_settings
from chatbot.llm.cache import MemoryCache
from chatbot.llm.ratelimit import RateLimiter, RateLimits, UserLimits

from .chat import ChatService
from .conversations import Conversations
from .generation import Generations
from .personas import PersonaService
from .scratch import ScratchChat

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

    @property
    def sandbox_mode(self) -> bool:
        return self.client.settings.sandbox

    def close(self) -> None:
        self.chat.close()
        self.generations.shutdown(wait=True)
        self.client.close()
        self.engine.dispose()


def build_runtime(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> Runtime:
    settings = load_app_settings(environ, dotenv_path=dotenv_path)
    client_settings = load_client_settings(environ, dotenv_path=dotenv_path)
    if not client_settings.has_key:
        # No key: answer from the built-in sandbox so the app works with no network.
        from chatbot.sandbox import ensure_background_sandbox

        url = ensure_background_sandbox(delay_ms=settings.sandbox_delay_ms)
        client_settings = client_settings.for_sandbox(url)
        log.info("no ANTHROPIC_API_KEY set: using the built-in sandbox at %s", url)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    with store.write_session(engine) as session:
        closed = store.mark_stale_streaming_as_partial(
            session=session,
            older_than=store.utc_now() - timedelta(seconds=settings.stale_after),
        )
    if closed:
        log.warning("closed %d replies interrupted by an earlier shutdown", closed)
    cache = MemoryCache(ttl_seconds=settings.cache_ttl) if settings.cache_ttl > 0 else None
    limiter = None
    if settings.rpm > 0:
        limiter = RateLimiter(
            default=RateLimits(rpm=settings.rpm, burst=min(settings.burst, 2 * settings.rpm)),
            users=UserLimits(rpm=settings.user_rpm, burst=max(1.0, settings.user_rpm / 3)),
        )
    client = LLMClient(client_settings, cache=cache, limiter=limiter)
    personas = PersonaService(engine, client)
    seeded = personas.seed_defaults()
    if seeded:
        log.info("seeded %d shipped personas", seeded)
    generations = Generations(max_workers=settings.max_generations)
    chat = ChatService(
        engine=engine, client=client, settings=settings, generations=generations, personas=personas
    )
    return Runtime(
        settings=settings,
        engine=engine,
        client=client,
        generations=generations,
        chat=chat,
        conversations=Conversations(engine, personas),
        personas=personas,
        scratch=ScratchChat(client),
    )
