"""Export a CLIPN model to the ONNX bundle the runtime loads (docs/bundle-format.md)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import torch
from torch import nn

from .checkpoint import file_sha256, save_checkpoint
from .model import CLIPN, ModelConfig
from .fuse import check_parity, fuse_graph
from .tokenizer import CONTEXT_LENGTH, simple_tokenizer, tokenize, write_tokenizer_json

FORMAT = "clipn-bundle"
FORMAT_VERSION = 1
OPSET = 17
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BUNDLE_FILES = ("checkpoint.pt", "image.onnx", "text.onnx", "text_no.onnx", "tokenizer.json", "prompt.bin", "templates.txt")


class _Graph(nn.Module):
    """Keeps graph inputs and outputs float32 whatever the weights' precision."""

    def __init__(self, model: CLIPN, fn: Callable[..., torch.Tensor], dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model
        self.fn = fn
        self.dtype = dtype

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        cast = [a.to(self.dtype) if a.is_floating_point() else a for a in args]
        return self.fn(*cast).float()


def _export_graph(graph: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], output: str, dynamic: dict[str, dict[int, str]]) -> None:
    torch.onnx.export(
        graph,
        args,
        str(path),
        input_names=inputs,
        output_names=[output],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    onnx.checker.check_model(str(path))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size < (1 << 26) else file_sha256(path)


def _example_ids(batch: int = 2, length: int = 5) -> torch.Tensor:
    """Token ids to trace with: start, one word, end, zero padding to `length`."""
    ids = torch.zeros(batch, length, dtype=torch.long)
    ids[:, 0] = simple_tokenizer().sot_token_id
    ids[:, 1] = 320
    ids[:, 2] = simple_tokenizer().eot_token_id
    return ids


# Texts of different token counts for the parity checks of the text graphs.
PARITY_TEXTS = ("a photo of a dog", "two red stars on a white background, drawn by hand with a thick pen", "🐶 café", "a")


def _text_axes(dynamic_length: bool) -> dict[str, dict[int, str]]:
    return {"input_ids": {0: "batch", 1: "sequence"} if dynamic_length else {0: "batch"}, "text_embeds": {0: "batch"}}


def _text_feeds(prompt: np.ndarray | None, dynamic_length: bool) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """(reference feed at all 77 positions, candidate feed) pairs: the candidate gets the ids cut
    after the longest text's end token when its graph has a dynamic sequence axis."""
    ids = tokenize(list(PARITY_TEXTS)).numpy()
    pairs = []
    for rows in (slice(0, len(PARITY_TEXTS)), slice(3, 4)):
        full = ids[rows].copy()
        length = int(full.argmax(axis=1).max()) + 1 if dynamic_length else CONTEXT_LENGTH
        ref: dict[str, np.ndarray] = {"input_ids": full}
        cand: dict[str, np.ndarray] = {"input_ids": full[:, :length].copy()}
        if prompt is not None:
            ref["prompt"] = cand["prompt"] = prompt
        pairs.append((ref, cand))
    return pairs


def _write_graph(graph: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], output: str, dynamic: dict[str, dict[int, str]],
                 *, fuse: bool, heads: int, width: int, feeds: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
                 check: bool = True, log: Callable[[str], None]) -> dict[str, Any] | None:
    """Exports one graph to `path`; with `fuse`, the traced graph is only the reference the fused
    one is checked against, then deleted. The check (1e-5 of the output scale) runs the reference
    at all 77 positions and the written graph at the feeds' lengths. Returns what fusion did."""
    if not fuse:
        _export_graph(graph, args, path, inputs, output, dynamic)
        if check:
            check_parity(path, path, feeds)
        return None
    reference = path.with_name(path.stem + ".unfused.onnx")
    try:
        _export_graph(graph, args, reference, inputs, output, dynamic)
        info = fuse_graph(reference, path, num_heads=heads, hidden_size=width)
        info["parity"] = check_parity(reference, path, feeds)
    finally:
        reference.unlink(missing_ok=True)
    log(f"  {path.name}: {info['attention']} attention blocks fused, nodes {sum(info['before'].values())} -> "
        f"{sum(info['after'].values())}, largest difference from the unfused graph {info['parity']:.2g}")
    return info


