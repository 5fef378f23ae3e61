"""The demo's story: sources, a group, an automatic grid that re-flows, a pause, the files downloaded.

Timeline of the recording (one automatic task, so one file tells the whole story):
alice and bob publish, `init` with `auto` records them side by side (a 2x1 grid); after `phase_s`
carol and dave join and the grid re-flows to 2x2 (the automatic layout's change: an auto task takes
no `set/layout`, it follows who publishes); after `phase_s` more, `suspend` for `pause_s` (cut from the
file: its clock jumps), `resume`, `phase_s` more, `finish`, download.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import av
from av.video.frame import VideoFrame
from PIL import Image

from cloudrec.config import Settings
from cloudrec.demo.client import Client, DemoError
from cloudrec.demo.sources import DEMO_SOURCES, SourceServer
from cloudrec.demo.tenant import demo_tenant, where
from cloudrec.errors import Code
from cloudrec.media.source import OPEN_OPTIONS

CANVAS = (640, 360)  # the 2x2 grid shows the 320x180 sources unscaled
FRAME_RATE = 15
FILE_NAME = "first-recording"
FIRST, JOINING = ("alice", "bob"), ("carol", "dave")
CAMERA, AUDIO = 2, 1  # media_type
# If the demo dies without finishing, the server finishes the task by itself once its sources have been
# gone this long (init's `timeout`, seconds).
TASK_TIMEOUT_S = 30
DONE_TIMEOUT_S = 60.0  # finish -> status 6 takes about a second; beyond this something is wrong
SOURCE_CHECK_TIMEOUT_S = 10.0
FRAME_BEFORE_END_S = 1.0  # the picture is taken this long before the end: all four in the 2x2 grid
STATUS_NAMES = {1: "initialised", 2: "recording", 3: "queued", 4: "encoding", 5: "uploading", 6: "done"}


class Echo(Protocol):
    """Writes a line (`typer.echo`); `nl=False` leaves it open, for its end to follow."""

    def __call__(self, message: str, *, nl: bool = True) -> None: ...


@dataclass(frozen=True)
class DemoOptions:
    url: str
    settings: Settings
    out_dir: Path
    frame: Path | None = None
    phase_s: float = 3.0
    pause_s: float = 2.0
    sources_port: int = 0  # 0: any free port


@dataclass
class DemoResult:
    record_id: str
    files: list[tuple[Path, str]]  # (local path, download URL)
    media_s: float  # init -> finish, minus the pause, as the demo timed it
    paused_s: float
    finish: dict[str, Any]


class Steps:
    """Numbered step lines with the time since the start and each step's duration."""

    def __init__(self, echo: Echo, total: int) -> None:
        self.echo = echo
        self.total = total
        self.n = 0
        self.t0 = time.monotonic()

    @contextmanager
    def step(self, text: str) -> Iterator[list[str]]:
        """A step line; what the body appends to the yielded list is said after "ok"."""
        self.n += 1
        start = time.monotonic()
        notes: list[str] = []
        self.echo(f"[{start - self.t0:5.1f} s] {self.n}/{self.total} {text} ...", nl=False)
        try:
            yield notes
        except BaseException:
            self.echo(" failed")
            raise
        tail = f": {'; '.join(notes)}" if notes else ""
        self.echo(f" ok ({time.monotonic() - start:.1f} s){tail}")


