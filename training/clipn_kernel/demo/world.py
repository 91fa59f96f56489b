"""A synthetic image-caption world of coloured shapes on varied backgrounds, deterministic from a seed.

ID concepts are the shapes a label set names; OOD concepts are shapes never shown in training,
so the demo model has something real to say "no" to. Auxiliary shapes are trained (captioned)
but are neither labels nor OOD: like the broad caption data CLIPN learns from, they give the
image encoder more than six places to put things, and the "no" texts more to say no to.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw

ID_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
OOD_SHAPES: tuple[str, ...] = ("crescent", "arrow", "heart")
# The second row sits close to the ID shapes (a rectangle beside the square, a heptagon beside the
# circle, ...): "no" learnt against near neighbours draws tighter lines around each label.
AUX_SHAPES: tuple[str, ...] = (
    "pentagon", "hexagon", "octagon", "diamond", "oval", "semicircle", "trapezoid", "kite", "bolt", "hourglass",
    "rectangle", "heptagon", "wedge", "parallelogram", "tee", "ell", "frame", "sparkle", "zigzag",
)
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 210, 40),
    "purple": (150, 60, 200), "orange": (240, 140, 30), "white": (250, 250, 250), "pink": (250, 120, 200),
}
BACKGROUNDS: tuple[str, ...] = ("plain", "striped", "dotted", "noisy", "checkered")
BG_TONES: tuple[tuple[int, int, int], ...] = ((128, 128, 128), (200, 190, 170), (60, 70, 80), (170, 200, 210), (90, 110, 70))
COUNTS: tuple[str, ...] = ("one", "two")
SIZES: tuple[str, ...] = ("small", "large")
CAPTION_FORMS: tuple[str, ...] = (
    "{count} {size} {colour} {shapes} on a {background} background",
    "a drawing of {count} {colour} {shapes}",
    "{count} {shapes}",
    "a {colour} {shape}",
    "a picture of {count} {size} {shapes}",
)
# Templates the demo model's class heads use; captions use them too (CLASS_CAPTION_SHARE of the
# time), which teaches the shape as the concept a label names, the rest of a caption being detail.
DEMO_TEMPLATES: tuple[str, ...] = ("a {}", "a photo of a {}", "a drawing of a {}", "a picture of a {}", "one {}")
CLASS_CAPTION_SHARE = 0.6


@dataclass(frozen=True)
class Sample:
    image: Image.Image
    shape: str
    caption: str


def _plural(shape: str) -> str:
    return shape + ("es" if shape.endswith(("s", "x", "ch", "sh")) else "s")


def _polygon(cx: float, cy: float, r: float, points: list[tuple[float, float]], angle: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in points]


def _regular(n: int) -> list[tuple[float, float]]:
    return [(math.sin(2 * math.pi * k / n), -math.cos(2 * math.pi * k / n)) for k in range(n)]


def _arc(rx: float, ry: float, start: float, stop: float, steps: int = 24) -> list[tuple[float, float]]:
    return [(rx * math.cos(start + (stop - start) * k / steps), ry * math.sin(start + (stop - start) * k / steps)) for k in range(steps + 1)]


# Auxiliary shapes as unit polygons (rotated and scaled at draw time).
_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "pentagon": _regular(5),
    "hexagon": _regular(6),
    "octagon": _regular(8),
    "diamond": [(0, -1), (0.62, 0), (0, 1), (-0.62, 0)],
    "oval": _arc(1.0, 0.55, 0, 2 * math.pi, 32)[:-1],
    "semicircle": [(x, y + 0.4) for x, y in _arc(1.0, 1.0, math.pi, 2 * math.pi)],
    "trapezoid": [(-1, 0.6), (1, 0.6), (0.45, -0.6), (-0.45, -0.6)],
    "kite": [(0, -1), (0.62, -0.3), (0, 1), (-0.62, -0.3)],
    "bolt": [(-0.15, -1), (0.55, -1), (0.1, -0.15), (0.6, -0.15), (-0.35, 1), (-0.05, 0.1), (-0.5, 0.1)],
    "hourglass": [(-0.75, -1), (0.75, -1), (0.12, 0), (0.75, 1), (-0.75, 1), (-0.12, 0)],
    "rectangle": [(-1, -0.5), (1, -0.5), (1, 0.5), (-1, 0.5)],
    "heptagon": _regular(7),
    "wedge": [(0, 0.6)] + [(x, y + 0.6) for x, y in _arc(1.0, 1.0, -math.pi * 0.75, -math.pi * 0.25, 12)],
    "parallelogram": [(-1, 0.55), (0.45, 0.55), (1, -0.55), (-0.45, -0.55)],
    "tee": [(-0.9, -0.9), (0.9, -0.9), (0.9, -0.5), (0.2, -0.5), (0.2, 0.95), (-0.2, 0.95), (-0.2, -0.5), (-0.9, -0.5)],
    "ell": [(-0.7, -0.95), (-0.3, -0.95), (-0.3, 0.55), (0.75, 0.55), (0.75, 0.95), (-0.7, 0.95)],
    "sparkle": [((1.0 if k % 2 == 0 else 0.28) * math.sin(k * math.pi / 4), -(1.0 if k % 2 == 0 else 0.28) * math.cos(k * math.pi / 4)) for k in range(8)],
    "zigzag": [(-1, -0.2), (-0.5, -0.7), (0, -0.2), (0.5, -0.7), (1, -0.2), (1, 0.25), (0.5, -0.25), (0, 0.25), (-0.5, -0.25), (-1, 0.25)],
}


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, angle: float) -> None:
    """Draws the shape into an L-mode mask: 255 inside, 0 for holes (so holes show the background)."""
    fill, bg = 255, 0
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        draw.ellipse([cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55], fill=bg)
    elif shape == "square":
        draw.polygon(_polygon(cx, cy, r, [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)], angle * 0.25), fill=fill)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy, r, [(0, -1), (0.87, 0.5), (-0.87, 0.5)], angle * 0.2), fill=fill)
    elif shape == "star":
        pts = [((1.0 if k % 2 == 0 else 0.42) * math.sin(k * math.pi / 5), -(1.0 if k % 2 == 0 else 0.42) * math.cos(k * math.pi / 5)) for k in range(10)]
        draw.polygon(_polygon(cx, cy, r, pts, angle * 0.2), fill=fill)
    elif shape == "cross":
        w = 0.3
        pts = [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w)]
        draw.polygon(_polygon(cx, cy, r, pts, angle * 0.25), fill=fill)
    elif shape == "crescent":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        off = r * 0.5
        dx, dy = off * math.cos(angle), off * math.sin(angle)
        draw.ellipse([cx - r * 0.85 + dx, cy - r * 0.85 + dy, cx + r * 0.85 + dx, cy + r * 0.85 + dy], fill=bg)
    elif shape == "arrow":
        pts = [(-1, -0.22), (0.2, -0.22), (0.2, -0.6), (1, 0), (0.2, 0.6), (0.2, 0.22), (-1, 0.22)]
        draw.polygon(_polygon(cx, cy, r, pts, angle), fill=fill)
    elif shape == "heart":
        a = r * 0.52
        draw.ellipse([cx - 2 * a, cy - 1.4 * a, cx, cy + 0.6 * a], fill=fill)
        draw.ellipse([cx, cy - 1.4 * a, cx + 2 * a, cy + 0.6 * a], fill=fill)
        draw.polygon([(cx - 1.93 * a, cy - 0.1 * a), (cx + 1.93 * a, cy - 0.1 * a), (cx, cy + 1.9 * a)], fill=fill)
    elif shape == "frame":
        outer = _polygon(cx, cy, r, [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)], angle * 0.25)
        inner = _polygon(cx, cy, r, [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)], angle * 0.25)
        draw.polygon(outer, fill=fill)
        draw.polygon(inner, fill=bg)
    elif shape in _POLYGONS:
        draw.polygon(_polygon(cx, cy, r, _POLYGONS[shape], angle), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _background(rng: random.Random, size: int, kind: str, tone: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (size, size), tone)
    draw = ImageDraw.Draw(img)
    # Patterns stay low-contrast so the coloured shapes remain the salient thing in the image.
    alt = tuple(min(255, max(0, c + rng.choice((-18, 18)))) for c in tone)
    step = rng.randint(5, 9)
    if kind == "striped":
        for x in range(-size, size * 2, step * 2):
            draw.polygon([(x, 0), (x + step, 0), (x + step + size * 0.3, size), (x + size * 0.3, size)], fill=alt)
    elif kind == "dotted":
        for y in range(step // 2, size, step):
            for x in range(step // 2, size, step):
                draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=alt)
    elif kind == "checkered":
        for y in range(0, size, step):
            for x in range(0, size, step):
                if (x // step + y // step) % 2 == 0:
                    draw.rectangle([x, y, x + step - 1, y + step - 1], fill=alt)
    elif kind == "noisy":
        arr = np.asarray(img, dtype=np.int16) + np.random.default_rng(rng.getrandbits(32)).integers(-15, 16, (size, size, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


def render(rng: random.Random, shape: str, size: int = 64) -> Sample:
    """One image of `shape` with random colour, count, size, background and positions, and its caption."""
    colour = rng.choice(list(COLOURS))
    bg_kind = rng.choice(BACKGROUNDS)
    tone = rng.choice(BG_TONES)
    count = rng.choice(COUNTS)
    size_word = rng.choice(SIZES)
    img = _background(rng, size, bg_kind, tone)
    n = COUNTS.index(count) + 1
    base = (0.38 if size_word == "large" else 0.27) * size / (1.0, 1.4, 1.65)[n - 1]
    placed: list[tuple[float, float, float]] = []
    for _ in range(n):
        r = base * rng.uniform(0.85, 1.15)
        for _attempt in range(60):
            cx, cy = rng.uniform(r + 1, size - r - 1), rng.uniform(r + 1, size - r - 1)
            if all(math.hypot(cx - x, cy - y) > r + rr + 1 for x, y, rr in placed):
                break
        placed.append((cx, cy, r))
        mask = Image.new("L", (size, size), 0)
        _draw_shape(ImageDraw.Draw(mask), shape, cx, cy, r, rng.uniform(0, 2 * math.pi))
        img.paste(COLOURS[colour], (0, 0, size, size), mask)
    if rng.random() < CLASS_CAPTION_SHARE:
        return Sample(img, shape, rng.choice(DEMO_TEMPLATES).format(shape))
    form = rng.choice(CAPTION_FORMS)
    caption = form.format(count=count, size=size_word, colour=colour, shape=shape, shapes=_plural(shape) if n > 1 else shape, background=bg_kind)
    return Sample(img, shape, caption)


def training_cycle(id_weight: int = 2) -> tuple[str, ...]:
    """The order training images cycle through: each ID shape id_weight times, each auxiliary shape once."""
    return ID_SHAPES * id_weight + AUX_SHAPES


def samples(seed: int, shapes: tuple[str, ...], n: int, size: int = 64) -> Iterator[Sample]:
    """n samples cycling through shapes (repeats allowed), deterministic in (seed, shapes, n, size)."""
    rng = random.Random(seed)
    for i in range(n):
        yield render(rng, shapes[i % len(shapes)], size)


def vocabulary_texts() -> list[str]:
    """Every word the world's captions and templates use (to choose the demo's kept token ids)."""
    shapes = ID_SHAPES + OOD_SHAPES + AUX_SHAPES
    words = set(shapes + tuple(COLOURS) + BACKGROUNDS + COUNTS + SIZES)
    words |= {_plural(s) for s in shapes}
    texts = sorted(words)
    texts += [f.replace("{", "").replace("}", "") for f in CAPTION_FORMS] + list(DEMO_TEMPLATES)
    texts += ["a photo of no {}", "background", "no", "not", "of", "on", "the", "image", "picture", "photo", "drawing", "shape", "object",
              "dog", "cat", "car", "person", "a bad photo of a", "a rendering of a", "a sculpture of a"]
    return texts
