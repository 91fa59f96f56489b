"""`goldens`: fixtures the TypeScript runtime is tested against, computed here in PyTorch and
checked against the bundle's own ONNX graphs.

For a fixed set of images (JPEG and PNG, odd sizes, grayscale, alpha, EXIF-rotated) and a label
set: token ids, preprocessed tensors, image and text embeddings, heads, and per image the class,
CTW and ATD scores (and their log-odds) and flags, MSP, MaxLogit and Energy.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .checkpoint import load_clipn_checkpoint
from .evaluate import BundleRunner
from .export import read_prompt, verify_bundle
from .model import parse_model_config
from .preprocess import preprocess_file
from .scoring import build_heads, format_template, score
from .tokenizer import TOKENIZER_CORPUS, tokenize


def golden_images(out: Path) -> list[tuple[str, str]]:
    """Writes the fixed images; returns (file name, what it exercises)."""
    from .demo.world import ID_SHAPES, OOD_SHAPES, samples

    out.mkdir(parents=True, exist_ok=True)
    shapes = ID_SHAPES + OOD_SHAPES
    pics = [s.image for s in samples(20251127, shapes, len(shapes) * 2)]
    made: list[tuple[str, str]] = []

    def save(name: str, image: Image.Image, what: str, **kw: object) -> None:
        image.save(out / name, **kw)
        made.append((name, what))

    for i, shape in enumerate(shapes):
        save(f"{i:02d}-{shape}.png", pics[i], f"{shape}, PNG 64x64")
    save("10-jpeg-odd.jpg", pics[0].resize((301, 199), Image.Resampling.BICUBIC), "JPEG, odd size 301x199", quality=92)
    save("11-png-odd.png", pics[1].resize((97, 211), Image.Resampling.BICUBIC), "PNG, odd size 97x211")
    save("12-grayscale.png", pics[2].resize((150, 150)).convert("L"), "grayscale PNG")
    rgba = pics[3].resize((128, 96)).convert("RGBA")
    alpha = Image.new("L", rgba.size, 255)
    alpha.paste(0, (0, 0, 40, 96))
    rgba.putalpha(alpha)
    save("13-alpha.png", rgba, "RGBA PNG, a transparent band")
    rotated = pics[4].resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    save("14-exif-rotated.jpg", rotated, "JPEG with EXIF orientation 6", quality=92, exif=exif.tobytes())
    save("15-tall.png", pics[5].resize((40, 230)), "tall narrow PNG")
    return made


# Largest |ONNX - PyTorch| relative to the PyTorch output's scale that a bundle may show.
ONNX_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}


def onnx_agreement(bundle_dir: Path, precision: str, pixels: np.ndarray, ids: torch.Tensor, prompt: torch.Tensor, want: dict[str, torch.Tensor]) -> dict[str, float]:
    """Runs the bundle's graphs on the golden inputs; raises ValueError naming a graph that disagrees with PyTorch."""
    runner = BundleRunner(bundle_dir)
    got = {
        "image": runner.encode_images(pixels),
        "text": runner.sessions["text"].run(None, {"input_ids": ids.numpy()})[0],
        "textNo": runner.sessions["textNo"].run(None, {"input_ids": ids.numpy(), "prompt": prompt.numpy()})[0],
    }
    limit = ONNX_TOLERANCE.get(precision, ONNX_TOLERANCE["fp16"])
    diffs = {}
    for graph, reference in want.items():
        ref = reference.numpy()
        diffs[graph] = float(np.max(np.abs(got[graph] - ref)) / max(1.0, float(np.max(np.abs(ref)))))
        if diffs[graph] > limit:
            file = runner.manifest["graphs"][graph]["file"]
            raise ValueError(f"bundle {bundle_dir}: {file} disagrees with its checkpoint: relative difference {diffs[graph]:.2e}, limit {limit:.0e}")
    return diffs


def write_f32(path: Path, array: np.ndarray) -> None:
    np.ascontiguousarray(array, dtype="<f4").tofile(path)