@dataclass
class Demo:
    """One run of the demo; `cleanup` undoes what it started, whatever step it got to."""

    opts: DemoOptions
    echo: Echo
    sources: SourceServer | None = None
    client: Client | None = None
    group_id: str = ""
    published: list[tuple[str, int]] = field(default_factory=list)
    record_id: str = ""
    finished: bool = False

    def run(self) -> DemoResult:
        opts = self.opts
        steps = Steps(self.echo, 12)
        with steps.step(f"server at {opts.url}"):
            self.client = client = Client(opts.url, "")
            client.ping()
        with steps.step(f"demo developer and app in {where(opts.settings)}") as notes:
            tenant = demo_tenant(opts.settings)
            client.app_id = tenant.app_id
            client.login(tenant.dev_id, tenant.dev_secret)
            notes.append(
                f"{'created' if tenant.created else 'reused'} dev_id={tenant.dev_id} app_id={tenant.app_id}"
            )
        with steps.step("live test sources (PyAV, HTTP-FLV)") as notes:
            self.sources = start_sources(opts.sources_port)
            urls = [self.sources.url(s.name) for s in DEMO_SOURCES]
            with ThreadPoolExecutor(len(urls)) as pool:  # each check waits for a keyframe: all at once
                list(pool.map(check_source, urls))
            notes.append(" ".join(self.sources.url(s.name) for s in DEMO_SOURCES))
        self.group_id = f"demo-{time.strftime('%H%M%S')}-{secrets.token_hex(2)}"
        with steps.step(f"alice and bob publish into group {self.group_id}"):
            for user in FIRST:
                self.publish(user)
        with steps.step("init: an automatic grid") as notes:
            reply = client.call(
                "/v1/record/init",
                "starting the recording",
                group_id=self.group_id,
                file_name=FILE_NAME,
                width=CANVAS[0],
                height=CANVAS[1],
                frame_rate=FRAME_RATE,
                timeout=TASK_TIMEOUT_S,
                auto={"type": 1},
            )
            t_init = time.monotonic()
            self.record_id = str(reply["record_id"])
            notes.append(f"record_id={self.record_id}")
        with steps.step(f"recording alice and bob side by side for {opts.phase_s:g} s"):
            time.sleep(opts.phase_s)
        with steps.step(f"carol and dave join: the grid re-flows to 2x2, for {opts.phase_s:g} s"):
            for user in JOINING:
                self.publish(user)
            t_join = time.monotonic()
            time.sleep(opts.phase_s)
        with steps.step(f"suspend for {opts.pause_s:g} s, resume"):
            client.call("/v1/record/suspend", "suspending", record_id=self.record_id)
            t_suspend = time.monotonic()
            time.sleep(opts.pause_s)
            client.call("/v1/record/resume", "resuming", record_id=self.record_id)
            t_resume = time.monotonic()
        with steps.step(f"recording for {opts.phase_s:g} s more"):
            time.sleep(opts.phase_s)
        with steps.step("finish") as notes:
            finish = client.call("/v1/record/finish", "finishing", record_id=self.record_id)
            t_finish = time.monotonic()
            self.finished = True
            status = self.wait_done()
            notes.append(f"status {status} ({STATUS_NAMES.get(status, '?')})")
        with steps.step(f"download into {opts.out_dir}") as notes:
            files = self.download()
            notes.append(", ".join(p.name for p, _ in files))
        with steps.step("stop the sources, unpublish"):
            self.cleanup()
        paused = t_resume - t_suspend
        result = DemoResult(self.record_id, files, (t_finish - t_init) - paused, paused, finish)
        if opts.frame is not None:
            before_end = min(FRAME_BEFORE_END_S, opts.phase_s / 2)
            saved_at = save_frame([p for p, _ in files], before_end, opts.frame)
            self.echo(f"picture of the file at {saved_at:.1f} s written to {opts.frame}")
        self.report(result, t_join=t_join - t_init, t_pause=t_suspend - t_init)
        return result

    def publish(self, user: str) -> None:
        assert self.client is not None and self.sources is not None
        url = self.sources.url(user)
        hints: dict[int, str] = {
            Code.PARAM: f"the server refuses the demo's source URL {url}: it needs `http` in "
            "CLOUDREC_ALLOWED_URL_SCHEMES (and loopback addresses allowed, where the operator limits them)"
        }
        for media_type in (CAMERA, AUDIO):  # one URL carries both: published once per media
            self.client.call(
                "/v1/group/stream/publish",
                f"publishing {user}",
                hints,
                group_id=self.group_id,
                user_id=user,
                media_type=media_type,
                media_id="0",
                url=url,
            )
            self.published.append((user, media_type))

    def wait_done(self) -> int:
        assert self.client is not None
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while True:
            status = int(self.client.task(self.record_id)["status"])
            if status == 6:
                return status
            if status == -1:
                raise DemoError(
                    f"the task {self.record_id} failed (status -1)", "see the server's log for why"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the task is still in status {status} {DONE_TIMEOUT_S:g} s after finish",
                    "see the server's log (storage errors are retried there)",
                )
            time.sleep(0.1)

    def download(self) -> list[tuple[Path, str]]:
        assert self.client is not None
        reply = self.client.get("/v1/record/file/download/url", "listing the files", record_id=self.record_id)
        items = reply.get("data_list") or []
        if not items:
            raise DemoError(
                "the recording has no file: the recorder pulled nothing from the demo's sources",
                "run the demo on the server's machine (its sources listen on 127.0.0.1)",
            )
        dest = self.opts.out_dir / self.record_id
        dest.mkdir(parents=True, exist_ok=True)
        files = []
        for item in items:
            path = dest / Path(str(item["file_name"])).name  # a name, never a path from the reply
            self.client.download(str(item["url"]), path, str(item["md5"]))
            files.append((path.resolve(), str(item["url"])))
        return files

    def report(self, result: DemoResult, t_join: float, t_pause: float) -> None:
        f = result.finish
        echo = self.echo
        echo("")
        echo(f"What happened (task {result.record_id}, group {self.group_id}; seconds from init):")
        echo("    0.0 s  automatic grid: alice and bob side by side")
        echo(f"  {t_join:5.1f} s  carol and dave joined: the grid re-flowed to 2x2")
        echo(f"  {t_pause:5.1f} s  suspended for {result.paused_s:.1f} s: cut from the file, its clocks jump")
        total = result.media_s + result.paused_s
        echo(
            f"  recorded {result.media_s:.2f} s ({total:.2f} s from init to finish, minus "
            f"{result.paused_s:.2f} s paused); finish answered media_duration={f.get('media_duration')} "
            f"record_duration={f.get('record_duration')} flow={f.get('flow')} KB"
        )
        echo("Download URLs (signed, they expire: CLOUDREC_DOWNLOAD_URL_TTL_S, default 1 h):")
        for _, url in result.files:
            echo(f"  {url}")
        echo("Downloaded:")
        for path, _ in result.files:
            echo(f"  {path}")
        echo("Play it with any video player (VLC, ffplay, a browser).")

    def cleanup(self) -> list[str]:
        """Finish a recording left running (an interrupted demo), unpublish, stop the sources; what it did.
        Best effort: each part is tried whatever the others do."""
        client, self.client = self.client, None
        sources, self.sources = self.sources, None
        done: list[str] = []
        try:
            if client is not None:
                if self.record_id and not self.finished:
                    self.finished = True
                    if _quietly(
                        lambda: client.call("/v1/record/finish", "finishing", record_id=self.record_id)
                    ):
                        done.append(
                            f"finished the recording {self.record_id} (what it recorded stays on the server)"
                        )
                unpublished = sum(
                    _quietly(
                        lambda u=user, m=media_type: client.call(  # type: ignore[misc]
                            "/v1/group/stream/unpublish",
                            "unpublishing",
                            group_id=self.group_id,
                            user_id=u,
                            media_type=m,
                            media_id="0",
                        )
                    )
                    for user, media_type in self.published
                )
                if unpublished:
                    done.append(f"unpublished {unpublished} streams")
                self.published.clear()
                client.close()
        finally:
            if sources is not None:
                sources.close()
                done.append("stopped the sources")
        return done


