import open_clip
import pytest
import torch

from clipn_kernel.model import CLIPN, ConfigError, load_model_config, parse_model_config


def test_matches_open_clip_outputs_with_the_same_weights():
    torch.manual_seed(0)
    reference = open_clip.create_model("ViT-B-32").eval()
    cfg = load_model_config("ViT-B-32")
    model = CLIPN(cfg).eval()
    missing, unexpected = model.load_state_dict(reference.state_dict(), strict=False)
    assert unexpected == []
    assert all("_no" in k for k in missing)
    pixels = torch.randn(2, 3, 224, 224)
    ids = open_clip.tokenize(["a photo of a dog", "an emoji 🐶 and unicode café"])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(pixels), reference.encode_image(pixels), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model.encode_text(ids), reference.encode_text(ids), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["ViT-B-16", "ViT-B-32", "ViT-L-14"])
def test_parameter_names_are_open_clip_names_plus_the_no_tower(name):
    with torch.device("meta"):
        ours = CLIPN(load_model_config(name)).state_dict()
        theirs = open_clip.create_model(name, device="meta").state_dict()
    yes = {k: tuple(v.shape) for k, v in ours.items() if "_no" not in k}
    assert yes == {k: tuple(v.shape) for k, v in theirs.items()}
    no = sorted(k for k in ours if "_no" in k)
    assert "prompt_no" in no and "text_projection_no" in no and "token_embedding_no.weight" in no
    assert tuple(ours["prompt_no"].shape) == (16, 77, load_model_config(name).text.width)


def test_no_tower_starts_as_a_copy_with_zero_prompts(tiny_model):
    tiny_model.init_no_tower_from_yes()
    ids = open_clip.tokenize(["a circle", "two red stars"])
    with torch.no_grad():
        torch.testing.assert_close(tiny_model.encode_text_no(ids), tiny_model.encode_text(ids))
    assert torch.count_nonzero(tiny_model.prompt_no) == 0


def test_inference_uses_the_mean_prompt_and_training_samples_one_of_17(tiny_model):
    ids = open_clip.tokenize(["a circle"] * 64)
    with torch.no_grad():
        torch.testing.assert_close(tiny_model.encode_text_no(ids[:1]), tiny_model.encode_text_no(ids[:1], tiny_model.mean_prompt()))
        tiny_model.train()
        tiny_model.prompt_generator = torch.Generator().manual_seed(1)
        out = tiny_model.encode_text_no(ids)
    distinct = torch.unique(out.round(decimals=5), dim=0)
    assert 2 <= distinct.shape[0] <= 17


def test_trailing_padding_can_be_cut_without_changing_the_result(tiny_model):
    ids = open_clip.tokenize(["a small blue ring"])
    length = int((ids != 0).sum())
    with torch.no_grad():
        torch.testing.assert_close(tiny_model.encode_text(ids[:, :length]), tiny_model.encode_text(ids))
        torch.testing.assert_close(tiny_model.encode_text_no(ids[:, :length]), tiny_model.encode_text_no(ids))


def test_only_no_parameters_train(tiny_model):
    tiny_model.freeze_for_clipn()
    trainable = {n for n, p in tiny_model.named_parameters() if p.requires_grad}
    assert trainable and all("_no" in n for n in trainable)


def test_bad_configs_are_refused():
    with pytest.raises(ConfigError, match="vision_cfg"):
        parse_model_config({"embed_dim": 8, "text_cfg": {}})
    with pytest.raises(ConfigError, match="ResNet"):
        parse_model_config({"embed_dim": 8, "vision_cfg": {"layers": [3, 4, 6, 3]}, "text_cfg": {}})
    with pytest.raises(ConfigError, match="unknown model config"):
        load_model_config("ViT-Z-99")
    text = {"vocab_size": 100}
    for subset in ([], [5, 5], [-1, 3], [3, 100]):
        with pytest.raises(ConfigError, match="vocab_subset"):
            parse_model_config({"embed_dim": 8, "vision_cfg": {}, "text_cfg": {**text, "vocab_subset": subset}})


def test_a_vocab_subset_keeps_the_rest_of_the_model_and_maps_other_ids_to_one_row():
    raw = {"embed_dim": 16, "vision_cfg": {"image_size": 16, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
           "text_cfg": {"width": 32, "heads": 2, "layers": 1, "vocab_subset": [49407, 320, 49406]}}
    model = CLIPN(parse_model_config(raw)).eval()
    state = model.state_dict()
    assert tuple(state["token_embedding.weight"].shape) == (4, 32) and tuple(state["token_embedding_no.weight"].shape) == (4, 32)
    assert not any("id_map" in k for k in state)  # derived from the config, not saved
    emb = model.token_embedding
    ids = torch.tensor([[320, 49406, 49407, 1000, 7]])
    torch.testing.assert_close(emb(ids)[0], emb.weight[[0, 1, 2, 3, 3]])
