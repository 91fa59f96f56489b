"""`train-prompts`: re-pretrain the CLIPN "no" prompts (or the whole no tower) from image embeddings
and captions, and write prompt.bin / prompt-set.bin (/ text_no.onnx) and, last, result.json: prompt.bin is the mean
"no" prompt ([77,W], the bundle's prompt file), prompt-set.bin all 16 learnable ones ([16,77,W],
the training state a later run continues from with --init-prompt-set).

Exit codes: 0 success; 2 bad input or arguments (stderr line starting "error: "); other = a crash.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NoReturn

import torch

from .checkpoint import NO_TOWER_FILE, load_clipn_checkpoint, load_no_tower, save_no_tower
from .export import export_text_no
from .model import CLIPN, NUM_NO_PROMPTS, parse_model_config
from .train.loop import DISTILL_ON, MODES, EpochHook, Keep, prepare, train
from .train.served import label_heads
from .train.outputs import PROMPT_SET_FILE, RESULT, file_info, read_f32, write_f32, write_result
from .train.samples import Sample, load_samples, tokenize_checked

DEVICES = ("auto", "cpu", "cuda")


def _number(kind: type, minimum: float, above: bool = False) -> Callable[[str], Any]:
    """An argparse type: a finite number >= minimum (> minimum when `above`)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if above else '>='} {minimum}, got {text!r}")
        return value

    return parse


def _fail(message: str) -> NoReturn:
    # argparse would print usage first; the kernel's contract is one line starting "error: ".
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-prompts", help="re-pretrain the no prompts (or the no tower) from image embeddings and captions")
    p.error = _fail  # type: ignore[method-assign]
    p.add_argument("--bundle", required=True, help="model bundle folder (manifest.json, checkpoint.pt)")
    p.add_argument("--samples", required=True, help="JSON-lines samples file: id, embedding, text, group, kind")
    p.add_argument("--out", required=True, help="output folder (must not hold a result.json yet)")
    p.add_argument("--checkpoint", default=None, help="CLIPN checkpoint (default: BUNDLE/checkpoint.pt)")
    p.add_argument("--mode", choices=MODES, default="prompts", help="train the 16 prompts only, or the whole no tower with them")
    p.add_argument("--init-prompt-set", default=None, help=f"{PROMPT_SET_FILE} of an earlier run ([16,77,W] float32 LE); default: the checkpoint's")
    p.add_argument("--epochs", type=_number(int, 1), default=30)
    p.add_argument("--lr", type=_number(float, 0.0, above=True), default=1e-3)
    p.add_argument("--batch", type=_number(int, 2), default=64)
    p.add_argument("--weight-decay", type=_number(float, 0.0), default=0.0)
    p.add_argument("--seed", type=_number(int, 0), default=0)
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto: cuda when available")
    p.add_argument("--log-json", action="store_true", help="progress as JSON lines on stderr")
    p.add_argument("--balance", action="store_true",
                   help="weigh the OOD images' rows of L_no as much as the ID images' in each batch (default: the paper's plain average)")
    p.add_argument("--init-no-tower", default=None, help=f"{NO_TOWER_FILE} of an earlier no-tower run (its whole no tower, prompts included); default: the checkpoint's")
    p.add_argument("--label-set", default=None,
                   help='JSON file {"labels": [...], "templates": [...]}: the label set the sidecar serves, for --served-weight and head distillation')
    p.add_argument("--clipn-weight", type=_number(float, 0.0), default=1.0, help="weight of the CLIPN losses on the captions")
    p.add_argument("--served-weight", type=_number(float, 0.0), default=0.0,
                   help="weight of the logistic loss of the served ATD score against the label set's heads (needs --label-set)")
    p.add_argument("--distill", type=_number(float, 0.0), default=0.0,
                   help="weight of distillation toward the starting model: ID images keep their scores, OOD images may only become more OOD")
    p.add_argument("--distill-on", choices=DISTILL_ON, default="score",
                   help="score: the served ATD log-odds (needs --label-set); logits: the no-logits against the heads (with --label-set) or the captions")
    p.add_argument("--l2", type=_number(float, 0.0), default=0.0, help="weight of the squared distance of the trained parameters to their start (L2-SP)")
    p.add_argument("--lora-rank", type=_number(int, 0), default=0, help="> 0: train rank-r adapters on the no tower (merged at the end) instead of all of it (--mode no-tower)")
    p.set_defaults(run=run)


