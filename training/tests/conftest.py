from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from clipn_kernel.model import CLIPN, parse_model_config

REPO = Path(__file__).resolve().parents[2]

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 48, "heads": 4, "layers": 2},
}


@pytest.fixture()
def tiny_cfg():
    return parse_model_config(json.loads(json.dumps(TINY)), name="tiny")


@pytest.fixture()
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    model = CLIPN(tiny_cfg).eval()
    with torch.no_grad():
        model.prompt_no.normal_(std=0.05)  # non-zero prompts so the no tower differs from zero-prompt runs
    return model


@pytest.fixture()
def tiny_config_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path
