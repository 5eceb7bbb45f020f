"""Storage: conversations, messages, API-call records and versioned personas in SQLModel
(SQLite or PostgreSQL).

    engine = make_engine(database_url_from_env())   # once per process
    migrate(engine)                                 # at every start; idempotent
    with write_session(engine) as session:          # one unit of work, committed on exit
        conversation = create_conversation(session=session, persona="support")
        add_message(session=session, conversation_id=conversation.id,
                    role="user", content="Where is my order?")
"""

from chatbot.store.api_calls import list_api_calls, record_api_call
from chatbot.store.conversations import (
    archive_conversation,
    auto_title,
    create_conversation,
    delete_conversation,
    get_conversation,
    list_conversations,
    rename_conversation,
    require_conversation,
    set_auto_title,
)
from chatbot.store.db import (
    database_url_from_env,
    make_engine,
    migrate,
    read_session,
    write_session,
)
from chatbot.store.errors import NotFoundError
from chatbot.store.messages import (
    INTERRUPTED_ERROR,
    add_message,
    add_messages,
    get_message,
    list_messages,
    lock_conversation,
    mark_stale_streaming_as_partial,
    touch_streaming_messages,
    update_message,
)
from chatbot.store.models import (
    DEFAULT_TITLE,
    ApiCall,
    ApiCallOutcome,
    Conversation,
    Message,
    MessageRole,
    MessageStatus,
    Persona,
    PersonaVersion,
    utc_now,
)
from chatbot.store.ops_models import AppSetting, Budget, BudgetAlert, TicketSummary
from chatbot.store.qa_models import (
    Annotation,
    CheckResult,
    Feedback,
    GoldenCase,
    QACheck,
    ReplayResult,
    ReplayRun,
)
from chatbot.store.personas import (
    add_persona_version,
    create_persona,
    get_persona,
    get_persona_by_key,
    get_persona_version,
    latest_persona_version,
    latest_version_numbers,
    list_persona_versions,
    list_personas,
    persona_keys_like,
    require_persona,
    set_persona_archived,
    set_published_version,
)

__all__ = [
    "Annotation",
    "ApiCall",
    "ApiCallOutcome",
    "AppSetting",
    "Budget",
    "BudgetAlert",
    "CheckResult",
    "Conversation",
    "DEFAULT_TITLE",
    "Feedback",
    "GoldenCase",
    "INTERRUPTED_ERROR",
    "Message",
    "MessageRole",
    "MessageStatus",
    "NotFoundError",
    "Persona",
    "PersonaVersion",
    "QACheck",
    "ReplayResult",
    "ReplayRun",
    "TicketSummary",
    "add_message",
    "add_messages",
    "add_persona_version",
    "archive_conversation",
    "auto_title",
    "create_conversation",
    "create_persona",
    "database_url_from_env",
    "delete_conversation",
    "get_conversation",
    "get_message",
    "get_persona",
    "get_persona_by_key",
    "get_persona_version",
    "latest_persona_version",
    "latest_version_numbers",
    "list_api_calls",
    "list_conversations",
    "list_messages",
    "lock_conversation",
    "list_persona_versions",
    "list_personas",
    "make_engine",
    "mark_stale_streaming_as_partial",
    "migrate",
    "persona_keys_like",
    "read_session",
    "record_api_call",
    "rename_conversation",
    "require_conversation",
    "require_persona",
    "set_auto_title",
    "set_persona_archived",
    "set_published_version",
    "touch_streaming_messages",
    "update_message",
    "utc_now",
    "write_session",
]
