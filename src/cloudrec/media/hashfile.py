"""An append-only output file that hashes what it writes, so a closed segment's md5 costs nothing."""

from __future__ import annotations

import hashlib
import os


class HashingFile:
    """A write-only, unseekable file for a muxer: every byte goes to disk at once (the muxer flushes
    each packet) and into an md5, so the digest is ready when the file closes, whatever its length.

    It has no `seek`: PyAV then tells FFmpeg the output is a stream, and the muxers used here
    (fragmented MP4, MP3 without a Xing header) write strictly in order, so the digest is the file's.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        self._md5.update(view)
        self.size += done
        return done

    def flush(self) -> None:
        """Nothing to do: `write` hands every byte to the OS at once."""

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def hexdigest(self) -> str:
        return self._md5.hexdigest()
