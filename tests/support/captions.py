"""Reading captions back from decoded pictures: which text (e.g. which time of a clock) a frame shows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from cloudrec.media.captions import caption_text, sprite
from cloudrec.recorder.spec import Caption

BRIGHT = 160  # a light caption's own pixels are brighter than this in every channel (and in luma)


def caption_mismatch(image: npt.NDArray[np.uint8], caption: Caption, text: str) -> float:
    """Share of the caption's area where a light caption's glyphs of `text` and the bright pixels of the
    decoded RGB `image` disagree (0: the picture shows exactly `text` there)."""
    sp = sprite(text, caption.color.upper(), caption.size)
    x, y = (caption.x + sp.dx) & ~1, (caption.y + sp.dy) & ~1
    region = image[y : y + sp.height, x : x + sp.width].astype(int)
    bright = region.min(axis=2) > BRIGHT
    glyph = (sp.colour[0] >> 8) > BRIGHT  # the text's own pixels (premultiplied luma), not its outline
    glyph = glyph[: bright.shape[0], : bright.shape[1]]
    return float((bright != glyph).mean())


def shown_second(
    image: npt.NDArray[np.uint8], clock: Caption, seconds: Iterable[int]
) -> tuple[int, float, float]:
    """(the candidate second a clock caption shows best, its mismatch, the next best's mismatch)."""
    scored = sorted((caption_mismatch(image, clock, caption_text(clock, s)), s) for s in seconds)
    (best_err, best), (next_err, _) = scored[0], scored[1]
    return best, best_err, next_err
