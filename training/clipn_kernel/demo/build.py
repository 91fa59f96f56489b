"""`demo build`: regenerate the demo bundle, its held-out image sets and its quality record from a seed."""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..checkpoint import save_checkpoint
from ..evaluate import BundleRunner, embed_folder, evaluate, image_files, score_dict
from ..export import export_bundle
from ..model import CLIPN
from ..preprocess import preprocess
from .train import ID_LABELS, TRAIN_CONCEPTS, TRAIN_CYCLE, demo_config, make_dataset, pretrain_clip, train_clipn
from .world import DEMO_TEMPLATES, ID_SHAPES, OOD_SHAPES, samples

TARGETS = {"idAccuracy": 0.90, "atdAuroc": 0.90}


def write_images(out: Path, seed: int, shapes: tuple[str, ...], per_class: int) -> None:
    """per_class PNGs per shape into out/<shape>/; PNGs left there by an earlier, larger build are removed,
    so the folder holds exactly the images the quality record counts."""
    for shape in shapes:
        folder = out / shape
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.png"):
            stale.unlink()
    for i, s in enumerate(samples(seed, shapes, per_class * len(shapes))):
        s.image.save(out / s.shape / f"{i // len(shapes):03d}.png", optimize=True)


def build(out_dir: str | Path, heldout_dir: str | Path, *, seed: int = 0, n_train: int = 40000, clip_epochs: int = 12, clipn_epochs: int = 6,
          batch: int = 128, per_class: int = 40, log: Callable[[str], None] = print) -> dict:
    if n_train < batch:
        # Each epoch takes whole batches only: fewer images than a batch would train on nothing.
        raise ValueError(f"demo build: expected at least {batch} training images (one batch), got {n_train}")
    started = time.perf_counter()
    out, heldout = Path(out_dir), Path(heldout_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = demo_config()
    model = CLIPN(cfg)
    log(f"demo model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(cfg.text.vocab_subset or ())} kept token ids")
    data = make_dataset(seed, TRAIN_CONCEPTS, n_train, TRAIN_CYCLE)
    log(f"rendered {n_train} training images ({time.perf_counter() - started:.0f} s)")
    curves = {"clip": pretrain_clip(model, data, epochs=clip_epochs, batch=batch, lr=1e-3, seed=seed, log=log)}
    curves["clipn"] = train_clipn(model, data, epochs=clipn_epochs, batch=batch, lr=1e-3, seed=seed, log=log)
    train_seconds = time.perf_counter() - started

    # The committed checkpoint is fp16 (half the bytes); export from exactly those weights.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    work = out / ".work"
    work.mkdir(exist_ok=True)
    ckpt = work / "checkpoint.pt"
    save_checkpoint(model, ckpt, half=True)
    templates = work / "templates.txt"
    templates.write_text("".join(f"{t.replace('{}', '{}')}\n" for t in DEMO_TEMPLATES))
    export_bundle(model, cfg, out, name="demo", checkpoint_path=ckpt, templates_path=templates, log=log)
    for f in work.iterdir():
        f.unlink()
    work.rmdir()

    write_images(heldout / "id", seed + 1_000_003, ID_SHAPES, per_class)
    write_images(heldout / "ood", seed + 2_000_003, OOD_SHAPES, per_class)
    calibrate_label_set(out, seed=seed, log=log)
    quality = {
        "command": f"python -m clipn_kernel demo build --out {out} --heldout {heldout} --seed {seed}",
        "seed": seed,
        "trainImages": n_train,
        "epochs": {"clip": clip_epochs, "clipn": clipn_epochs},
        "trainSeconds": round(train_seconds, 1),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "lossCurves": curves,
        "targets": TARGETS,
    }
    return record_quality(out, heldout, quality, log=log)


# The calibration split: ID images of the demo world from their own seed, never the held-out test images.
CALIBRATION_SEED_OFFSET = 3_000_003
CALIBRATION_IMAGES = 1200
# Share of calibration ID images the shipped threshold keeps: chosen on the calibration split so
# that the held-out ID images are flagged at most 5% of the time (measured in the quality record).
CALIBRATION_TPR = 0.94


def threshold_at_tpr(scores: np.ndarray, tpr: float) -> float:
    """The ID score that keeps `tpr` of `scores` at or above it (as the runtime's thresholdAtTpr)."""
    ordered = np.sort(scores)[::-1]
    keep = max(1, int(math.ceil(tpr * len(ordered) - 1e-9)))
    return float(ordered[keep - 1])


def calibrate_label_set(out: Path, *, seed: int = 0, tpr: float = CALIBRATION_TPR, images: int = CALIBRATION_IMAGES, log: Callable[[str], None] = print) -> dict:
    """Writes out/labels.json: the demo label set (id "default", the sidecar's default label set),
    routed by an ATD log-odds threshold that keeps `tpr` of a calibration split of ID images."""
    runner = BundleRunner(out)
    w_yes, w_no = runner.heads(ID_LABELS, runner.templates())
    pictures = [s.image for s in samples(seed + CALIBRATION_SEED_OFFSET, ID_SHAPES, images)]
    embeds = np.concatenate([runner.encode_images(np.stack([preprocess(p, runner.size) for p in pictures[i : i + 200]])) for i in range(0, len(pictures), 200)])
    atd = score_dict(embeds, w_yes, w_no)["atd"]
    threshold = threshold_at_tpr(atd, tpr)
    labels = {
        "id": "default",
        "version": 1,
        "labels": ID_LABELS,
        "routing": {"rule": "calibrated", "params": {}},
        "thresholds": {"ctwLogOdds": None, "atdLogOdds": round(threshold, 6)},
        "calibration": {"tpr": tpr, "idImages": images, "seed": seed + CALIBRATION_SEED_OFFSET, "modelVersion": runner.manifest["modelVersion"],
                        "command": f"python -m clipn_kernel demo calibrate --out {out} --seed {seed}"},
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    log(f"calibrated on {images} ID images (seed {seed + CALIBRATION_SEED_OFFSET}): ATD log-odds >= {threshold:.4f} keeps {tpr:.0%}")
    return labels


def record_quality(out: Path, heldout: Path, quality: dict, *, measured_by: str | None = None, log: Callable[[str], None] = print) -> dict:
    """Measures the bundle on the held-out sets and writes quality.json and QUALITY.md: `quality` holds
    how the model was trained; `measured_by` names a later command that re-measured it."""
    result = evaluate(out, ID_LABELS, heldout / "id", [heldout / "ood" / s for s in OOD_SHAPES])
    quality = {k: v for k, v in quality.items() if k not in ("met", "result", "measuredBy")}
    if measured_by is not None:
        quality["measuredBy"] = measured_by
    quality["met"] = {"idAccuracy": result.get("idAccuracy", 0) >= TARGETS["idAccuracy"], "atdAuroc": result["mean"]["atd"]["auroc"] >= TARGETS["atdAuroc"]}
    quality["result"] = result
    quality["shippedLabelSet"] = routed_shares(out, heldout)
    (out / "quality.json").write_text(json.dumps(quality, indent=2) + "\n")
    (out / "QUALITY.md").write_text(quality_markdown(quality))
    log(f"quality: ID accuracy {result.get('idAccuracy')}, ATD AUROC {result['mean']['atd']['auroc']:.4f}, CTW AUROC {result['mean']['ctw']['auroc']:.4f}")
    return quality


def routed_shares(out: Path, heldout: Path) -> dict:
    """Shares of the held-out images the shipped label set (labels.json, calibrated) sends to review."""
    labels = json.loads((out / "labels.json").read_text())
    threshold = labels["thresholds"]["atdLogOdds"]
    runner = BundleRunner(out)
    w_yes, w_no = runner.heads(labels["labels"], runner.templates())

    def share(folder: Path) -> float:
        return float((score_dict(embed_folder(runner, image_files(folder)), w_yes, w_no)["atd"] < threshold).mean())

    return {"atdLogOdds": threshold, "tpr": labels["calibration"]["tpr"], "idReviewed": share(heldout / "id"), "oodReviewed": {c: share(heldout / "ood" / c) for c in OOD_SHAPES}}


def remeasure(out_dir: str | Path, heldout_dir: str | Path, log: Callable[[str], None] = print) -> dict:
    """Re-measures the committed bundle's quality record without training (after a change to scoring)."""
    out, heldout = Path(out_dir), Path(heldout_dir)
    quality = json.loads((out / "quality.json").read_text())
    return record_quality(out, heldout, quality, measured_by=f"python -m clipn_kernel demo quality --out {out} --heldout {heldout}", log=log)


def quality_markdown(q: dict) -> str:
    r = q["result"]
    rows = "\n".join(
        f"| {name} | " + " | ".join(f"{v[k]['auroc']:.4f} / {v[k]['fpr95']:.4f}" for k in ("ctw", "atd", "msp", "max_logit", "energy")) + " |"
        for name, v in {**r["ood"], "mean": r["mean"]}.items()
    )
    ood_counts = ", ".join(f"{name} {v['images']}" for name, v in r["ood"].items())
    ood_args = " ".join(f"--ood models/demo-heldout/ood/{name}" for name in r["ood"])
    measured = f"Trained by `{q['command']}`, measured by `{q['measuredBy']}`" if q.get("measuredBy") else f"Measured by `{q['command']}`"
    sl = q.get("shippedLabelSet")
    shipped = "" if sl is None else (
        f"- The shipped label set (labels.json: ATD log-odds >= {sl['atdLogOdds']:.4f}, keeping {sl['tpr']:.0%} of a separate calibration split of ID images) "
        f"sends {sl['idReviewed']:.1%} of the held-out ID images to review and "
        + ", ".join(f"{v:.1%} of the {k}s" for k, v in sl["oodReviewed"].items())
        + f" (mean {sum(sl['oodReviewed'].values()) / len(sl['oodReviewed']):.1%})"
    )
    return f"""# Demo model quality

{measured} (seed {q["seed"]}, {q["trainImages"]} training images,
{q["epochs"]["clip"]} CLIP epochs then {q["epochs"]["clipn"]} CLIPN epochs, {q["trainSeconds"]:.0f} s of training on {q["machine"]}),
through the exported ONNX graphs, on the held-out images in models/demo-heldout/ ({r["idImages"]} ID images; OOD: {ood_counts}).
`clipn eval --id models/demo-heldout/id {ood_args} --labels models/demo/labels.json` reproduces it.
CTW, ATD and MSP are ranked by their log-odds (computed in log space): the probabilities saturate at
exactly 1.0 for confident images, and ties among them would make AUROC depend on the CPU's last bits.

- Zero-shot ID accuracy: **{r.get("idAccuracy", float("nan")):.4f}** (target >= {q["targets"]["idAccuracy"]}: {"met" if q["met"]["idAccuracy"] else "NOT met"})
- ATD AUROC (mean over OOD concepts): **{r["mean"]["atd"]["auroc"]:.4f}** (target >= {q["targets"]["atdAuroc"]}: {"met" if q["met"]["atdAuroc"] else "NOT met"})
- Share of ID images flagged: CTW {r["idFlagged"]["ctw"]:.3f}, ATD {r["idFlagged"]["atd"]:.3f}
{shipped}

AUROC / FPR95 per OOD concept (ID = {", ".join(r["labels"])}):

| OOD set | CTW | ATD | MSP | MaxLogit | Energy |
| --- | --- | --- | --- | --- | --- |
{rows}
"""
