"""The storage interface every backend (local directory, S3-compatible) implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

# What stored files are, by extension: segments and their posters (served or stored with this type).
MEDIA_TYPES = {".mp4": "video/mp4", ".mp3": "audio/mpeg", ".jpg": "image/jpeg"}


def media_type(key: str) -> str:
    return MEDIA_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


class Storage(Protocol):
    def put(self, key: str, path: Path, md5: str) -> None:
        """Store the local file at `path` under `key`; return only once the store confirmed it.

        The local file may be removed by the backend after confirmation."""
        ...

    def url(self, key: str, filename: str, ttl_s: int, *, inline: bool = False) -> str:
        """A URL a plain HTTP client can GET (with Range) until `ttl_s` seconds from now; `inline`: one a
        browser plays (the file's media type, `Content-Disposition: inline`)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is fine."""
        ...
