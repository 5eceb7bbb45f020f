"""The project's base error. Pages catch `ChatbotError` and show `user_message`."""

from __future__ import annotations


class ChatbotError(Exception):
    """Anything that should reach a person as a clear message rather than a traceback."""

    advice = "Something went wrong. Try again; if it keeps failing, tell an admin."

    @property
    def user_message(self) -> str:
        return self.advice


class StatedError(ChatbotError):
    """An error whose own message is what the person should read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def user_message(self) -> str:
        return self.message


class InputError(StatedError):
    """The person's input was refused; nothing was stored or sent."""


class ConversationBusy(InputError):
    """A reply is still being generated for this conversation."""


class NotFoundError(InputError):
    """The conversation (or message) asked for does not exist, or no longer does."""
