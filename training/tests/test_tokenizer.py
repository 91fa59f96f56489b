import json

import open_clip
import pytest
from tokenizers import Tokenizer

from clipn_kernel.tokenizer import TOKENIZER_CORPUS, pre_normalize, tokenize, tokenizer_json


def frame(ids: list[int]) -> list[int]:
    if len(ids) > 77:
        ids = ids[:76] + [49407]
    return ids + [0] * (77 - len(ids))


@pytest.fixture(scope="module")
def hf() -> Tokenizer:
    return Tokenizer.from_str(json.dumps(tokenizer_json()))


def test_tokenizer_json_reproduces_open_clip_ids_on_the_corpus(hf):
    for text in TOKENIZER_CORPUS:
        assert frame(hf.encode(pre_normalize(text)).ids) == tokenize([text])[0].tolist(), text


# What ftfy.fix_text changes in well-formed text, each next to a neighbour it must leave alone.
FTFY_CASES = (
    "5\u2032 tall, 6\u2033 wide",  # primes stay (ftfy uncurls quotes only)
    "rock \u02bcn roll \u0149",  # modifier apostrophe straightened; the n-apostrophe ligature split
    "\ufeffbom at the start, a\x00b, del\x7fx, v\x0btab, file\x1csep, \u206aold-format",  # control characters removed
    "zero\u200bwidth and soft\xadhyphen",  # kept by ftfy
    "c1 \x93quoted\x94 \x85 \x80 \x81",  # C1 controls read as Windows-1252
    "\uff21\uff22\uff23 \uff08\u62ec\u5f27\uff09\u3001\uff2f\uff2b\uff01 ideo\u3000space \uff76\uff9e",  # full width to ASCII
    "\ufb05 long s, \ufb06 st, \u01c4 dz",  # ligatures as ftfy splits them
    "\x1b[31mred\x1b[0m text",  # terminal escapes removed
    "\u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3. \u03a3 A\u03a3 \u4e2d\u03a3 \u0391\u03a31",  # Greek final sigma
    "nbsp\xa0thin\u2009line\u2028ogham\u1680end",  # Unicode spaces collapse
    "A\uff21\u0301 combining after a full-width letter",  # NFC after the width fix
    "&amp;amp;amp; nested &amp;rsquo; entities",  # ftfy decodes until stable when there is no "<"
    "a &lt;b&gt; tag &amp;lt;i&amp;gt;",
)


@pytest.mark.parametrize("text", FTFY_CASES)
def test_tokenizer_json_follows_ftfy(hf, text):
    assert frame(hf.encode(pre_normalize(text)).ids) == tokenize([text])[0].tolist()


def test_ids_are_open_clip_ids():
    texts = list(TOKENIZER_CORPUS + FTFY_CASES)
    assert tokenize(texts).tolist() == open_clip.tokenize(texts).tolist()


def test_the_corpus_covers_the_hard_cases():
    ids = {t: tokenize([t])[0] for t in TOKENIZER_CORPUS}
    long = max(TOKENIZER_CORPUS, key=len)
    assert int((ids[long] != 0).sum()) == 77 and int(ids[long][-1]) == 49407  # truncated, end token kept
    assert any(ord(c) > 0x1F000 for t in TOKENIZER_CORPUS for c in t)  # emoji
    assert any("&amp;" in t for t in TOKENIZER_CORPUS)


def test_special_framing():
    ids = tokenize(["a dog"])[0].tolist()
    assert ids[0] == 49406 and ids[3] == 49407 and ids[4:] == [0] * 73
