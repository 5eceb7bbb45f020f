"""Errors raised by the store.

    LookupError
     └── NotFoundError      a conversation or message id that does not exist

Bad arguments (an empty title, an unknown status, an unknown field) raise ValueError
or TypeError, like the standard library.
"""


class NotFoundError(LookupError):
    """The conversation or message asked for does not exist."""
