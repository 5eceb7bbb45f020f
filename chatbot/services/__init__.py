"""Use cases: what the pages ask for, built on the store, the personas and the client."""
