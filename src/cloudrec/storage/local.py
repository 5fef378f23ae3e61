"""Local-directory storage: files under `<data_dir>/files/<key>`, served by the API's /download route."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import quote

from cloudrec.clock import Clock, SystemClock
from cloudrec.storage.signing import sign


class LocalStorage:
    def __init__(self, root: Path, base_url: str, secret: str, clock: Clock | None = None) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.clock = clock or SystemClock()

    def path(self, key: str) -> Path:
        """The file of `key`; keys are built by us, but never let one escape the root."""
        p = (self.root / key).resolve()
        if not p.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return p

    def put(self, key: str, path: Path, md5: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, dest)  # same file system: instant, whatever the file's size
            return
        except OSError:
            pass
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        path.unlink(missing_ok=True)

    def url(self, key: str, filename: str, ttl_s: int, *, inline: bool = False) -> str:
        # /download serves every file inline with its media type: the one link downloads and plays
        expires = int(self.clock.time()) + ttl_s
        sig = sign(key, expires, self.secret)
        return f"{self.base_url}/download/{quote(key)}?expires={expires}&sig={sig}"

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
