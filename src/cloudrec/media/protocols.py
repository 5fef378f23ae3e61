"""Which optional URL schemes this FFmpeg build can pull: `srt` needs libsrt, which the PyAV wheel lacks."""

from __future__ import annotations

import av

from cloudrec.schemes import OPTIONAL_SCHEMES


def has_protocol(scheme: str) -> bool:
    """Whether FFmpeg knows `scheme`, found by opening `<scheme>://`: without a host and port the
    protocols of OPTIONAL_SCHEMES refuse it before any network traffic, a missing one is "not found"."""
    try:
        av.open(f"{scheme}://", timeout=0.5).close()
    except av.error.ProtocolNotFoundError:
        return False
    except Exception:  # noqa: BLE001 - any other refusal: the protocol is there and read the URL
        return True
    return True


def missing_schemes() -> list[str]:
    """The OPTIONAL_SCHEMES this build lacks."""
    return [s for s in OPTIONAL_SCHEMES if not has_protocol(s)]
