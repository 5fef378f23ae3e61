"""The stream URL schemes the recorders can pull: the operator's allow-list less what FFmpeg lacks."""

from __future__ import annotations

import logging
import subprocess
import sys
from functools import lru_cache

log = logging.getLogger(__name__)

# Schemes that only some FFmpeg builds have; the others of the default allow-list (rtmp, rtsp, http...)
# are in every build cloudrec runs on.
OPTIONAL_SCHEMES = ("srt",)
_PROBE_TIMEOUT_S = 60.0  # a child process that imports PyAV: about a second, more on a busy host


@lru_cache(maxsize=1)
def missing_schemes() -> frozenset[str]:
    """The optional schemes this FFmpeg build lacks, asked in a child process once per process: the
    server process never loads FFmpeg itself (recorders do, in their own processes)."""
    code = "from cloudrec.media.protocols import missing_schemes; print(','.join(missing_schemes()))"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        log.warning("could not ask FFmpeg for its protocols: %s treated as missing", list(OPTIONAL_SCHEMES))
        return frozenset(OPTIONAL_SCHEMES)
    return frozenset(s for s in out.strip().split(",") if s)


def usable_schemes(allowed: list[str]) -> list[str]:
    """`allowed` without the schemes this FFmpeg build cannot pull (the contract: srt only with libsrt)."""
    missing = missing_schemes() & set(allowed)
    if missing:
        log.info("URL schemes %s left out of the allow-list: this FFmpeg build lacks them", sorted(missing))
    return [s for s in allowed if s not in missing]
