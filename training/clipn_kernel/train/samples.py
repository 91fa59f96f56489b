"""The training-sample file of `train-prompts`: JSON lines of image embeddings, captions and groups.

One object per line: {"id": str, "embedding": [float x embed_dim], "text": str | null,
"group": str | null, "kind": "id" | "ood"}. Blank lines are skipped; any other malformed line
is a SampleError (a ValueError, so the CLI exits 2) naming the line and what was expected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..model import ModelConfig
from ..tokenizer import simple_tokenizer, tokenize

KINDS = ("id", "ood")
FIELDS = ("id", "embedding", "text", "group", "kind")


class SampleError(ValueError):
    """A samples file that cannot be trained on."""


@dataclass(frozen=True)
class Sample:
    line: int
    id: str
    embedding: list[float]
    text: str | None
    group: str | None
    kind: str


def _type_name(value: Any) -> str:
    return "null" if value is None else {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj[key]
    if value is None:
        return None
    if not isinstance(value, str):
        raise SampleError(f"{where}: field {key!r} expected a string or null, got {_type_name(value)}")
    if not value.strip():
        raise SampleError(f"{where}: field {key!r} expected a non-empty string or null, got {value!r}")
    return value


def parse_line(text: str, number: int, embed_dim: int) -> Sample:
    """One non-blank line -> Sample; `number` is 1-based, for messages."""
    where = f"line {number}"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SampleError(f"{where}: expected a JSON object, got invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise SampleError(f"{where}: expected a JSON object, got {_type_name(obj)}")
    missing = [k for k in FIELDS if k not in obj]
    if missing:
        raise SampleError(f"{where}: missing field(s) {', '.join(repr(k) for k in missing)} (expected {', '.join(FIELDS)})")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise SampleError(f"{where}: field 'id' expected a non-empty string, got {_type_name(obj['id'])} {obj['id']!r}")
    emb = obj["embedding"]
    if not isinstance(emb, list):
        raise SampleError(f"{where}: field 'embedding' expected an array of {embed_dim} numbers, got {_type_name(emb)}")
    if len(emb) != embed_dim:
        raise SampleError(f"{where}: field 'embedding' expected {embed_dim} numbers (the model's embed_dim), got {len(emb)}")
    for i, v in enumerate(emb):
        # bool is an int subclass in Python, but `true` is not a number in JSON.
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SampleError(f"{where}: field 'embedding' expected numbers, got {_type_name(v)} at index {i}")
        if not math.isfinite(v):
            raise SampleError(f"{where}: field 'embedding' expected finite numbers, got {v} at index {i}")
    if not any(v != 0 for v in emb):
        raise SampleError(f"{where}: field 'embedding' expected a non-zero vector, got all zeros")
    kind = obj["kind"]
    if kind not in KINDS:
        raise SampleError(f"{where}: field 'kind' expected \"id\" or \"ood\", got {json.dumps(kind)}")
    return Sample(number, obj["id"], [float(v) for v in emb], _optional_str(obj, "text", where), _optional_str(obj, "group", where), kind)


def load_samples(path: str | Path, embed_dim: int) -> list[Sample]:
    """Every sample of the file; at least two must carry a caption (L_yes and L_no need a pair)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"samples file not found: {path}")
    out: list[Sample] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                out.append(parse_line(line, number, embed_dim))
    with_text = sum(s.text is not None for s in out)
    if with_text < 2:
        raise SampleError(f"{path}: expected at least 2 samples with a text (caption) to train on, got {with_text} of {len(out)} samples")
    return out


def tokenize_checked(samples: list[Sample], cfg: ModelConfig) -> torch.Tensor:
    """[M,77] ids of the captioned samples, in order.

    A model with a vocabulary subset (the demo model) maps every id outside it to one shared
    row, so an unknown word would silently train as "some unknown word". That is never what a
    reviewer meant: refuse the file, naming the line and the word(s), instead.
    """
    texts = [s for s in samples if s.text is not None]
    ids = tokenize([s.text or "" for s in texts], cfg.text.context_length)
    subset = cfg.text.vocab_subset
    if subset is not None:
        kept = torch.zeros(cfg.text.vocab_size, dtype=torch.bool)
        kept[torch.tensor(subset, dtype=torch.long)] = True
        tok = simple_tokenizer()
        kept[tok.sot_token_id] = kept[tok.eot_token_id] = True
        # Zero padding after the end-of-text is not a word (id 0 is also "!", which is checked where it is text).
        used = torch.arange(ids.shape[1])[None, :] <= ids.argmax(dim=1)[:, None]
        outside = ~kept[ids] & used
        for row in torch.nonzero(outside.any(dim=1)).flatten().tolist():
            bad = ids[row][outside[row]].tolist()
            words = sorted({tok.decoder[i].replace("</w>", "") for i in bad})
            raise SampleError(
                f"line {texts[row].line}: text {texts[row].text!r} uses word(s) outside the model's vocabulary "
                f"({len(subset)} kept token ids): {', '.join(repr(w) for w in words)}"
            )
    return ids
