"""`tokenize`: print open_clip token ids for texts (one JSON line each)."""

from __future__ import annotations

import argparse
import json

from ..tokenizer import tokenize


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenize", help="print CLIP token ids for texts")
    p.add_argument("texts", nargs="+")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for text, ids in zip(args.texts, tokenize(args.texts).tolist()):
        print(json.dumps({"text": text, "ids": ids}, ensure_ascii=False))
    return 0
