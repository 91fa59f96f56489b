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
from .tokenizer import CONTEXT_LENGTH, simple_tokenizer, write_tokenizer_json

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


def export_bundle(
    model: CLIPN,
    cfg: ModelConfig,
    out_dir: str | Path,
    *,
    name: str,
    checkpoint_path: str | Path | None = None,
    templates_path: str | Path | None = None,
    fp16: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Writes image.onnx, text.onnx, text_no.onnx, tokenizer.json, prompt.bin, templates.txt,
    checkpoint.pt and manifest.json into out_dir; returns the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    started = time.perf_counter()
    steps = 6

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
    with torch.no_grad():
        prompt = model.mean_prompt().detach().float().clone()
        ids = torch.zeros(batch, CONTEXT_LENGTH, dtype=torch.long)
        ids[:, 0] = simple_tokenizer().sot_token_id
        ids[:, 1] = 320
        ids[:, 2] = simple_tokenizer().eot_token_id

        step(2, f"image.onnx ({sum(p.numel() for p in model.visual.parameters()) / 1e6:.1f} M parameters)")
        _export_graph(_Graph(export_model, export_model.encode_image, dtype), (torch.randn(batch, 3, size, size),), out / "image.onnx",
                      ["pixel_values"], "image_embeds", {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
        step(3, "text.onnx")
        _export_graph(_Graph(export_model, export_model.encode_text, dtype), (ids,), out / "text.onnx",
                      ["input_ids"], "text_embeds", {"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}})
        step(4, "text_no.onnx")
        _export_graph(_Graph(export_model, export_model.encode_text_no, dtype), (ids, prompt), out / "text_no.onnx",
                      ["input_ids", "prompt"], "text_embeds", {"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}})
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
            "text": {"file": "text.onnx", "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", CONTEXT_LENGTH]}],
                     "outputs": [{"name": "text_embeds", "dtype": "float32", "shape": ["batch", dim]}]},
            "textNo": {"file": "text_no.onnx", "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", CONTEXT_LENGTH]},
                                                         {"name": "prompt", "dtype": "float32", "shape": [CONTEXT_LENGTH, width]}],
                       "outputs": [{"name": "text_embeds", "dtype": "float32", "shape": ["batch", dim]}]},
        },
        "templates": {"file": "templates.txt"},
        "files": files,
        "source": {"checkpoint": "checkpoint.pt", "sha256": source_sha},
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


def export_text_no(model: CLIPN, path: str | Path) -> Path:
    """Writes the no tower alone as text_no.onnx, the graph export_bundle writes (same inputs,
    output and dynamic batch axis; float32 weights), and runs the ONNX checker on it."""
    model = model.eval().cpu()
    ids = torch.zeros(2, CONTEXT_LENGTH, dtype=torch.long)
    ids[:, 0] = simple_tokenizer().sot_token_id
    ids[:, 1] = 320
    ids[:, 2] = simple_tokenizer().eot_token_id
    with torch.no_grad():
        prompt = model.mean_prompt().detach().float().clone()
        _export_graph(_Graph(model, model.encode_text_no, torch.float32), (ids, prompt), Path(path),
                      ["input_ids", "prompt"], "text_embeds", {"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}})
    return Path(path)
