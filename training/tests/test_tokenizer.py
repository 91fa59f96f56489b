import json

from tokenizers import Tokenizer

from clipn_kernel.tokenizer import TOKENIZER_CORPUS, pre_normalize, tokenize, tokenizer_json


def frame(ids: list[int]) -> list[int]:
    if len(ids) > 77:
        ids = ids[:76] + [49407]
    return ids + [0] * (77 - len(ids))


def test_tokenizer_json_reproduces_open_clip_ids_on_the_corpus():
    hf = Tokenizer.from_str(json.dumps(tokenizer_json()))
    for text in TOKENIZER_CORPUS:
        assert frame(hf.encode(pre_normalize(text)).ids) == tokenize([text])[0].tolist(), text


def test_the_corpus_covers_the_hard_cases():
    ids = {t: tokenize([t])[0] for t in TOKENIZER_CORPUS}
    long = max(TOKENIZER_CORPUS, key=len)
    assert int((ids[long] != 0).sum()) == 77 and int(ids[long][-1]) == 49407  # truncated, end token kept
    assert any(ord(c) > 0x1F000 for t in TOKENIZER_CORPUS for c in t)  # emoji
    assert any("&amp;" in t for t in TOKENIZER_CORPUS)


def test_special_framing():
    ids = tokenize(["a dog"])[0].tolist()
    assert ids[0] == 49406 and ids[3] == 49407 and ids[4:] == [0] * 73
