"""Acting users for service tests: one per role, and a second agent (for "someone
else's conversation"). Services check the role and the username they carry; accounts
for them need not exist unless a test signs in."""

from chatbot.auth import Actor, Role

AGENT = Actor("agent", Role.AGENT, "Agent Smith", address="10.0.0.11")
AGENT2 = Actor("agent2", Role.AGENT, "Other Agent", address="10.0.0.12")
QA = Actor("qa", Role.QA, "Quality Person", address="10.0.0.13")
ADMIN = Actor("admin", Role.ADMIN, "The Admin", address="10.0.0.14")
ROLES = {"agent": AGENT, "qa": QA, "admin": ADMIN}
