"""CLIP's byte-level BPE: ids from open_clip's own tokenizer, and a tokenizer.json for the runtime.

open_clip is the source of truth. The runtime loads tokenizer.json (the Hugging Face
`tokenizers` format) with a maintained library; this module writes that file from open_clip's
vocabulary and merges, and docs/tokenizer.md lists the one step the JSON cannot express
(HTML entity decoding), which the runtime applies before tokenizing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from open_clip.tokenizer import SimpleTokenizer

CONTEXT_LENGTH = 77
SOT_TOKEN = "<start_of_text>"
EOT_TOKEN = "<end_of_text>"

_tokenizer: SimpleTokenizer | None = None


def simple_tokenizer() -> SimpleTokenizer:
    """open_clip's tokenizer (vocabulary shipped inside the open_clip package: no download)."""
    global _tokenizer  # a cache of an immutable object, built once per process
    if _tokenizer is None:
        _tokenizer = SimpleTokenizer()
    return _tokenizer


def tokenize(texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """[N, context_length] int64 ids: SOT, BPE ids (truncated), EOT, zero padding; EOT kept last when truncated."""
    tok = simple_tokenizer()
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = [tok.sot_token_id, *tok.encode(text), tok.eot_token_id]
        if len(ids) > context_length:
            ids = ids[:context_length]
            ids[-1] = tok.eot_token_id
        out[row, : len(ids)] = torch.tensor(ids)
    return out


# ftfy.fix_text (applied by open_clip) straightens curly quotes and splits Latin ligatures; the
# JSON reproduces those two fixes with Replace normalizers.
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u01c7": "LJ", "\u01c8": "Lj", "\u01c9": "lj", "\u01ca": "NJ", "\u01cb": "Nj", "\u01cc": "nj"}


def tokenizer_json() -> dict[str, Any]:
    """The CLIP tokenizer in the Hugging Face `tokenizers` JSON format, ids identical to open_clip."""
    tok = simple_tokenizer()
    vocab = dict(tok.encoder)
    merges = [f"{a} {b}" for (a, b), _ in sorted(tok.bpe_ranks.items(), key=lambda kv: kv[1])]
    replaces = [
        {"type": "Replace", "pattern": {"String": src}, "content": dst} for src, dst in {**_QUOTES, **_LIGATURES}.items()
    ]
    special = [
        {"id": tok.sot_token_id, "content": SOT_TOKEN, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
        {"id": tok.eot_token_id, "content": EOT_TOKEN, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": special,
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "NFC"},
                *replaces,
                {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
                {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Lowercase"},
            ],
        },
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"},
                    "behavior": "Removed",
                    "invert": True,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": SOT_TOKEN, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": EOT_TOKEN, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": SOT_TOKEN, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": EOT_TOKEN, "type_id": 0}}],
            "special_tokens": {
                SOT_TOKEN: {"id": SOT_TOKEN, "ids": [tok.sot_token_id], "tokens": [SOT_TOKEN]},
                EOT_TOKEN: {"id": EOT_TOKEN, "ids": [tok.eot_token_id], "tokens": [EOT_TOKEN]},
            },
        },
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}, {"type": "Replace", "pattern": {"String": "</w>"}, "content": " "}]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "</w>",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def write_tokenizer_json(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(tokenizer_json(), ensure_ascii=False))
    return path


def pre_normalize(text: str) -> str:
    """What the runtime applies before tokenizer.json: HTML entities decoded twice (as open_clip does)."""
    import html

    return html.unescape(html.unescape(text))


# A corpus that exercises the tricky parts; the goldens record its ids for the runtime.
TOKENIZER_CORPUS: tuple[str, ...] = (
    "a photo of a dog.",
    "A PHOTO of   many   CATS!!",
    "'a bad photo of a {}.'",
    "don't stop: it's John's car, we'll see; they'd've",
    "naïve café résumé Ångström",
    "日本語のテキスト and 中文",
    "emoji 🐶🐱 party 🎉 done 👍🏽",
    "“curly quotes” and ‘single’ ones",
    "ﬁne ligatures ﬂow",
    "fish &amp; chips &lt;3 &quot;quoted&quot;",
    "tabs\tand\nnewlines\r\nmixed",
    "numbers 12345 and 3.14159 and 1,000,000",
    "punctuation... ?!?! (parens) [brackets] {braces} #hash @at $dollar %percent",
    "  leading and trailing spaces  ",
    "",
    " ".join(["a very long caption that goes on and on"] * 20),
    "<start_of_text> literal special tokens <end_of_text>",
)
