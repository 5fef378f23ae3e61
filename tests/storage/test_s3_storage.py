"""S3Storage, Uploader and the recorder's SegmentStore against a real S3 server (moto) on loopback."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.s3server import MotoServer, TcpProxy

from cloudrec.recorder.spec import SegmentInfo, SegmentStored
from cloudrec.recorder.store import SegmentStore
from cloudrec.storage.s3 import S3Storage, StorageError
from cloudrec.storage.spec import StorageSpec
from cloudrec.storage.uploader import Uploader


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.client().create_bucket(Bucket="unit-bucket")
        yield server


def storage(endpoint: str) -> S3Storage:
    return S3Storage(
        bucket="unit-bucket",
        prefix="pre",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
        path_style=True,
        connect_timeout_s=1,
    )


def make_file(tmp_path: Path, name: str, size: int = 5000) -> tuple[Path, str]:
    data = bytes(range(256)) * (size // 256 + 1)
    path = tmp_path / name
    path.write_bytes(data[:size])
    return path, hashlib.md5(data[:size]).hexdigest()


def test_put_verifies_and_url_serves_ranges(moto: MotoServer, tmp_path: Path) -> None:
    st = storage(moto.endpoint)
    path, md5 = make_file(tmp_path, "a.mp4")
    st.put("app/rec/a.mp4", path, md5)
    assert not path.exists()  # the local copy goes once the store confirmed
    url = st.url("app/rec/a.mp4", "a.mp4", 60)
    whole = httpx.get(url)
    assert whole.status_code == 200 and hashlib.md5(whole.content).hexdigest() == md5
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    st.delete("app/rec/a.mp4")
    assert httpx.get(url).status_code in (403, 404)  # gone (S3 answers 403 without ListBucket)
    st.delete("app/rec/never-there.mp4")  # deleting a missing object is fine


def test_put_with_a_wrong_md5_fails_and_keeps_the_local_copy(moto: MotoServer, tmp_path: Path) -> None:
    st = storage(moto.endpoint)
    path, _ = make_file(tmp_path, "b.mp4")
    with pytest.raises(StorageError, match="expected"):
        st.put("app/rec/b.mp4", path, "0" * 32)
    assert path.exists()


def test_put_to_a_store_that_is_down_fails_and_keeps_the_local_copy(moto: MotoServer, tmp_path: Path) -> None:
    proxy = TcpProxy(moto.port)  # never brought up: connections are refused
    st = storage(proxy.endpoint)
    path, md5 = make_file(tmp_path, "c.mp4")
    with pytest.raises(StorageError, match="failed"):
        st.put("app/rec/c.mp4", path, md5)
    assert path.exists()
    with pytest.raises(StorageError):
        st.delete("app/rec/c.mp4")


def test_uploader_retries_until_the_store_comes_back(moto: MotoServer, tmp_path: Path) -> None:
    proxy = TcpProxy(moto.port)
    stored: list[int] = []
    done = threading.Event()

    def on_stored(file_id: int) -> None:
        stored.append(file_id)
        done.set()

    up = Uploader(storage(proxy.endpoint), on_stored, max_backoff_s=0.4, first_backoff_s=0.1)
    try:
        path, md5 = make_file(tmp_path, "d.mp4")
        up.submit(7, "app/rec/d.mp4", str(path), md5)
        assert not done.wait(1.5)  # store down: nothing confirmed, the file stays
        assert path.exists() and up.pending() == 1
        proxy.up()
        assert done.wait(10)
        assert stored == [7] and not path.exists()
        assert up.wait_idle(1)
    finally:
        up.close()
        proxy.down()


def test_multipart_upload_is_verified_by_its_etag(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloudrec.storage.s3 as s3mod

    # small thresholds so that a 300 kB file goes up in parts, as a 1 GB segment would
    monkeypatch.setattr(s3mod, "MULTIPART_THRESHOLD", 100_000)
    monkeypatch.setattr(s3mod, "MULTIPART_CHUNK", 5 * 1024 * 1024)
    st = storage(moto.endpoint)
    from boto3.s3.transfer import TransferConfig

    st.transfer = TransferConfig(multipart_threshold=100_000, multipart_chunksize=5 * 1024 * 1024)
    path, md5 = make_file(tmp_path, "big.mp4", size=6 * 1024 * 1024)
    st.put("app/rec/big.mp4", path, md5)
    body = httpx.get(st.url("app/rec/big.mp4", "big.mp4", 60)).content
    assert hashlib.md5(body).hexdigest() == md5


def test_play_url_plays_in_a_browser(moto: MotoServer, tmp_path: Path) -> None:
    st = storage(moto.endpoint)
    path, md5 = make_file(tmp_path, "p.mp4")
    st.put("app/rec/p.mp4", path, md5)
    download = httpx.get(st.url("app/rec/p.mp4", "p.mp4", 60))
    assert download.headers["content-disposition"].startswith("attachment")
    play = httpx.get(st.url("app/rec/p.mp4", "p.mp4", 60, inline=True), headers={"Range": "bytes=0-9"})
    assert play.status_code == 206 and hashlib.md5(download.content).hexdigest() == md5
    assert play.headers["content-disposition"] == 'inline; filename="p.mp4"'
    assert play.headers["content-type"] == "video/mp4"
    st.delete("app/rec/p.mp4")


def test_the_recorders_store_reports_the_object_stored_with_its_failed_tries(
    moto: MotoServer, tmp_path: Path
) -> None:
    """`recorder.store.SegmentStore`, as a recorder opens it from its spec: the segment and its poster
    go up once the store is back; the report names the object, never a local path."""
    proxy = TcpProxy(moto.port)
    spec = StorageSpec(
        kind="s3", bucket="unit-bucket", prefix="pre", endpoint_url=proxy.endpoint, region="us-east-1",
        access_key_id="k", secret_access_key="s", path_style=True,
    )  # fmt: skip
    reports: list[SegmentStored] = []
    store = SegmentStore(spec, "app", "rec", reports.append, max_backoff_s=0.4)
    try:
        path, md5 = make_file(tmp_path, "cls_0001.mp4")
        poster, poster_md5 = make_file(tmp_path, "cls_0001.jpg", size=300)
        seg = SegmentInfo(1, path.name, str(path), 5000, md5, 3.0, 1.0, str(poster), poster_md5)
        store.submit(seg)
        assert not store.wait(1.5) and store.pending() == 1 and path.exists()  # the store is down
        proxy.up()
        assert store.wait(10)
    finally:
        store.close()
        proxy.down()
    (report,) = reports
    assert (report.key, report.poster_key) == ("app/rec/cls_0001.mp4", "app/rec/cls_0001.jpg")
    assert (report.segment.path, report.segment.poster, report.segment.md5) == ("", "", md5)
    assert len(report.failure_seconds) >= 2 and report.store_seconds > 0
    assert not path.exists() and not poster.exists()  # the store has them: no local copy left
    client = moto.client()
    for key, want in (("pre/app/rec/cls_0001.mp4", md5), ("pre/app/rec/cls_0001.jpg", poster_md5)):
        body = client.get_object(Bucket="unit-bucket", Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == want
