"""The bundle's image preprocessing in PIL (docs/bundle-format.md): the reference the runtime matches."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

from .export import CLIP_MEAN, CLIP_STD


def to_rgb(image: Image.Image) -> Image.Image:
    """EXIF orientation applied, alpha composited over white, any mode converted to 8-bit RGB."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale keeps its high byte (as libvips does); PIL's convert would clip at 255.
        high = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8
        image = Image.fromarray(high.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:  # tRNS: a palette or colour key
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")


def resize_crop(image: Image.Image, size: int) -> Image.Image:
    """Shortest side to `size` (bicubic; long side floored), then a centre crop with Python's round."""
    w, h = image.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def preprocess(image: Image.Image, size: int, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD) -> np.ndarray:
    """[3,S,S] float32, normalised."""
    arr = np.asarray(resize_crop(to_rgb(image), size), dtype=np.float32) / 255.0
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return arr.transpose(2, 0, 1).copy()


def preprocess_file(path: str | Path, size: int) -> np.ndarray:
    with Image.open(path) as image:
        return preprocess(image, size)
