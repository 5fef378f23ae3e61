"""Placeholder tiles: dark grey (#282828) with the user id written in the middle (Pillow, cached)."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

PLACEHOLDER_RGB = (0x28, 0x28, 0x28)
TEXT_RGB = (0xD0, 0xD0, 0xD0)
RGBImage = npt.NDArray[np.uint8]  # shape (h, w, 3)


@functools.lru_cache(maxsize=16)
def placeholder(width: int, height: int, text: str) -> RGBImage:
    """A read-only rgb24 image of the placeholder for a `width` x `height` tile."""
    image = Image.new("RGB", (max(1, width), max(1, height)), PLACEHOLDER_RGB)
    if text and width >= 8 and height >= 8:
        size = max(8, min(height // 6, 2 * width // max(4, len(text) + 2)))
        font = ImageFont.load_default(size=size)
        draw = ImageDraw.Draw(image)
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        draw.text(
            ((width - (x1 - x0)) // 2 - x0, (height - (y1 - y0)) // 2 - y0), text, font=font, fill=TEXT_RGB
        )
    array = np.asarray(image, dtype=np.uint8)
    array.setflags(write=False)
    return array
