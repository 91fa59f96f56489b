"""The demo world's captions against its class labels and the demo model's kept vocabulary."""

from __future__ import annotations

import re

from clipn_kernel.demo.train import demo_config_dict
from clipn_kernel.demo.train import TRAIN_CONCEPTS, TRAIN_CYCLE
from clipn_kernel.demo.world import AUX_SHAPES, COUNTS, DEMO_TEMPLATES, ID_SHAPES, OOD_SHAPES, samples
from clipn_kernel.tokenizer import tokenize

ALL_SHAPES = ID_SHAPES + OOD_SHAPES + AUX_SHAPES
WORD = re.compile(r"[a-z]+")


def _shape_words(caption: str) -> set[str]:
    """The shapes a caption names, singular or plural, matched as whole words."""
    words = set(WORD.findall(caption))
    return {s for s in ALL_SHAPES if s in words or s + "s" in words or s + "es" in words}


def test_every_caption_names_its_own_shape_and_no_other():
    for split in (ID_SHAPES, OOD_SHAPES, AUX_SHAPES):
        for sample in samples(11, split, 600):
            assert _shape_words(sample.caption) == {sample.shape}, sample.caption


def test_count_words_agree_with_the_noun_number():
    seen = set()
    for sample in samples(12, ID_SHAPES, 900):
        words = WORD.findall(sample.caption)
        counts = [w for w in words if w in COUNTS]
        if not counts:
            continue
        seen.add(counts[0])
        plural = sample.shape not in words
        assert plural == (counts[0] != "one"), sample.caption
    assert seen == set(COUNTS)


def test_the_kept_vocabulary_covers_every_caption_and_every_head_text():
    # An id outside the subset would share the one unknown embedding row and lose its meaning.
    kept = set(demo_config_dict()["text_cfg"]["vocab_subset"])
    captions = [s.caption for s in samples(13, ALL_SHAPES, 900)]
    heads = [t.format(shape) for t in DEMO_TEMPLATES for shape in ALL_SHAPES]
    for texts in (captions, heads):
        ids = tokenize(texts)
        missing = {int(i) for i in ids.flatten().tolist()} - kept - {0}
        assert not missing, sorted(missing)


def test_the_vocabulary_check_sees_a_word_outside_the_world():
    kept = set(demo_config_dict()["text_cfg"]["vocab_subset"])
    ids = {int(i) for i in tokenize(["a photo of a giraffe"]).flatten().tolist()} - {0}
    assert ids - kept, "a word the world never uses must fall outside the kept ids"


def test_auxiliary_shapes_are_trained_but_never_labels_or_ood():
    assert set(AUX_SHAPES).isdisjoint(ID_SHAPES) and set(AUX_SHAPES).isdisjoint(OOD_SHAPES)
    assert set(TRAIN_CYCLE) == set(TRAIN_CONCEPTS) == set(ID_SHAPES) | set(AUX_SHAPES)
    # ID shapes are drawn more often than auxiliary ones: the label set's concepts get most of the data.
    assert all(TRAIN_CYCLE.count(s) > TRAIN_CYCLE.count(a) for s in ID_SHAPES for a in AUX_SHAPES)


def test_every_auxiliary_shape_renders_something_distinct():
    import random

    import numpy as np

    from clipn_kernel.demo.world import render

    for shape in AUX_SHAPES:
        img = np.asarray(render(random.Random(5), shape).image, dtype=np.int16)
        bg = np.asarray(render(random.Random(5), "circle").image, dtype=np.int16)
        # Same RNG stream: same colour, background and position; only the outline differs.
        assert np.abs(img - bg).sum() > 0, shape