def make_goldens(bundle_dir: Path, labels: list[str], out: Path) -> dict:
    manifest = verify_bundle(bundle_dir)
    cfg = parse_model_config(manifest["architecture"]["config"], name=manifest["architecture"]["name"])
    model = load_clipn_checkpoint(bundle_dir / manifest["source"]["checkpoint"], cfg)
    prompt = torch.from_numpy(read_prompt(bundle_dir).copy())
    templates = [l for l in (bundle_dir / manifest["templates"]["file"]).read_text().splitlines() if l.strip()]
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "tensors").mkdir()
    images = golden_images(out / "images")
    size = manifest["preprocess"]["imageSize"]
    pixels = np.stack([preprocess_file(out / "images" / name, size) for name, _ in images])
    with torch.no_grad():
        embeds = model.encode_image(torch.from_numpy(pixels))
        w_yes, w_no = build_heads(model, labels, templates, prompt)
        s = score(embeds, w_yes, w_no, manifest["scoring"]["logitScale"])
        texts = [format_template(t, l) for l in labels for t in templates]
        ids = tokenize(texts)
        text_yes = model.encode_text(ids)
        text_no = model.encode_text_no(ids, prompt)
    agreement = onnx_agreement(bundle_dir, manifest["precision"], pixels, ids, prompt, {"image": embeds, "text": text_yes, "textNo": text_no})
    for i, (name, _) in enumerate(images):
        write_f32(out / "tensors" / f"{name}.pixels.bin", pixels[i])
    write_f32(out / "tensors" / "image_embeds.bin", embeds.numpy())
    write_f32(out / "tensors" / "heads_yes.bin", w_yes.numpy())
    write_f32(out / "tensors" / "heads_no.bin", w_no.numpy())
    write_f32(out / "tensors" / "text_yes.bin", text_yes.numpy())
    write_f32(out / "tensors" / "text_no.bin", text_no.numpy())
    golden = {
        "command": f"python -m clipn_kernel goldens --bundle {bundle_dir} --labels {','.join(labels)} --out {out}",
        "modelVersion": manifest["modelVersion"],
        "promptVersion": manifest["prompt"]["version"],
        "imageSize": size,
        "embedDim": manifest["architecture"]["embedDim"],
        "labels": labels,
        "templates": templates,
        "tokens": [{"text": t, "ids": tokenize([t])[0].tolist()} for t in TOKENIZER_CORPUS] + [{"text": t, "ids": r} for t, r in zip(texts, ids.tolist())],
        "texts": texts,
        "onnxVsPytorch": agreement,
        "images": [
            {
                "file": f"images/{name}",
                "what": what,
                "pixels": f"tensors/{name}.pixels.bin",
                "index": int(s.index[i]),
                "label": labels[int(s.index[i])],
                "scores": {
                    "ctw": float(s.ctw[i]), "atd": float(s.atd[i]), "msp": float(s.msp[i]), "maxLogit": float(s.max_logit[i]), "energy": float(s.energy[i]),
                    "ctwLogOdds": float(s.ctw_log_odds[i]), "atdLogOdds": float(s.atd_log_odds[i]), "mspLogOdds": float(s.msp_log_odds[i]),
                },
                "ood": {"ctw": bool(s.ood_ctw[i]), "atd": bool(s.ood_atd[i])},
            }
            for i, (name, what) in enumerate(images)
        ],
    }
    (out / "golden.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    return golden


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("goldens", help="write the golden fixtures the TypeScript runtime is tested against")
    p.add_argument("--bundle", default="models/demo")
    p.add_argument("--labels", default=None, help="comma list or a label-set JSON (default: the bundle's labels.json)")
    p.add_argument("--out", default="test/fixtures/golden")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    bundle = Path(args.bundle)
    source = args.labels or str(bundle / "labels.json")
    labels = json.loads(Path(source).read_text())["labels"] if source.endswith(".json") else [l.strip() for l in source.split(",") if l.strip()]
    golden = make_goldens(bundle, labels, Path(args.out))
    print(f"goldens for {golden['modelVersion']}: {len(golden['images'])} images, {len(golden['tokens'])} token rows -> {args.out}")
    return 0
