"""`demo build` and `demo images`: the demo model and demo-world images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

# Below this the shapes are a few pixels across and PIL cannot encode an empty image.
MIN_IMAGE_SIZE = 16


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum, else an error naming the limit and the value got."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the demo model and its synthetic world")
    dsub = p.add_subparsers(dest="demo_command", required=True)
    b = dsub.add_parser("build", help="train and export the demo model from a seed (CPU, about 25 minutes on 2 cores)")
    b.add_argument("--out", default="models/demo")
    b.add_argument("--heldout", default="models/demo-heldout")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--train-images", type=_int_at_least(1), default=40000)
    b.add_argument("--clip-epochs", type=_int_at_least(0), default=12)
    b.add_argument("--clipn-epochs", type=_int_at_least(0), default=6)
    b.set_defaults(run=run_build)
    m = dsub.add_parser("quality", help="re-measure the committed demo model's quality record (no training)")
    m.add_argument("--out", default="models/demo")
    m.add_argument("--heldout", default="models/demo-heldout")
    m.set_defaults(run=run_quality)
    c = dsub.add_parser("calibrate", help="write labels.json: the demo label set with an ATD threshold calibrated on a calibration split of ID images")
    c.add_argument("--out", default="models/demo")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(run=run_calibrate)
    i = dsub.add_parser("images", help="render demo-world images into DIR/<shape>/")
    i.add_argument("--out", required=True)
    i.add_argument("--split", choices=("id", "ood"), default="id")
    i.add_argument("--n", type=_int_at_least(1), default=10, help="images per shape")
    i.add_argument("--seed", type=int, default=1)
    i.add_argument("--size", type=_int_at_least(MIN_IMAGE_SIZE), default=64)
    i.set_defaults(run=run_images)


def run_build(args: argparse.Namespace) -> int:
    from .build import build

    q = build(args.out, args.heldout, seed=args.seed, n_train=args.train_images, clip_epochs=args.clip_epochs, clipn_epochs=args.clipn_epochs)
    return 0 if all(q["met"].values()) else 1


def run_quality(args: argparse.Namespace) -> int:
    from .build import remeasure

    q = remeasure(args.out, args.heldout)
    return 0 if all(q["met"].values()) else 1


def run_calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path as _Path

    from .build import calibrate_label_set

    calibrate_label_set(_Path(args.out), seed=args.seed)
    return 0


def run_images(args: argparse.Namespace) -> int:
    from .world import ID_SHAPES, OOD_SHAPES, samples

    shapes = ID_SHAPES if args.split == "id" else OOD_SHAPES
    for i, s in enumerate(samples(args.seed, shapes, args.n * len(shapes), args.size)):
        folder = Path(args.out) / s.shape
        folder.mkdir(parents=True, exist_ok=True)
        s.image.save(folder / f"{i // len(shapes):03d}.png")
    return 0
