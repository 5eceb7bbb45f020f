"""Storage: conversations, messages and API-call records in SQLModel (SQLite or PostgreSQL).

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
    find_streaming_message,
    get_message,
    list_messages,
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
    utc_now,
)

__all__ = [
    "DEFAULT_TITLE",
    "INTERRUPTED_ERROR",
    "ApiCall",
    "ApiCallOutcome",
    "Conversation",
    "Message",
    "MessageRole",
    "MessageStatus",
    "NotFoundError",
    "add_message",
    "archive_conversation",
    "auto_title",
    "create_conversation",
    "database_url_from_env",
    "delete_conversation",
    "find_streaming_message",
    "get_conversation",
    "get_message",
    "list_api_calls",
    "list_conversations",
    "list_messages",
    "make_engine",
    "mark_stale_streaming_as_partial",
    "migrate",
    "read_session",
    "record_api_call",
    "rename_conversation",
    "require_conversation",
    "set_auto_title",
    "touch_streaming_messages",
    "update_message",
    "utc_now",
    "write_session",
]
