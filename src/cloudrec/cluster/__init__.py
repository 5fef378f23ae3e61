"""Cluster mode: recordings placed on the recorder nodes of a Ray cluster (the `cluster` extra)."""
