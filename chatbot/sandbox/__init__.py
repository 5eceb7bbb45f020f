"""An Anthropic-compatible Messages API server for running without a key and for tests.

    from chatbot.sandbox import SandboxServer, ensure_background_sandbox

    base_url = ensure_background_sandbox()          # the app, when no key is set
    with SandboxServer() as sandbox:                # a test
        sandbox.state.add_faults([{"kind": "status", "status": 529}])
"""

from .app import SandboxConfig, create_app
from .faults import Fault, FaultSpecError, parse_fault
from .server import SandboxServer, ensure_background_sandbox
from .state import SandboxState

__all__ = [
    "Fault",
    "FaultSpecError",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "create_app",
    "ensure_background_sandbox",
    "parse_fault",
]
