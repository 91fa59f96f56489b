import json

from clipn_kernel.cli import build_parser, main
from clipn_kernel.tokenizer import tokenize


def test_commands_register_themselves():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert {"export", "tokenize", "goldens"} <= set(choices)


def test_tokenize_prints_open_clip_ids(capsys):
    assert main(["tokenize", "a dog", "Café!"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"text": t, "ids": tokenize([t])[0].tolist()} for t in ("a dog", "Café!")]


def test_random_init_export_is_reproducible_from_its_seed(tiny_config_file, tmp_path, capsys):
    versions = []
    for run, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        out = tmp_path / run
        assert main(["export", "--random-init", "--seed", seed, "--model-config", str(tiny_config_file), "--out", str(out), "--name", "tiny"]) == 0
        versions.append(json.loads((out / "manifest.json").read_text())["modelVersion"])
    assert versions[0] == versions[1] != versions[2] and versions[0].startswith("tiny@")
    assert "[6/6] manifest" in capsys.readouterr().out


def test_a_missing_config_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert main(["export", "--random-init", "--model-config", str(missing), "--out", str(tmp_path / "b")]) == 2
    assert str(missing) in capsys.readouterr().err
