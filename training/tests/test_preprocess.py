import io

import numpy as np
import pytest
from PIL import Image

from clipn_kernel.preprocess import preprocess, preprocess_file, resize_crop, to_rgb


def striped(width: int, height: int) -> Image.Image:
    """Row y is grey level 10*y, so a crop's first row tells its top offset."""
    rows = np.repeat((np.arange(height, dtype=np.uint8) * 10)[:, None], width, axis=1)
    return Image.fromarray(rows).convert("RGB")


@pytest.mark.parametrize(("height", "top"), [(9, 2), (11, 4), (7, 2), (6, 1)])
def test_centre_crop_offset_is_python_round_half_to_even(height, top):
    # No resize (short side already 4): offsets round((h - 4) / 2): 2.5 -> 2, 3.5 -> 4, 1.5 -> 2, 1.0 -> 1.
    crop = np.asarray(resize_crop(striped(4, height), 4))
    assert crop.shape == (4, 4, 3)
    assert crop[0, 0, 0] == 10 * top and crop[3, 0, 0] == 10 * (top + 3)


def test_shortest_side_is_resized_and_the_long_side_floored(monkeypatch):
    image = Image.fromarray(np.zeros((7, 3, 3), np.uint8))  # 3 wide, 7 high
    seen = []
    original = Image.Image.resize

    def spy(self, size, *args, **kwargs):
        seen.append((tuple(size), args, kwargs))
        return original(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    assert resize_crop(image, 4).size == (4, 4)
    # 4 * 7 / 3 = 9.33 -> 9 (floor), bicubic.
    assert seen[0][0] == (4, 9)
    assert Image.Resampling.BICUBIC in seen[0][1] or seen[0][2].get("resample") == Image.Resampling.BICUBIC


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (2, 1))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((1, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: the left pixel goes to the top
    buf = io.BytesIO()
    image.save(buf, format="PNG", exif=exif.tobytes())
    buf.seek(0)
    with Image.open(buf) as loaded:
        shown = np.asarray(to_rgb(loaded))
    assert shown.shape == (2, 1, 3)
    assert tuple(shown[0, 0]) == (255, 0, 0) and tuple(shown[1, 0]) == (0, 0, 255)


def test_alpha_is_composited_over_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 128))
    out = np.asarray(to_rgb(rgba)).astype(int)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert all(abs(v - 127) <= 1 for v in out[0, 1])  # 255 * (1 - 128/255)


def test_a_png_colour_key_counts_as_transparent():
    rgb = Image.new("RGB", (2, 1), (10, 20, 30))
    rgb.putpixel((0, 0), (1, 2, 3))
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", transparency=(1, 2, 3))
    buf.seek(0)
    with Image.open(buf) as loaded:
        out = np.asarray(to_rgb(loaded))
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[0, 1]) == (10, 20, 30)


def test_sixteen_bit_grayscale_keeps_its_high_byte():
    values = np.array([[0, 255, 256, 32768, 65535]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format="PNG")
    buf.seek(0)
    with Image.open(buf) as loaded:
        assert loaded.mode.startswith("I")
        out = np.asarray(to_rgb(loaded))
    assert out[0, :, 0].tolist() == [0, 0, 1, 128, 255]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_grayscale_becomes_three_equal_channels():
    out = np.asarray(to_rgb(Image.new("L", (3, 3), 77)))
    assert out.shape == (3, 3, 3) and (out == 77).all()


def test_output_is_normalised_nchw_float32(tmp_path):
    Image.new("RGB", (5, 8), (255, 0, 255)).save(tmp_path / "m.png")
    x = preprocess_file(tmp_path / "m.png", 4)
    assert x.shape == (3, 4, 4) and x.dtype == np.float32
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    want = [(1 - mean[0]) / std[0], (0 - mean[1]) / std[1], (1 - mean[2]) / std[2]]
    for c in range(3):
        np.testing.assert_allclose(x[c], want[c], rtol=1e-6)


def test_custom_mean_and_std():
    x = preprocess(Image.new("RGB", (2, 2), (51, 102, 153)), 2, mean=(0.0, 0.0, 0.0), std=(0.5, 0.5, 0.5))
    np.testing.assert_allclose(x[:, 0, 0], [0.4, 0.8, 1.2], rtol=1e-6)
