"""The task service: recording tasks' state machine, finish figures, listing, files and deletion (no HTTP)."""