def export_bundle(
    model: CLIPN,
    cfg: ModelConfig,
    out_dir: str | Path,
    *,
    name: str,
    checkpoint_path: str | Path | None = None,
    templates_path: str | Path | None = None,
    fp16: bool = False,
    fuse: bool = True,
    dynamic_length: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Writes image.onnx, text.onnx, text_no.onnx, tokenizer.json, prompt.bin, templates.txt,
    checkpoint.pt and manifest.json into out_dir; returns the manifest.

    `fuse` (float32 only) writes the graphs with ONNX Runtime's fused transformer ops (fuse.py),
    checked against the traced graphs. `dynamic_length` gives the text graphs a dynamic sequence
    axis (ids cut after the longest text's end token); False writes the format-1 graphs that
    take all 77 positions."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    started = time.perf_counter()
    steps = 6
    fuse = fuse and not fp16  # the fused contrib ops have no float16 CPU kernels

    def step(i: int, what: str) -> None:
        log(f"[{i}/{steps}] {what} ({time.perf_counter() - started:.1f} s)")

    step(1, "checkpoint")
    ckpt_out = out / "checkpoint.pt"
    if checkpoint_path is not None and Path(checkpoint_path).resolve() != ckpt_out.resolve():
        shutil.copyfile(checkpoint_path, ckpt_out)
    elif checkpoint_path is None:
        save_checkpoint(model, ckpt_out)
    source_sha = file_sha256(ckpt_out)
    model_version = f"{name}@{source_sha[:12]}"

    dtype = torch.float16 if fp16 else torch.float32
    export_model = model.half() if fp16 else model
    width = cfg.text.width
    size = cfg.vision.image_size
    batch = 2
    fused: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    with torch.no_grad():
        prompt = model.mean_prompt().detach().float().clone()
        # Traced at a length other than 77, so a length wrongly baked in as a constant fails the parity check.
        ids = _example_ids(batch, 5 if dynamic_length else CONTEXT_LENGTH)
        prompt_np = prompt.numpy().astype(np.float32)
        image_feeds = [({"pixel_values": x}, {"pixel_values": x}) for x in (rng.standard_normal((b, 3, size, size)).astype(np.float32) for b in (1, 3))]

        step(2, f"image.onnx ({sum(p.numel() for p in model.visual.parameters()) / 1e6:.1f} M parameters)")
        fused["image"] = _write_graph(_Graph(export_model, export_model.encode_image, dtype), (torch.randn(batch, 3, size, size),), out / "image.onnx",
                                      ["pixel_values"], "image_embeds", {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                                      fuse=fuse, heads=cfg.vision.heads, width=cfg.vision.width, feeds=image_feeds, check=not fp16, log=log)
        step(3, "text.onnx")
        fused["text"] = _write_graph(_Graph(export_model, export_model.encode_text, dtype), (ids,), out / "text.onnx",
                                     ["input_ids"], "text_embeds", _text_axes(dynamic_length),
                                     fuse=fuse, heads=cfg.text.heads, width=width, feeds=_text_feeds(None, dynamic_length), check=not fp16, log=log)
        step(4, "text_no.onnx")
        fused["textNo"] = _write_graph(_Graph(export_model, export_model.encode_text_no, dtype), (ids, prompt), out / "text_no.onnx",
                                       ["input_ids", "prompt"], "text_embeds", _text_axes(dynamic_length),
                                       fuse=fuse, heads=cfg.text.heads, width=width, feeds=_text_feeds(prompt_np, dynamic_length), check=not fp16, log=log)
    if fp16:
        model.float()

    step(5, "tokenizer, prompt, templates")
    write_tokenizer_json(out / "tokenizer.json")
    (out / "prompt.bin").write_bytes(prompt.numpy().astype("<f4").tobytes())
    templates_src = Path(templates_path) if templates_path else Path(str(resources.files("clipn_kernel").joinpath("data", "templates.txt")))
    if templates_src.resolve() != (out / "templates.txt").resolve():
        shutil.copyfile(templates_src, out / "templates.txt")

    step(6, "manifest")
    # Only what this export wrote: files beside it (labels.json, QUALITY.md) are documentation.
    files = {}
    for file_name in sorted(BUNDLE_FILES):
        path = out / file_name
        files[file_name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    dim = cfg.embed_dim
    seq: int | str = "sequence" if dynamic_length else CONTEXT_LENGTH
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "name": name,
        "modelVersion": model_version,
        "createdAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "precision": "fp16" if fp16 else "fp32",
        "architecture": {"name": cfg.name, "embedDim": dim, "textWidth": width, "config": cfg.raw},
        "preprocess": {"imageSize": size, "resize": "shortest-side", "interpolation": "bicubic", "crop": "center",
                       "alpha": "flatten-white", "mean": list(CLIP_MEAN), "std": list(CLIP_STD)},
        "tokenizer": {"file": "tokenizer.json", "contextLength": CONTEXT_LENGTH, "sotTokenId": simple_tokenizer().sot_token_id,
                      "eotTokenId": simple_tokenizer().eot_token_id, "vocabSize": cfg.text.vocab_size},
        "scoring": {"logitScale": 100},
        "prompt": {"file": "prompt.bin", "dtype": "float32", "shape": [CONTEXT_LENGTH, width], "version": f"{model_version}/p0",
                   "sha256": files["prompt.bin"]["sha256"]},
        "graphs": {
            "image": {"file": "image.onnx", "inputs": [{"name": "pixel_values", "dtype": "float32", "shape": ["batch", 3, size, size]}],
                      "outputs": [{"name": "image_embeds", "dtype": "float32", "shape": ["batch", dim]}]},
            "text": {"file": "text.onnx", "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", seq]}],
                     "outputs": [{"name": "text_embeds", "dtype": "float32", "shape": ["batch", dim]}]},
            "textNo": {"file": "text_no.onnx", "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", seq]},
                                                         {"name": "prompt", "dtype": "float32", "shape": [CONTEXT_LENGTH, width]}],
                       "outputs": [{"name": "text_embeds", "dtype": "float32", "shape": ["batch", dim]}]},
        },
        "templates": {"file": "templates.txt"},
        "files": files,
        "source": {"checkpoint": "checkpoint.pt", "sha256": source_sha},
    }
    for key, info in fused.items():
        if info is not None:
            after = info["after"]
            manifest["graphs"][key]["fused"] = {
                "attention": after.get("Attention", 0), "skipLayerNorm": after.get("SkipLayerNormalization", 0), "layerNorm": after.get("LayerNormalization", 0), "biasGelu": after.get("BiasGelu", 0),
                "nodes": [sum(info["before"].values()), sum(after.values())], "parity": info["parity"],
            }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f["bytes"] for f in files.values())
    log(f"bundle {out} written: {len(files)} files, {total / 1e6:.1f} MB, model {model_version} ({time.perf_counter() - started:.1f} s)")
    return manifest