def _device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available on this machine")
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu")


def _arg_strings(args: argparse.Namespace, checkpoint: str) -> dict[str, str]:
    """Every CLI argument by its flag name, as a string ("" for an unset --init-prompt-set)."""
    values: dict[str, Any] = {
        "bundle": args.bundle, "samples": args.samples, "out": args.out, "checkpoint": checkpoint, "mode": args.mode,
        "init-prompt-set": args.init_prompt_set or "", "epochs": args.epochs, "lr": args.lr, "batch": args.batch,
        "weight-decay": args.weight_decay, "seed": args.seed, "device": args.device, "log-json": "true" if args.log_json else "false",
        "balance": "true" if args.balance else "false", "init-no-tower": args.init_no_tower or "", "label-set": args.label_set or "",
        "clipn-weight": args.clipn_weight, "served-weight": args.served_weight, "distill": args.distill, "distill-on": args.distill_on,
        "l2": args.l2, "lora-rank": args.lora_rank,
    }
    return {k: str(v) for k, v in values.items()}


class _Progress:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def epoch(self, epoch: int, epochs: int, loss: float, seconds: float) -> None:
        if self.as_json:
            self._json({"event": "epoch", "epoch": epoch, "epochs": epochs, "loss": round(loss, 4), "seconds": round(seconds, 1)})
        else:
            self._line(f"epoch {epoch}/{epochs} loss {loss:.4f} ({seconds:.1f} s)")

    def done(self, result: dict[str, Any], path: Path) -> None:
        loss = result["lossCurve"][-1]
        if self.as_json:
            self._json({"event": "done", "mode": result["mode"], "epochs": result["epochs"], "loss": round(loss, 4),
                        "seconds": result["seconds"], "result": str(path)})
        else:
            self._line(f"done: {path} (loss {loss:.4f}, {result['seconds']:.1f} s)")

    def _json(self, obj: dict[str, Any]) -> None:
        self._line(json.dumps(obj))

    @staticmethod
    def _line(text: str) -> None:
        print(text, file=sys.stderr, flush=True)


class _Deterministic:
    """Deterministic kernels for the run, restoring the process's previous setting after it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())

    def __enter__(self) -> None:
        if self.device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic GEMMs
        # warn_only: an op without a deterministic kernel warns instead of failing the run.
        torch.use_deterministic_algorithms(True, warn_only=True)

    def __exit__(self, *exc: object) -> None:
        torch.use_deterministic_algorithms(self.saved[0], warn_only=self.saved[1])


def keep_of(args: argparse.Namespace) -> Keep:
    """The objective's weights from the arguments (experiments may set extra Keep fields as keep_<name>)."""
    extra = {k[len("keep_"):]: v for k, v in vars(args).items() if k.startswith("keep_")}
    return Keep(clipn=args.clipn_weight, served=args.served_weight, distill=args.distill, distill_on=args.distill_on, l2=args.l2,
                lora_rank=args.lora_rank, **extra)


