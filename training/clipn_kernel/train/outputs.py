"""Output files of `train-prompts`: raw float32 tensors and the atomically written result.json."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULT = "result.json"
# All 16 learnable "no" prompts [16,77,W]: the training state --init-prompt-set continues from.
# (Not prompt.bin, the bundle's mean prompt [77,W]; before this name it was prompts.bin.)
PROMPT_SET_FILE = "prompt-set.bin"


def write_f32(path: Path, tensor: torch.Tensor) -> None:
    """Row-major float32 little-endian, the layout of the bundle's prompt.bin."""
    data = tensor.detach().float().cpu().contiguous().numpy().astype("<f4").tobytes()
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_f32(path: str | Path, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """A raw float32 LE file of exactly `shape`; ValueError (exit 2) naming the expected size otherwise."""
    raw = Path(path).read_bytes()
    expected = int(np.prod(shape)) * 4
    if len(raw) != expected:
        raise ValueError(f"{what} {path}: expected {expected} bytes (float32 {list(shape)}), got {len(raw)}")
    arr = np.frombuffer(raw, dtype="<f4").reshape(shape)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} {path}: expected finite float32 values, got NaN or infinity")
    return torch.from_numpy(arr.astype(np.float32))


def file_info(path: Path) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def write_result(out: Path, result: dict[str, Any]) -> Path:
    """result.json last and atomically: a reader sees either no file or the whole one."""
    tmp = out / (RESULT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(result, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    final = out / RESULT
    os.replace(tmp, final)
    try:  # persist the rename itself (not possible on every platform)
        fd = os.open(out, os.O_RDONLY)
    except OSError:
        return final
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return final
