"""What one recording costs a recorder node, in `cloudrec_slot` units (a tenth of a CPU core each).

Measured, not guessed (benchmarks/RESULTS.md, 2026-12-03, x264 veryfast, 2-core Xeon): a 720p30 2x2
composite takes 0.43-0.51 CPU-s per output second, a 1080p30 3x3 one 0.97, an MP3 mix of 4 streams
0.094, a per-stream remux 0.016 per stream. Between them the CPU grows about linearly with the output
pixel rate: 0.14 + 0.0133 per megapixel per second. The table rounds that up per band of pixel rate.

A node offers `default_capacity(cores)` units: 6 of its 10 per core, as the density scenario kept 2
720p30 recordings (0.92 CPU) in real time on 2 cores and a third (1.37 CPU) made them skip frames.
"""

from __future__ import annotations

import math

from cloudrec.recorder.spec import FileType, RecordMode, TaskSpec

# The custom Ray resource each recorder node advertises, and the one of the node's own bookkeeping.
SLOT_RESOURCE = "cloudrec_slot"
SLOT_CPU = 0.1  # one unit is a tenth of a core

# (highest output pixel rate in megapixels per second, units) of an MP4 composite, by band; the CPU of
# the band's top from the linear fit above, rounded up to whole units (e.g. 1280x720@30 = 27.6 Mpx/s).
COMPOSITE_UNITS: tuple[tuple[float, int], ...] = (
    (2.0, 2),  # 320x180@30, 480x270@15: 0.17 CPU
    (8.0, 3),  # 640x360@30 (6.9 Mpx/s): 0.25 CPU
    (16.0, 4),  # 1280x720@15, 960x540@30: 0.35 CPU
    (32.0, 6),  # 1280x720@30: 0.57 CPU (measured 0.43-0.51)
    (64.0, 10),  # 1920x1080@30 (62.2 Mpx/s): 0.99 CPU (measured 0.97)
)
# Beyond the table (4K, 60 fps at 1080p): the fit, rounded up.
FIT_BASE_CPU = 0.14
FIT_CPU_PER_MPX_S = 0.0133
AUDIO_ONLY_UNITS = 1  # MP3 mix: 0.094 CPU
PER_STREAM_UNITS = 1  # remux, no encoding: 0.016 CPU per stream, a few streams per task
# Of a node's cores, the share recordings may take (the rest: pulls' bursts, uploads, the OS, Ray).
NODE_CPU_SHARE = 0.6


def units(spec: TaskSpec) -> int:
    """The `cloudrec_slot` units the recording of `spec` reserves on the node that runs it."""
    if spec.record_mode == RecordMode.PER_STREAM:
        return PER_STREAM_UNITS
    if spec.file_type == FileType.MP3:
        return AUDIO_ONLY_UNITS
    mpx_s = spec.width * spec.height * spec.frame_rate / 1e6
    for top, band_units in COMPOSITE_UNITS:
        if mpx_s <= top:
            return band_units
    return math.ceil((FIT_BASE_CPU + FIT_CPU_PER_MPX_S * mpx_s) / SLOT_CPU)


def default_capacity(cores: int) -> int:
    """The units a recorder node with `cores` CPU cores offers when the operator gives no capacity."""
    return max(1, round(cores * NODE_CPU_SHARE / SLOT_CPU))
