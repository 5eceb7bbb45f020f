"""The backend client: the only code that talks to the Messages API or holds the key."""

from .client import LLMClient, ReplyStream
from .errors import LLMError
from .settings import ClientSettings, Secret, Timeouts, load_client_settings
from .types import ChatRequest, Reply, Turn, Usage

__all__ = [
    "ChatRequest",
    "ClientSettings",
    "LLMClient",
    "LLMError",
    "Reply",
    "ReplyStream",
    "Secret",
    "Timeouts",
    "Turn",
    "Usage",
    "load_client_settings",
]
