"""The backend client: the only code that talks to the Messages API or holds the key."""

from .client import LLMClient, ReplyStream
from .errors import LLMError
from .message_batches import BatchInfo, MessageBatches
from .settings import ClientSettings, Secret, Timeouts, load_client_settings
from .types import ChatRequest, Reply, Turn, Usage

__all__ = [
    "BatchInfo",
    "ChatRequest",
    "ClientSettings",
    "LLMClient",
    "LLMError",
    "MessageBatches",
    "Reply",
    "ReplyStream",
    "Secret",
    "Timeouts",
    "Turn",
    "Usage",
    "load_client_settings",
]
