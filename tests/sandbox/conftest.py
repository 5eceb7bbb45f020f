from __future__ import annotations

import httpx
import pytest
from sandbox_helpers import HEADERS


@pytest.fixture
def client(sandbox):
    """httpx over loopback to the sandbox, with a key and the version header."""
    with httpx.Client(base_url=sandbox.base_url, headers=HEADERS, timeout=5) as http:
        yield http