def read_label_set(path: str) -> tuple[list[str], list[str]]:
    """(labels, templates) of a --label-set file; ValueError (exit 2) naming what is wrong."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"--label-set {path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"--label-set {path}: expected JSON, got invalid JSON ({exc.msg})") from None
    def strings(key: str) -> list[str]:
        v = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v):
            raise ValueError(f"--label-set {path}: expected {key!r} to be a non-empty list of non-empty strings, got {json.dumps(v)[:80]}")
        return v
    labels, templates = strings("labels"), strings("templates")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"--label-set {path}: expected every template to hold {{}}, got {bad[0]!r}")
    return labels, templates


@dataclass
class Fit:
    model: CLIPN  # on the CPU, in eval mode
    manifest: dict[str, Any]
    samples: list[Sample]
    curve: list[float]
    device: torch.device
    checkpoint: str


def fit(args: argparse.Namespace, on_epoch: EpochHook | None = None) -> Fit:
    """Loads the bundle's model and the samples, and trains; deterministic in the arguments on the CPU."""
    device = _device(args.device)
    bundle = Path(args.bundle)
    manifest_path = bundle / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"--bundle {bundle}: manifest.json not found")
    manifest = json.loads(manifest_path.read_text())
    arch = manifest["architecture"]
    cfg = parse_model_config(arch["config"], name=arch.get("name", "custom"))
    checkpoint = args.checkpoint or str(bundle / "checkpoint.pt")
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")

    samples = load_samples(args.samples, cfg.embed_dim)
    ids = tokenize_checked(samples, cfg)
    model = load_clipn_checkpoint(checkpoint, cfg)
    if getattr(args, "init_no_tower", None):
        load_no_tower(model, args.init_no_tower)
    if args.init_prompt_set:
        shape = (NUM_NO_PROMPTS, cfg.text.context_length, cfg.text.width)
        with torch.no_grad():
            model.prompt_no.copy_(read_f32(args.init_prompt_set, shape, "--init-prompt-set"))
    label_set = read_label_set(args.label_set) if args.label_set else None
    keep = keep_of(args)
    if label_set is None and (keep.served > 0 or (keep.distill > 0 and keep.distill_on == "score")):
        raise ValueError("--served-weight and --distill-on score train the served score: expected --label-set")
    scale = float(manifest.get("scoring", {}).get("logitScale", 100.0))
    with _Deterministic(device):
        torch.manual_seed(args.seed)
        model.to(device)
        data = prepare(model, samples, ids, device)
        curve = train(model, data, mode=args.mode, epochs=args.epochs, lr=args.lr, batch=args.batch,
                      weight_decay=args.weight_decay, seed=args.seed, on_epoch=on_epoch, balance=args.balance,
                      keep=keep, heads=label_heads(model, label_set[0], label_set[1], cfg.text.context_length, device, scale) if label_set else None)
    return Fit(model.cpu().eval(), manifest, samples, curve, device, checkpoint)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: expected a folder, got a file")
    if (out / RESULT).exists():
        raise ValueError(f"--out {out} already holds {RESULT}: choose a new folder (a finished run is never overwritten)")
    progress = _Progress(args.log_json)
    done = fit(args, on_epoch=progress.epoch)
    model, samples = done.model, done.samples

    out.mkdir(parents=True, exist_ok=True)
    write_f32(out / PROMPT_SET_FILE, model.prompt_no)  # the training state --init-prompt-set continues from
    write_f32(out / "prompt.bin", model.mean_prompt())  # what the text_no graph takes as its `prompt` input
    written = ["prompt.bin", PROMPT_SET_FILE]
    if args.mode == "no-tower":
        export_text_no(model, out / "text_no.onnx")
        save_no_tower(model, out / NO_TOWER_FILE)
        written += ["text_no.onnx", NO_TOWER_FILE]
    result: dict[str, Any] = {
        "mode": args.mode,
        "baseModelVersion": done.manifest.get("modelVersion"),
        "samples": {"total": len(samples), "withText": sum(s.text is not None for s in samples),
                    "id": sum(s.kind == "id" for s in samples), "ood": sum(s.kind == "ood" for s in samples)},
        "epochs": args.epochs,
        "lossCurve": done.curve,
        "args": _arg_strings(args, done.checkpoint),
        "seed": args.seed,
        "device": done.device.type,
        "seconds": round(time.perf_counter() - started, 3),
        "files": {name: file_info(out / name) for name in written},
    }
    progress.done(result, write_result(out, result))
    return 0
