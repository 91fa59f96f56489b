"""`export`: a checkpoint (or random weights) to an ONNX bundle."""

from __future__ import annotations

import argparse

import torch

from ..checkpoint import load_clip_checkpoint, load_clipn_checkpoint
from ..export import export_bundle
from ..model import CLIPN, load_model_config
from ..quantize import DEFAULT_METHOD, METHODS, quantize_bundle_image


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a CLIPN checkpoint to an ONNX bundle")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="official-format CLIPN checkpoint (.pt)")
    src.add_argument("--clip-checkpoint", help="plain open_clip CLIP checkpoint: the no tower starts as a copy of the yes tower")
    src.add_argument("--random-init", action="store_true", help="random weights (test and benchmark bundles)")
    p.add_argument("--model-config", required=True, help="a shipped config name (ViT-B-16, ViT-B-32, ViT-L-14) or a JSON file")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--name", default=None, help="model name in the manifest (default: the config name)")
    p.add_argument("--templates", default=None, help="templates file to ship (default: the reference templates)")
    p.add_argument("--fp16", action="store_true", help="fp16 weights; graph inputs and outputs stay float32")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-init")
    p.add_argument("--no-fuse", action="store_true",
                   help="write the traced graphs as they are (default: ONNX Runtime's fused attention, skip-LayerNorm and bias-GELU ops, checked against them)")
    p.add_argument("--fixed-length", action="store_true",
                   help="text graphs that take all 77 token positions (the layout of bundles before the dynamic sequence axis)")
    p.add_argument("--int8-image", action="store_true",
                   help=f"quantize the image graph to int8 (method: --int8-method, default {DEFAULT_METHOD}, the measured winner); text graphs stay fp32")
    p.add_argument("--int8-method", choices=METHODS, default=None,
                   help="with --int8-image: static (QDQ, activation scales calibrated on in-distribution demo-world images) or dynamic (activations quantized per batch at run time)")
    p.add_argument("--int8-per-tensor", action="store_true", help="with --int8-image: one weight scale per matrix instead of per output channel")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_model_config(args.model_config)
    if args.random_init:
        torch.manual_seed(args.seed)
        model = CLIPN(cfg)
        checkpoint = None
    elif args.clip_checkpoint:
        model = load_clip_checkpoint(args.clip_checkpoint, cfg)
        checkpoint = None
    else:
        model = load_clipn_checkpoint(args.checkpoint, cfg)
        checkpoint = args.checkpoint
    if args.int8_image and args.fp16:
        raise ValueError("--int8-image quantizes an fp32 image graph: expected it without --fp16")
    if (args.int8_per_tensor or args.int8_method) and not args.int8_image:
        raise ValueError("--int8-per-tensor and --int8-method only apply with --int8-image")
    export_bundle(model, cfg, args.out, name=args.name or cfg.name, checkpoint_path=checkpoint, templates_path=args.templates, fp16=args.fp16,
                  fuse=not args.no_fuse, dynamic_length=not args.fixed_length)
    if args.int8_image:
        quantize_bundle_image(args.out, method=args.int8_method or DEFAULT_METHOD, per_channel=not args.int8_per_tensor)
    return 0