def start_sources(port: int) -> SourceServer:
    """The demo's sources, serving on 127.0.0.1:`port` (0: a free port)."""
    try:
        return SourceServer(port=port).start()
    except OSError as exc:
        raise DemoError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", "pass another --sources-port"
        ) from None


def _quietly(call: Callable[[], object]) -> bool:
    """Whether `call` worked; a DemoError (a server that went away: nothing left to undo there) is dropped."""
    try:
        call()
    except DemoError:
        return False
    return True


def check_source(url: str) -> None:
    """The source gives a decoded picture and has a sound stream, as the recorder will pull it."""
    try:
        with av.open(url, "r", options=OPEN_OPTIONS, timeout=SOURCE_CHECK_TIMEOUT_S) as c:
            if not c.streams.audio:
                raise DemoError(f"{url} has no audio stream", "report this: the demo's sources are broken")
            for _ in c.decode(c.streams.video[0]):
                return
    except av.FFmpegError as exc:
        raise DemoError(
            f"cannot pull the demo's own source {url}: {exc}", "report this, with the output"
        ) from None
    raise DemoError(f"{url} ended without a picture", "report this: the demo's sources are broken")


def save_frame(paths: list[Path], before_end_s: float, dest: Path) -> float:
    """The frame of the recording (its files in order) `before_end_s` before its end, as a PNG; its time."""
    # the last frames only (at most FRAME_RATE a second): a long recording is not held in memory
    frames: deque[tuple[float, VideoFrame]] = deque(maxlen=math.ceil((before_end_s + 1) * FRAME_RATE))
    offset = 0.0
    for path in paths:
        with av.open(str(path)) as c:
            frames.extend((offset + float(f.time or 0.0), f) for f in c.decode(c.streams.video[0]))
        offset = frames[-1][0] + 1 / FRAME_RATE if frames else offset
    if not frames:
        raise DemoError("the recording has no picture to save", "see the server's log")
    at = frames[-1][0] - before_end_s
    t, frame = min(frames, key=lambda f: abs(f[0] - at))
    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame.to_ndarray(format="rgb24")).save(dest)
    return t
