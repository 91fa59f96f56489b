"""What int8 costs in quality on the demo model: ID accuracy and CTW/ATD AUROC of the fp32
bundle and of its int8-image copy on the held-out images, plus the cosine between their image
embeddings. Prints one JSON object on the last line of stdout.

  training/.venv/bin/python bench/int8-quality.py --fp32 models/demo --int8 .cache/bench/demo-int8 --heldout models/demo-heldout
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from clipn_kernel.evaluate import BundleRunner, embed_folder, evaluate, image_files


def summary(result: dict) -> dict:
    return {
        "idAccuracy": result.get("idAccuracy"),
        "ctwAuroc": result["mean"]["ctw"]["auroc"],
        "atdAuroc": result["mean"]["atd"]["auroc"],
        "perSet": {name: {"ctw": s["ctw"]["auroc"], "atd": s["atd"]["auroc"], "images": s["images"]} for name, s in result["ood"].items()},
        "idImages": result["idImages"],
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--fp32", required=True)
    p.add_argument("--int8", required=True)
    p.add_argument("--heldout", required=True)
    args = p.parse_args()
    labels = json.loads((Path(args.fp32) / "labels.json").read_text())["labels"]
    held = Path(args.heldout)
    ood_dirs = sorted(d for d in (held / "ood").iterdir() if d.is_dir())
    out = {}
    for name in ("fp32", "int8"):
        out[name] = summary(evaluate(getattr(args, name), labels, held / "id", ood_dirs))
    files = image_files(held)
    a = embed_folder(BundleRunner(args.fp32), files)
    b = embed_folder(BundleRunner(args.int8), files)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    out["cosine"] = {"images": len(files), "median": float(np.median(cos)), "min": float(cos.min()), "p01": float(np.quantile(cos, 0.01))}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
