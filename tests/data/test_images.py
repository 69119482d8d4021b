"""User images → MNIST-style 28×28: what each step of to_mnist guarantees."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from chainrule.data.images import (
    STEP_NAMES,
    ImageError,
    decode_image,
    load_image,
    to_mnist,
)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    values = image.astype(np.float64)
    rows, cols = np.indices(values.shape)
    return (rows * values).sum() / values.sum(), (cols * values).sum() / values.sum()


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the nonzero pixels' bounding box."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def paper_digit(
    size=(240, 300), paper=230, ink=20, box=(60, 40, 140, 200), width=14, noise=0.0, seed=0
) -> np.ndarray:
    """A ring ("0") drawn in dark ink on light paper, off-centre, as a uint8 grey array."""
    image = Image.new("L", size, paper)
    ImageDraw.Draw(image).ellipse(box, outline=ink, width=width)
    values = np.asarray(image, dtype=np.float64)
    if noise:
        values = values + np.random.default_rng(seed).normal(0, noise, values.shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def test_a_dark_digit_on_light_paper_becomes_white_on_black_in_a_20px_box_centred_by_mass():
    digit = to_mnist(paper_digit())
    assert digit.dtype == np.uint8 and digit.shape == (28, 28)
    assert digit.max() == 255 and digit[0].max() == 0 and digit[:, 0].max() == 0  # paper → 0
    height, width = ink_box(digit)
    assert height == 20  # the longer side (the ring is 160 tall, 80 wide)
    assert 9 <= width <= 12  # aspect ratio kept
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 0.52 and abs(col - 14) <= 0.52  # a rounded shift


def test_light_ink_on_dark_paper_is_not_inverted():
    dark_on_light = to_mnist(paper_digit(paper=230, ink=20))
    light_on_dark = to_mnist(paper_digit(paper=20, ink=230))
    np.testing.assert_allclose(light_on_dark, dark_on_light, atol=2)


def test_grey_paper_with_noise_and_a_lighting_gradient_leaves_no_background():
    clean, clean_steps = to_mnist(paper_digit(), return_steps=True)
    page = paper_digit(paper=160, ink=40, noise=12.0).astype(np.float64)
    page += np.linspace(-30, 30, page.shape[1])[None, :]  # light from one side
    noisy, noisy_steps = to_mnist(np.clip(page, 0, 255).astype(np.uint8), return_steps=True)
    assert ink_box(noisy) == ink_box(clean)  # noise pixels did not stretch the crop
    # (the centred images may sit a pixel apart: the rounded centre of mass moved)
    difference = noisy_steps["scaled"].astype(int) - clean_steps["scaled"].astype(int)
    assert np.abs(difference).mean() < 8
    row, col = centre_of_mass(noisy)
    assert abs(row - 14) <= 0.52 and abs(col - 14) <= 0.52  # a rounded shift
    assert np.count_nonzero(noisy) < 1.3 * np.count_nonzero(clean)  # no speckles added


def test_transparency_is_composited_onto_white_paper():
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)  # transparent "black"
    rgba[40:160, 90:110] = (0, 0, 0, 255)  # an opaque bar: a "1"
    digit = to_mnist(Image.fromarray(rgba, "RGBA"))
    height, width = ink_box(digit)
    assert height == 20 and width <= 5


def test_colour_images_and_float_arrays_are_read_as_their_luminance():
    grey = paper_digit()
    blue_ink = np.stack([grey, grey, np.full_like(grey, 230)], axis=-1)  # ink shows blue
    np.testing.assert_allclose(to_mnist(blue_ink), to_mnist(grey), atol=3)
    np.testing.assert_array_equal(to_mnist(grey / 255.0), to_mnist(grey))


def test_an_mnist_digit_comes_back_nearly_unchanged(shared_data):
    from chainrule.data import load_split

    images, _ = load_split("mnist", "test", data_dir=shared_data, download=False)
    for original in images[:20]:
        again = to_mnist(original).astype(np.float64)
        correlation = np.corrcoef(again.ravel(), original.astype(np.float64).ravel())[0, 1]
        assert correlation > 0.9


def test_steps_are_returned_in_order_for_the_explain_figure():
    digit, steps = to_mnist(paper_digit(), return_steps=True)
    assert tuple(steps) == STEP_NAMES
    assert steps["original"].shape == (300, 240, 3)
    assert steps["grey"].shape == steps["inverted"].shape == (300, 240)
    assert max(steps["scaled"].shape) == 20
    np.testing.assert_array_equal(steps["centred"], digit)
    assert all(step.dtype == np.uint8 for step in steps.values())


def test_huge_images_are_reduced_first():
    page = np.asarray(Image.fromarray(paper_digit()).resize((2400, 3000)))
    digit, steps = to_mnist(page, return_steps=True)
    assert max(steps["original"].shape) == 1024
    assert ink_box(digit)[0] == 20


@pytest.mark.parametrize(
    "image",
    [
        np.full((100, 100), 255, np.uint8),  # white paper
        np.full((50, 80), 128, np.uint8),  # grey paper
        np.clip(np.random.default_rng(0).normal(200, 10, (120, 120)), 0, 255).astype(np.uint8),
    ],
    ids=["white", "grey", "noise"],
)
def test_a_blank_image_says_no_ink(image):
    with pytest.raises(ImageError, match="no ink found"):
        to_mnist(image)


def test_an_empty_or_misshapen_array_is_an_error():
    with pytest.raises(ImageError, match="empty"):
        to_mnist(np.zeros((0, 10), np.uint8))
    with pytest.raises(ImageError, match=r"\(h, w\)"):
        to_mnist(np.zeros((4, 4, 4, 4), np.uint8))
    with pytest.raises(TypeError, match="PIL.Image or a NumPy array"):
        to_mnist("digit.png")


@pytest.mark.parametrize("suffix", ["png", "jpg", "bmp"])
def test_load_image_reads_common_formats(tmp_path, suffix):
    path = tmp_path / f"digit.{suffix}"
    Image.fromarray(paper_digit()).convert("RGB").save(path)
    image = load_image(path)
    assert image.size == (240, 300)
    assert ink_box(to_mnist(image))[0] == 20


def test_palette_and_16_bit_images(tmp_path):
    grey = paper_digit()
    Image.fromarray(grey).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    expected = to_mnist(grey)
    for name in ("palette.png", "deep.png"):
        np.testing.assert_allclose(to_mnist(load_image(tmp_path / name)), expected, atol=2)


def test_unreadable_files_name_the_file(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png: not an image Pillow can read") as error:
        load_image(text)
    assert error.value.path == str(text) and error.value.reason.startswith("not an image")
    truncated = tmp_path / "cut.png"
    Image.fromarray(paper_digit()).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ImageError, match=r"cut\.png: unreadable"):
        load_image(truncated)
    with pytest.raises(ImageError, match=r"missing\.png: file not found"):
        load_image(tmp_path / "missing.png")


def test_decode_image_reads_bytes_and_rejects_junk():
    import io

    buffer = io.BytesIO()
    Image.fromarray(paper_digit()).save(buffer, "PNG")
    assert decode_image(buffer.getvalue()).size == (240, 300)
    with pytest.raises(ImageError, match="0 bytes"):
        decode_image(b"")
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"hello")


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` grey pixels and holds none: its signature,
    IHDR and IEND. Opening it reads the size; decoding it would fail (no IDAT)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("width", "height", "megapixels"),
    [(10_000, 10_000, 100), (16_000, 11_000, 176), (20_000, 10_000, 200)],
    ids=["100 Mpx", "176 Mpx (Pillow only warns)", "200 Mpx (Pillow refuses)"],
)
def test_an_image_over_the_pixel_cap_is_refused_from_its_header(
    tmp_path, width, height, megapixels
):
    import warnings

    from chainrule.data.images import MAX_PIXELS

    data = png_header(width, height)
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak
        with pytest.raises(ImageError) as from_file:
            load_image(path)
        with pytest.raises(ImageError) as from_upload:
            decode_image(data)
    assert str(from_file.value).startswith(f"{path}: too large: ")
    for error in (from_file.value, from_upload.value):
        assert f"{megapixels} megapixels" in error.reason
        assert f"at most {MAX_PIXELS // 1_000_000} megapixels" in error.reason
        assert "\n" not in error.reason


def test_the_pixel_cap_lets_a_phone_photo_through_and_bounds_images_passed_in(monkeypatch):
    from chainrule.data import images

    assert images.MAX_PIXELS >= 50_000_000  # the largest common phone photos pass
    monkeypatch.setattr(images, "MAX_PIXELS", 240 * 300)
    to_mnist(paper_digit())  # exactly at the cap: fine
    with pytest.raises(ImageError, match=r"too large: 241×300 pixels"):
        to_mnist(paper_digit(size=(241, 300)))
    with pytest.raises(ImageError, match=r"too large: 300×241 pixels"):
        to_mnist(Image.new("1", (300, 241)))  # a PIL image is bounded before any conversion
