"""Embeddings for the continual-training experiments (EXPERIMENTS.md), cached in .cache/experiments.

Held-out test sets are the demo bundle's (models/demo-heldout, never trained on); training images
are rendered with other seeds by the demo world, embedded once with the bundle's image graph.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from clipn_kernel.demo.world import ID_SHAPES, OOD_SHAPES, samples
from clipn_kernel.evaluate import BundleRunner, embed_folder, image_files

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "models" / "demo"
HELDOUT = REPO / "models" / "demo-heldout"
CACHE = REPO / ".cache" / "experiments"
TEMPLATES = ("a {}", "a photo of a {}", "a drawing of a {}", "a picture of a {}", "one {}")


def split_of(item_id: str, share: float) -> str:
    """The trainer's held-out split (src/trainer/split.ts): sha256("clipn-split:" + id)."""
    digest = hashlib.sha256(f"clipn-split:{item_id}".encode()).digest()
    return "heldout" if int.from_bytes(digest[:4], "big") / 2**32 < share else "train"


def heldout_embeddings(runner: BundleRunner) -> dict[str, np.ndarray]:
    """{"id": [240,D], "id_truth": [240], "crescent"/"arrow"/"heart": [40,D]} from models/demo-heldout."""
    path = CACHE / "heldout.npz"
    if path.is_file():
        return dict(np.load(path))
    files = image_files(HELDOUT / "id")
    out = {"id": embed_folder(runner, files), "id_truth": np.array([ID_SHAPES.index(f.parent.name) for f in files])}
    for concept in OOD_SHAPES:
        out[concept] = embed_folder(runner, image_files(HELDOUT / "ood" / concept))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def rendered(runner: BundleRunner, shapes: tuple[str, ...], per_shape: int, seed: int) -> dict[str, np.ndarray]:
    """Embeddings of `per_shape` demo-world images of each shape (seed), by shape."""
    path = CACHE / f"render-{'-'.join(shapes)}-{per_shape}-{seed}.npz"
    if path.is_file():
        return dict(np.load(path))
    out: dict[str, list[Path]] = {s: [] for s in shapes}
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(samples(seed, shapes, per_shape * len(shapes), 64)):
            f = Path(tmp) / f"{s.shape}-{i:05d}.png"
            s.image.save(f)
            out[s.shape].append(f)
        embeds = {s: embed_folder(runner, files) for s, files in out.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **embeds)
    return embeds


if __name__ == "__main__":
    r = BundleRunner(BUNDLE)
    h = heldout_embeddings(r)
    print({k: v.shape for k, v in h.items()})
    for shapes, n, seed in ((ID_SHAPES, 10, 101), (("crescent",), 60, 102), (("heart",), 60, 103), (("arrow",), 60, 104), (ID_SHAPES, 10, 105)):
        print(shapes, {k: v.shape for k, v in rendered(r, shapes, n, seed).items()})
