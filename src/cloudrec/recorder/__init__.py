"""Recorder: the seam between the control plane and the media engine, and the hosts that run recordings."""
