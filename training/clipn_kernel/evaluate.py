"""Evaluates a bundle with ONNX Runtime on image folders: ID accuracy, AUROC and FPR95 per score.

It runs exactly what the runtime runs (the exported graphs), so its numbers are the ones the
TypeScript `clipn eval` reproduces on the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort
import torch

from .export import read_prompt, verify_bundle
from .metrics import auroc, fpr_at_95_tpr
from .preprocess import preprocess_file
from .scoring import format_template, score
from .tokenizer import tokenize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SCORES = ("ctw", "atd", "msp", "max_logit", "energy")
# What each score is ranked by: the saturating probabilities through their log-odds (same order, no ties).
RANKED_BY = {"ctw": "ctw_log_odds", "atd": "atd_log_odds", "msp": "msp_log_odds", "max_logit": "max_logit", "energy": "energy"}


class BundleRunner:
    """The three graphs of a bundle behind encode methods (CPU)."""

    def __init__(self, bundle_dir: str | Path) -> None:
        self.dir = Path(bundle_dir)
        self.manifest = verify_bundle(self.dir)
        opts = ort.SessionOptions()
        self.sessions = {k: ort.InferenceSession(str(self.dir / g["file"]), opts, providers=["CPUExecutionProvider"]) for k, g in self.manifest["graphs"].items()}
        self.prompt = read_prompt(self.dir)
        self.size = int(self.manifest["preprocess"]["imageSize"])

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        return self.sessions["image"].run(None, {"pixel_values": pixels.astype(np.float32)})[0]

    def encode_texts(self, texts: Sequence[str], no: bool, prompt: np.ndarray | None = None) -> np.ndarray:
        ids = tokenize(list(texts)).numpy()
        if no:
            return self.sessions["textNo"].run(None, {"input_ids": ids, "prompt": (self.prompt if prompt is None else prompt).astype(np.float32)})[0]
        return self.sessions["text"].run(None, {"input_ids": ids})[0]

    def templates(self) -> list[str]:
        return [line.rstrip("\n") for line in (self.dir / self.manifest["templates"]["file"]).read_text().splitlines() if line.strip()]

    def heads(self, labels: Sequence[str], templates: Sequence[str], prompt: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        def norm(x: np.ndarray) -> np.ndarray:
            return x / np.linalg.norm(x, axis=-1, keepdims=True)

        yes, no = [], []
        for label in labels:
            texts = [format_template(t, label) for t in templates]
            yes.append(norm(norm(self.encode_texts(texts, no=False)).sum(0)))
            no.append(norm(norm(self.encode_texts(texts, no=True, prompt=prompt)).sum(0)))
        return np.stack(yes), np.stack(no)


def image_files(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def embed_folder(runner: BundleRunner, files: Sequence[Path], batch: int = 64) -> np.ndarray:
    out = []
    for i in range(0, len(files), batch):
        pixels = np.stack([preprocess_file(f, runner.size) for f in files[i : i + batch]])
        out.append(runner.encode_images(pixels))
    return np.concatenate(out) if out else np.zeros((0, runner.manifest["architecture"]["embedDim"]), np.float32)


def score_dict(embeds: np.ndarray, w_yes: np.ndarray, w_no: np.ndarray) -> dict[str, np.ndarray]:
    """Per score name of SCORES, the values it is ranked by; plus index and the two flags."""
    s = score(torch.from_numpy(embeds), torch.from_numpy(w_yes), torch.from_numpy(w_no))
    ranked = {name: getattr(s, field).numpy() for name, field in RANKED_BY.items()}
    return {"index": s.index.numpy(), **ranked, "ood_ctw": s.ood_ctw.numpy(), "ood_atd": s.ood_atd.numpy()}


def evaluate(bundle_dir: str | Path, labels: Sequence[str], id_dir: str | Path, ood_dirs: Sequence[str | Path], templates: Sequence[str] | None = None) -> dict:
    """ID accuracy (ID folder has one subfolder per label) and per-OOD-set AUROC/FPR95 of every score, with means."""
    runner = BundleRunner(bundle_dir)
    w_yes, w_no = runner.heads(labels, templates or runner.templates())
    id_files = image_files(id_dir)
    id_scores = score_dict(embed_folder(runner, id_files), w_yes, w_no)
    truth = np.array([labels.index(f.parent.name) if f.parent.name in labels else -1 for f in id_files])
    result: dict = {"modelVersion": runner.manifest["modelVersion"], "labels": list(labels), "idImages": len(id_files)}
    if (truth >= 0).all():
        result["idAccuracy"] = float((id_scores["index"] == truth).mean())
    result["idFlagged"] = {"ctw": float(id_scores["ood_ctw"].mean()), "atd": float(id_scores["ood_atd"].mean())}
    per_set = {}
    for ood_dir in ood_dirs:
        files = image_files(ood_dir)
        ood = score_dict(embed_folder(runner, files), w_yes, w_no)
        per_set[Path(ood_dir).name] = {
            "images": len(files),
            **{k: {"auroc": auroc(id_scores[k], ood[k]), "fpr95": fpr_at_95_tpr(id_scores[k], ood[k])} for k in SCORES},
            "flagged": {"ctw": float(ood["ood_ctw"].mean()), "atd": float(ood["ood_atd"].mean())},
        }
    result["ood"] = per_set
    result["mean"] = {k: {m: float(np.mean([v[k][m] for v in per_set.values()])) for m in ("auroc", "fpr95")} for k in SCORES}
    return result


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2)
