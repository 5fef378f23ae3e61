"""Size limits of requests: tiles, audio entries and captions per compatibility profile, string lengths."""

from __future__ import annotations

from dataclasses import dataclass

from cloudrec.errors import ParamError


@dataclass(frozen=True)
class LayoutLimits:
    """The most entries one layout (or caption list) may have: a recorder composes and mixes each of
    them every frame, so an unbounded list stalls it (2,000 tiles: `finish` 5 s late, nothing recorded)."""

    video: int  # tiles of video_list
    audio: int  # entries of audio_list
    captions: int  # entries of subtitle_list


# default: TRTC's 25 (Agora allows 17); `hst`: what the vendor's original service allows (16 video, 10
# audio). Captions are drawn text, cheap next to a tile, but still bounded.
PROFILE_LIMITS: dict[str, LayoutLimits] = {
    "default": LayoutLimits(video=25, audio=25, captions=32),
    "hst": LayoutLimits(video=16, audio=10, captions=32),
}
MAX_VIDEO_TILES = max(p.video for p in PROFILE_LIMITS.values())  # what any profile accepts
MAX_AUDIO_ENTRIES = max(p.audio for p in PROFILE_LIMITS.values())
MAX_CAPTIONS = max(p.captions for p in PROFILE_LIMITS.values())

# String lengths (characters) the API accepts: long enough for every real client, short enough that a
# reply or a log line stays small (a 1,000,000-character `seq` was stored and echoed).
MAX_SEQ_CHARS = 256
MAX_TIME_TEXT_CHARS = 64  # start_time / stop_time filters: "2026-12-03T08:00:00.000000+08:00" fits


def layout_limits(profile: str) -> LayoutLimits:
    """The limits of a compatibility profile (`compat` setting); an unknown one gets the default's."""
    return PROFILE_LIMITS.get(profile, PROFILE_LIMITS["default"])


def check_count(field: str, count: int, most: int, profile: str) -> None:
    """ParamError (6050030003) naming `field` when it has more than `most` entries."""
    if count > most:
        raise ParamError(f"{field} is too long: at most {most} items (profile {profile}), got {count}")
