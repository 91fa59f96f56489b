"""`python -m clipn_kernel demo images|build`: what the commands write and the arguments they refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipn_kernel.cli import build_parser, main
from clipn_kernel.demo.build import build
from clipn_kernel.demo.world import ID_SHAPES, OOD_SHAPES, samples


def _folder_images(root: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.png")) for d in sorted(root.iterdir()) if d.is_dir()}


@pytest.mark.parametrize(("split", "shapes"), [("id", ID_SHAPES), ("ood", OOD_SHAPES)])
def test_images_writes_n_pngs_per_shape_of_its_split_equal_to_the_world(tmp_path, split, shapes):
    out = tmp_path / split
    assert main(["demo", "images", "--out", str(out), "--split", split, "--n", "3", "--seed", "5", "--size", "48"]) == 0
    written = _folder_images(out)
    assert sorted(written) == sorted(shapes)
    assert all(len(files) == 3 for files in written.values())
    # The files are the world's own samples for that seed, in order, losslessly.
    expected: dict[str, list[np.ndarray]] = {s: [] for s in shapes}
    for sample in samples(5, shapes, 3 * len(shapes), 48):
        expected[sample.shape].append(np.asarray(sample.image))
    for shape, files in written.items():
        for path, pixels in zip(files, expected[shape]):
            with Image.open(path) as image:
                assert image.size == (48, 48) and image.mode == "RGB"
                assert np.array_equal(np.asarray(image), pixels), path


def test_images_is_deterministic_from_its_seed(tmp_path):
    for name, seed in (("a", 9), ("b", 9), ("c", 10)):
        assert main(["demo", "images", "--out", str(tmp_path / name), "--n", "2", "--seed", str(seed)]) == 0

    def pixels(name: str) -> list[bytes]:
        return [np.asarray(Image.open(p)).tobytes() for files in _folder_images(tmp_path / name).values() for p in files]

    assert pixels("a") == pixels("b")
    assert pixels("a") != pixels("c")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n: expected an integer >= 1, got 0"),
        (["--n", "-2"], "--n: expected an integer >= 1, got -2"),
        (["--n", "many"], "--n: expected an integer, got 'many'"),
        (["--size", "0"], "--size: expected an integer >= 16, got 0"),
        (["--size", "-5"], "--size: expected an integer >= 16, got -5"),
        (["--split", "both"], "--split: invalid choice: 'both'"),
    ],
)
def test_images_refuses_bad_arguments_before_writing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(["demo", "images", "--out", str(out), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_build_is_registered_with_the_documented_defaults():
    args = build_parser().parse_args(["demo", "build", "--out", "models/demo", "--seed", "0"])
    assert (args.command, args.demo_command, args.out, args.seed) == ("demo", "build", "models/demo", 0)
    assert args.train_images > 0 and args.clip_epochs > 0 and args.clipn_epochs > 0


@pytest.mark.parametrize(("flag", "value"), [("--train-images", "0"), ("--clip-epochs", "-1"), ("--clipn-epochs", "-3")])
def test_build_refuses_bad_counts(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "build", "--out", str(tmp_path / "out"), "--heldout", str(tmp_path / "heldout"), flag, value])
    assert exc.value.code == 2
    assert f"{flag}: expected an integer >=" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_build_refuses_fewer_training_images_than_one_batch_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"expected at least 256 training images \(one batch\), got 100"):
        build(tmp_path / "out", tmp_path / "heldout", n_train=100, batch=256, log=lambda _line: None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "heldout").exists()
    # Through the command line the same refusal is an error line and exit status 2.
    assert main(["demo", "build", "--out", str(tmp_path / "out"), "--heldout", str(tmp_path / "heldout"), "--train-images", "100"]) == 2
