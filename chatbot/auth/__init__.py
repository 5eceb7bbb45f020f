"""Who is asking: people and their roles, password hashes, sessions, the access policy and
the audit log (DESIGN.md, "Who may do what").

    actor = signin.authenticate("ana", password, address="10.0.0.7").actor
    access.require(actor, "personas.edit")          # AccessDenied, recorded, if not allowed
    conversation = access.conversation(actor, row)  # "not found" if it is not theirs
"""

from .policy import AccessDenied, can
from .roles import Actor, Role

__all__ = ["AccessDenied", "Actor", "Role", "can"]
