"""Draw the automatic layouts of `cloudrec.layout` as PNG pictures for docs/layouts.md."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from cloudrec.layout import Rect, equal_grid, main_and_subs

W, H, SCALE = 1920, 1080, 4
COLOURS = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193),
           (255, 112, 67), (158, 157, 36), (92, 107, 192)]


def draw(rects: list[Rect], path: Path) -> None:
    img = Image.new("RGB", (W // SCALE, H // SCALE), (0, 0, 0))
    d = ImageDraw.Draw(img)
    for i, r in enumerate(rects):
        box = (r.x // SCALE, r.y // SCALE, (r.x + r.w) // SCALE - 1, (r.y + r.h) // SCALE - 1)
        d.rectangle(box, fill=COLOURS[i % len(COLOURS)], outline=(255, 255, 255))
        d.text((box[0] + 4, box[1] + 2), str(i + 1), fill=(255, 255, 255))
    img.save(path)


def main() -> None:
    out = Path(__file__).parent / "img"
    out.mkdir(exist_ok=True)
    for n in (1, 2, 4, 6, 9):
        draw(equal_grid(n, W, H), out / f"grid-{n}.png")
    for n in (2, 4, 7):
        draw(main_and_subs(n, W, H), out / f"main-subs-{n}.png")


if __name__ == "__main__":
    main()
