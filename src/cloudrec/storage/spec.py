"""A frozen, picklable description of the store (local directory or S3) that a recorder opens itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cloudrec.clock import Clock

if TYPE_CHECKING:
    from cloudrec.config import Settings
    from cloudrec.storage.base import Storage


@dataclass(frozen=True)
class StorageSpec:
    """Where closed segments go. A recorder (on this machine or another) builds its own `Storage` from
    it; the secret never appears in a repr, hence never in a log line."""

    kind: str = "local"  # "local" (the `files` directory of the data directory) or "s3"
    root: str = ""  # local: the directory the files go to
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    path_style: bool = False


def storage_spec(settings: Settings) -> StorageSpec:
    """The store of `settings` as recorders see it."""
    if settings.storage == "s3":
        return StorageSpec(
            kind="s3",
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            path_style=settings.s3_path_style,
        )
    return StorageSpec(kind="local", root=str(settings.files_dir.resolve()))


def open_storage(
    spec: StorageSpec, *, base_url: str = "", signing_secret: str = "", clock: Clock | None = None
) -> Storage:
    """The backend of `spec`. A recorder only stores (`put`); the control plane also signs URLs, with
    `base_url` and `signing_secret` (local storage only)."""
    if spec.kind == "s3":
        from cloudrec.storage.s3 import S3Storage

        return S3Storage(
            bucket=spec.bucket,
            prefix=spec.prefix,
            endpoint_url=spec.endpoint_url,
            region=spec.region,
            access_key_id=spec.access_key_id,
            secret_access_key=spec.secret_access_key,
            path_style=spec.path_style,
        )
    from cloudrec.storage.local import LocalStorage

    return LocalStorage(Path(spec.root), base_url, signing_secret, clock)
