"""The API contract suite: every endpoint through real HTTP against a real server (see harness.py)."""
