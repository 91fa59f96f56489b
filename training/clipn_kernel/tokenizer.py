"""CLIP's byte-level BPE: ids from open_clip's own tokenizer, and a tokenizer.json for the runtime.

open_clip is the source of truth. The runtime loads tokenizer.json (the Hugging Face
`tokenizers` format) with a maintained library; this module writes that file from open_clip's
vocabulary and merges, and docs/tokenizer.md lists the step the JSON cannot express (HTML
entity decoding, `pre_normalize`), which the runtime applies before tokenizing.
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


def _regex_class(chars: set[str]) -> str:
    """A regex character class of \\uHHHH escapes: the same in Oniguruma, Rust and JavaScript."""
    return "[" + "".join(f"\\u{ord(c):04x}" for c in sorted(chars)) + "]"


def ftfy_normalizers() -> list[dict[str, Any]]:
    """The ftfy.fix_text steps that change well-formed text, as `tokenizers` normalizers, in ftfy's order.

    Tables come from the pinned ftfy itself, so they cannot drift from what open_clip applies.
    Not expressible (docs/tokenizer.md): mojibake repair (fix_encoding) and HTML unescaping.
    """
    import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-1252 codec)
    from ftfy import chardata

    def replace(src: str, dst: str) -> dict[str, Any]:
        return {"type": "Replace", "pattern": {"String": src}, "content": dst}

    c1 = {chr(b): bytes([b]).decode("sloppy-windows-1252") for b in range(0x80, 0xA0)}
    steps = [replace(src, dst) for src, dst in c1.items() if src != dst]
    steps += [replace(chr(src), dst) for src, dst in sorted(chardata.LIGATURES.items())]
    steps += [replace(chr(src), dst) for src, dst in sorted(chardata.WIDTH_MAP.items())]
    steps.append({"type": "Replace", "pattern": {"Regex": chardata.SINGLE_QUOTE_RE.pattern}, "content": "'"})
    steps.append({"type": "Replace", "pattern": {"Regex": chardata.DOUBLE_QUOTE_RE.pattern}, "content": '"'})
    steps.append({"type": "Replace", "pattern": {"Regex": r"\u001b\[[0-9;]*[a-zA-Z]"}, "content": ""})  # terminal escapes
    steps.append({"type": "Replace", "pattern": {"Regex": _regex_class({chr(c) for c in chardata.CONTROL_CHARS})}, "content": ""})
    return steps


# Python's str.isspace() set (open_clip's `\s+`) less what the ftfy steps already removed or mapped
# (\x0b, \x1c-\x1f, \x85); spelled out because `\s` differs between the Rust and JavaScript engines.
_WHITESPACE = _regex_class({chr(c) for c in (0x09, 0x0A, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)}) + "+"

# Python's rule, less its skipping of case-ignorable characters (apostrophes, combining marks) on either side.
_FINAL_SIGMA = r"(?<=[\p{Lu}\p{Ll}\p{Lt}])\u03a3(?![\p{Lu}\p{Ll}\p{Lt}])"


def tokenizer_json() -> dict[str, Any]:
    """The CLIP tokenizer in the Hugging Face `tokenizers` JSON format, ids identical to open_clip."""
    tok = simple_tokenizer()
    vocab = dict(tok.encoder)
    merges = [f"{a} {b}" for (a, b), _ in sorted(tok.bpe_ranks.items(), key=lambda kv: kv[1])]
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
                *ftfy_normalizers(),
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": _WHITESPACE}, "content": " "},
                {"type": "Strip", "strip_left": True, "strip_right": True},
                # Python's lower() writes a word-final capital sigma as final sigma; Lowercase maps per character.
                {"type": "Replace", "pattern": {"Regex": _FINAL_SIGMA}, "content": "\u03c2"},
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
    """What the runtime applies before tokenizer.json: HTML entity decoding, as open_clip ends up doing it.

    ftfy.fix_text decodes entities again and again until nothing changes, but only when the raw
    text has no "<"; open_clip then calls html.unescape twice more.
    """
    import html

    if "<" not in text:
        while (decoded := html.unescape(text)) != text:
            text = decoded
        return text
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
