"""Fixtures of the API suite: the shared ones are in tests/conftest.py (which also finishes, after each
test, what it left recording on the session's servers)."""