def verify_bundle(bundle_dir: str | Path) -> dict[str, Any]:
    """Checks every file of a bundle against its manifest; raises ValueError naming the file."""
    root = Path(bundle_dir)
    manifest = json.loads((root / "manifest.json").read_text())
    for name, meta in manifest["files"].items():
        path = root / name
        if not path.is_file():
            raise ValueError(f"bundle {root}: file {name} is missing")
        if path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            raise ValueError(f"bundle {root}: file {name} does not match its sha256 in manifest.json")
    return manifest


def read_prompt(bundle_dir: str | Path) -> np.ndarray:
    manifest = json.loads((Path(bundle_dir) / "manifest.json").read_text())
    shape = manifest["prompt"]["shape"]
    return np.frombuffer((Path(bundle_dir) / manifest["prompt"]["file"]).read_bytes(), dtype="<f4").reshape(shape)


def export_text_no(model: CLIPN, path: str | Path, *, fuse: bool = True, dynamic_length: bool = True) -> Path:
    """Writes the no tower alone as text_no.onnx, the graph export_bundle writes (same inputs,
    output, dynamic batch and sequence axes, fusion; float32 weights), checked like it."""
    model = model.eval().cpu()
    cfg = model.cfg
    with torch.no_grad():
        prompt = model.mean_prompt().detach().float().clone()
        _write_graph(_Graph(model, model.encode_text_no, torch.float32), (_example_ids(2, 5 if dynamic_length else CONTEXT_LENGTH), prompt), Path(path),
                     ["input_ids", "prompt"], "text_embeds", _text_axes(dynamic_length), fuse=fuse, heads=cfg.text.heads, width=cfg.text.width,
                     feeds=_text_feeds(prompt.numpy().astype(np.float32), dynamic_length), log=lambda _: None)
    return Path(path)
