"""S3-compatible object storage (AWS S3, MinIO, Ceph RGW, OSS/COS S3 endpoints) on boto3."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cloudrec.storage.base import media_type

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024


def expected_etag(path: Path, md5: str, size: int) -> str:
    """The ETag S3 gives an object uploaded by `upload_file`: the md5, or for multipart uploads the md5
    of the parts' md5s followed by `-<parts>`."""
    if size < MULTIPART_THRESHOLD:
        return md5
    digests = b""
    parts = 0
    with open(path, "rb") as f:
        while chunk := f.read(MULTIPART_CHUNK):
            digests += hashlib.md5(chunk).digest()
            parts += 1
    return f"{hashlib.md5(digests).hexdigest()}-{parts}"


class StorageError(Exception):
    """The store did not confirm an operation (it is down, refused, or answered something else)."""


class S3Storage:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            s3={"addressing_style": "path" if path_style else "auto"},
            signature_version="s3v4",
            connect_timeout=connect_timeout_s,
            read_timeout=60,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK
        )

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, path: Path, md5: str) -> None:
        """Upload (multipart above 64 MiB), then check size and md5 against what the store reports."""
        obj = self.object_key(key)
        size = path.stat().st_size
        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                obj,
                ExtraArgs={"Metadata": {"md5": md5}, "ContentType": media_type(key)},  # what a browser plays
                Config=self.transfer,
            )
            head = self.client.head_object(Bucket=self.bucket, Key=obj)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"upload of {obj} to bucket {self.bucket} failed: {exc}") from exc
        etag = head.get("ETag", "").strip('"')
        if head.get("ContentLength") != size or etag != expected_etag(path, md5, size):
            raise StorageError(
                f"store reports {head.get('ContentLength')} bytes / etag {etag} for {obj}, "
                f"expected {size} bytes / md5 {md5}"
            )
        path.unlink(missing_ok=True)

    def url(self, key: str, filename: str, ttl_s: int, *, inline: bool = False) -> str:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "ResponseContentDisposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
        }
        if inline:  # whatever type the object was stored with, a browser needs this one to play it
            params["ResponseContentType"] = media_type(filename)
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_s)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"delete of {key} failed: {exc}") from exc
