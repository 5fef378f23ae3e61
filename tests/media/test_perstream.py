"""The per-stream engine on its own: what it records of which stream, its timeline, copy vs transcode."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest
from support.publisher import write_file

from cloudrec.media.perstream import plan
from cloudrec.media.probe import salvage_segments
from cloudrec.media.streamtrack import Want
from cloudrec.media.timeline import Phase, Timeline
from cloudrec.recorder.spec import (
    AudioRef,
    FileType,
    Finish,
    Finished,
    Layout,
    MediaType,
    Progress,
    SegmentClosed,
    SegmentInfo,
    StreamInfo,
    VideoTile,
)
from media.media_helpers import audio_mono, make_spec, record, record_forever, tone_level

CAM = StreamInfo("alice", MediaType.CAMERA, "0", "rtmp://h/a")
MIC = StreamInfo("alice", MediaType.AUDIO, "0", "rtmp://h/a")
SCREEN = StreamInfo("bob", MediaType.SCREEN, "1", "rtmp://h/s")
BOB_MIC = StreamInfo("bob", MediaType.AUDIO, "0", "rtmp://h/b")


def test_plan_one_file_set_per_url() -> None:
    wants = plan((MIC, CAM, SCREEN, BOB_MIC), None, audio_only=False)
    assert wants == {
        "rtmp://h/a": Want("rtmp://h/a", "alice", 2, "0", video=True, audio=True),  # camera names it
        "rtmp://h/s": Want("rtmp://h/s", "bob", 0, "1", video=True, audio=False),
        "rtmp://h/b": Want("rtmp://h/b", "bob", 1, "0", video=False, audio=True),
    }


def test_plan_audio_only_and_allow_list() -> None:
    assert set(plan((CAM, MIC, SCREEN), None, audio_only=True)) == {"rtmp://h/a"}
    assert not plan((CAM, MIC, SCREEN), None, audio_only=True)["rtmp://h/a"].video
    allow = Layout(video=(VideoTile("bob", "1", MediaType.SCREEN),), audio=(AudioRef("alice", "0"),))
    wants = plan((CAM, MIC, SCREEN, BOB_MIC), allow, audio_only=False)
    assert wants == {
        "rtmp://h/a": Want("rtmp://h/a", "alice", 1, "0", video=False, audio=True),  # her camera is not on it
        "rtmp://h/s": Want("rtmp://h/s", "bob", 0, "1", video=True, audio=False),
    }
    assert plan((CAM, MIC), Layout(), audio_only=False) == {}  # an empty allow list records nothing


def test_timeline_cuts_pauses_and_ends() -> None:
    line = Timeline(100.0)
    line.suspend(110.0)
    line.suspend(111.0)  # already suspended: the first one stands
    line.resume(113.0)
    line.finish(120.0)
    assert line.phase(99.0) is Phase.RECORDING and line.offset(99.0) == -1.0  # a cached GOP's start
    assert line.phase(112.0) is Phase.PAUSED and line.offset(112.0) == 10.0
    assert line.phase(115.0) is Phase.RECORDING and line.offset(115.0) == 12.0
    assert line.phase(120.0) is Phase.ENDED
    assert line.recorded(200.0) == 17.0
    paused = Timeline(50.0, paused=True)
    assert paused.phase(60.0) is Phase.PAUSED and paused.recorded(60.0) == 0.0


def segments(events: list[Progress]) -> list[SegmentInfo]:
    return [e.segment for e in events if isinstance(e, SegmentClosed)]


def packet_md5s(path: Path, kind: str) -> list[str]:
    with av.open(str(path)) as c:
        streams = c.streams.video if kind == "video" else c.streams.audio
        return [hashlib.md5(bytes(p)).hexdigest() for p in c.demux(streams[0]) if p.size]


@pytest.mark.parametrize(
    ("name", "codec", "rate"), [("opus.mkv", "libopus", 48000), ("g711.flv", "pcm_mulaw", 8000)]
)
def test_audio_mp4_cannot_carry_is_transcoded_to_aac(
    tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    src = write_file(tmp_path / name, duration=6.0, audio_codec=codec, sample_rate=rate, tone_hz=440.0)
    streams = (
        StreamInfo("u", MediaType.CAMERA, "0", str(src)),
        StreamInfo("u", MediaType.AUDIO, "0", str(src)),
    )
    spec = make_spec(tmp_path / "work", streams=streams, record_mode=1, file_name="f")
    result, _ = record(spec, [(3.2, Finish())])  # before the file is read again (EOF + 0.5 s)
    (seg,) = segments(result.events)
    assert (seg.name, seg.user_id, seg.media_type, seg.media_id) == ("f_u_2_0_0001.mp4", "u", 2, "0")
    path = Path(seg.path)
    with av.open(str(path)) as c:
        assert [s.codec_context.name for s in c.streams] == ["h264", "aac"]
    assert packet_md5s(path, "video") == packet_md5s(src, "video")  # the video is copied as it came
    samples, sr, _ = audio_mono(path)
    assert tone_level(samples, sr, 440.0) > 0.2
    assert abs(len(samples) / sr - 6.0) < 0.1 and abs(seg.duration - 6.0) < 0.1
    assert isinstance(result.events[-1], Finished)


def test_audio_file_type_keeps_aac_as_it_came_in_m4a(tmp_path: Path) -> None:
    src = write_file(tmp_path / "a.flv", duration=6.0, tone_hz=880.0)
    streams = (
        StreamInfo("u", MediaType.CAMERA, "0", str(src)),
        StreamInfo("u", MediaType.AUDIO, "0", str(src)),
    )
    spec = make_spec(tmp_path / "work", streams=streams, record_mode=1, file_type=FileType.MP3, file_name="f")
    result, _ = record(spec, [(3.2, Finish())])  # before the file is read again (EOF + 0.5 s)
    (seg,) = segments(result.events)
    assert seg.name == "f_u_1_0_0001.m4a" and seg.media_type == 1
    path = Path(seg.path)
    with av.open(str(path)) as c:
        assert [s.codec_context.name for s in c.streams] == ["aac"]
    assert packet_md5s(path, "audio") == packet_md5s(src, "audio")  # not re-encoded


def test_timeout_when_nothing_can_be_pulled(tmp_path: Path) -> None:
    ghost = (StreamInfo("u", MediaType.CAMERA, "0", "http://127.0.0.1:9/nothing.flv"),)
    spec = make_spec(tmp_path / "work", streams=ghost, record_mode=1, timeout_seconds=1.5)
    result, _ = record(spec, [])
    finished = result.events[-1]
    assert isinstance(finished, Finished) and finished.timed_out, finished
    assert 1.4 < result.wall < 3.0 and not segments(result.events)
    assert 1.4 < finished.stats.media_duration < 3.0  # the task's timeline ran for as long


def test_a_killed_recorders_open_file_is_salvaged_and_its_successor_numbers_on(tmp_path: Path) -> None:
    """kill -9 with an M4A open: the salvage finds it (its task-wide index and stream from its note,
    not from a name whose ids are sanitised), and a successor's file of that stream is the next."""
    src = write_file(tmp_path / "a.flv", duration=8.0, tone_hz=440.0)
    streams = (StreamInfo("a b", MediaType.AUDIO, "x_1", str(src)),)  # named `f_a_b_1_x_1_0001.m4a`
    work = tmp_path / "work"
    spec = make_spec(work, streams=streams, record_mode=1, file_type=FileType.MP3, file_name="f")
    proc = multiprocessing.get_context("spawn").Process(target=record_forever, args=(spec,), daemon=True)
    proc.start()
    path = work / "f_a_b_1_x_1_0001.m4a"
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)
    proc.kill()  # SIGKILL: the file is open, never reported
    proc.join(5)
    (seg,) = salvage_segments(str(work), set())
    assert (seg.index, seg.name, seg.user_id, seg.media_type, seg.media_id) == (1, path.name, "a b", 1, "x_1")
    # a file is read up to 3 s ahead of the clock: its media starts up to 3 s before the task
    assert seg.duration >= 1.0 and seg.start_offset is not None and -3.5 < seg.start_offset < 0.5, seg
    samples, sr, _ = audio_mono(path)
    assert tone_level(samples, sr, 440.0) > 0.2
    assert salvage_segments(str(work), {seg.name}) == [] and salvage_segments(str(work), set(), 2) == []
    path.rename(tmp_path / path.name)  # stored: the file leaves the work directory, its note stays
    base = seg.start_offset + seg.duration
    successor = replace(spec, first_index=2, timeline_offset=base)
    result, _ = record(successor, [(2.0, Finish())])
    (nxt,) = segments(result.events)
    assert (nxt.index, nxt.name) == (2, "f_a_b_1_x_1_0002.m4a"), nxt
    assert nxt.start_offset is not None and base - 3.5 < nxt.start_offset < base + 0.5, (nxt, base)
    assert isinstance(result.events[-1], Finished) and result.events[-1].stats.media_duration < 3.0


def test_a_salvaged_file_is_what_is_stored_though_a_stale_recorder_writes_on(tmp_path: Path) -> None:
    """A recorder whose lease expired while it was stopped goes on writing a while once it runs again:
    the salvage hashes and hands over a copy, which those writes do not reach."""
    path = write_file(tmp_path / "rec_0001.mp4", duration=1.0)
    with open(path, "ab") as stale:  # the stale recorder's open file
        (seg,) = salvage_segments(str(tmp_path), set())
        stale.write(b"\0" * 1000)
    assert (seg.size, seg.md5) == (path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest())
    assert seg.duration > 0.9
