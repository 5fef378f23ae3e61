"""cloudrec: a self-hosted cloud recording server speaking the HST cloud recording API."""

__version__ = "0.1.0"
