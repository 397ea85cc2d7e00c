"""Image preprocessing (the training data's code path) and PNG grids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vae_edge.errors import OutputError
from vae_edge.mnist import IMAGE_FILES, find_idx_file, load_split, read_idx
from vae_edge.runtime import preprocess, save_grid


@pytest.fixture(scope="module")
def raw_digits(mnist_dir) -> np.ndarray:
    """The first 20 MNIST test images, uint8 [20, 28, 28]."""
    return read_idx(find_idx_file(mnist_dir, IMAGE_FILES["test"]))[:20]


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, raw_digits):
    folder = tmp_path_factory.mktemp("digits")
    paths = [folder / f"digit{index}.png" for index in range(len(raw_digits))]
    for path, image in zip(paths, raw_digits, strict=True):
        Image.fromarray(image).save(path)
    return paths


def test_preprocess_of_png_files_equals_the_training_data(digit_files, mnist_dir):
    expected = load_split(mnist_dir, "test")[:20]
    actual = np.stack([preprocess(path) for path in digit_files])
    assert actual.dtype == np.float32 and actual.shape == (20, 196)
    assert np.array_equal(actual, expected)
    assert np.array_equal(preprocess(str(digit_files[0])), expected[0])


def test_rgb_rgba_palette_and_float_inputs_give_the_same_result(raw_digits):
    digit = raw_digits[0]
    expected = preprocess(digit)
    rgb = np.repeat(digit[:, :, None], 3, axis=2)
    rgba = np.concatenate([rgb, np.full((28, 28, 1), 255, np.uint8)], axis=2)
    for variant in (
        rgb,
        rgba,
        digit[:, :, None],
        Image.fromarray(rgb),
        Image.fromarray(rgba),
        Image.fromarray(digit).convert("P"),
        digit / 255.0,
        digit.astype(np.int64),
    ):
        assert np.array_equal(preprocess(variant), expected)


def test_invert_takes_dark_digits_on_a_light_background(raw_digits):
    for digit in raw_digits[:5]:
        assert np.array_equal(preprocess(255 - digit, invert=True), preprocess(digit))


def test_transparent_background_counts_as_background(raw_digits):
    """A digit drawn only in the alpha channel, in black or white ink on nothing."""
    digit = raw_digits[1]
    expected = preprocess(digit)
    for ink, invert in ((255, False), (0, True)):
        rgba = np.zeros((28, 28, 4), np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = digit
        assert np.array_equal(preprocess(rgba, invert=invert), expected)


def test_sixteen_bit_png_is_scaled_to_eight_bits(raw_digits, tmp_path):
    digit = raw_digits[2]
    path = tmp_path / "digit16.png"
    Image.fromarray(digit.astype(np.uint16) * 257).save(path)
    with Image.open(path) as png:
        assert png.mode.startswith("I")
    assert np.array_equal(preprocess(path), preprocess(digit))


def test_a_32_bit_integer_image_holds_16_bit_pixels(raw_digits):
    # Pillow 10.0 opens a 16-bit PNG in mode "I", 0-65535.
    digit = raw_digits[2]
    image = Image.fromarray(digit.astype(np.int32) * 257)
    assert image.mode == "I"
    assert np.array_equal(preprocess(image), preprocess(digit))


def test_a_float_tiff_with_values_0_to_1_reads_like_the_8_bit_image(raw_digits, tmp_path):
    digit = raw_digits[4]
    path = tmp_path / "digit.tiff"
    Image.fromarray(digit.astype(np.float32) / 255).save(path)
    with Image.open(path) as tiff:
        assert tiff.mode == "F"
    assert preprocess(digit).any()
    assert np.array_equal(preprocess(path), preprocess(digit))


def test_other_sizes_are_resized_to_28_first(raw_digits):
    digit = raw_digits[3]
    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.NEAREST))
    assert np.array_equal(preprocess(big), preprocess(digit))


def test_a_14x14_image_is_taken_pixel_for_pixel(raw_digits):
    grey = (np.arange(196).reshape(14, 14) % 256).astype(np.uint8)
    assert np.array_equal(preprocess(grey), (grey.reshape(-1) >= 128).astype(np.float32))
    binary = preprocess(raw_digits[3]).reshape(14, 14)
    assert np.array_equal(preprocess(binary.astype(bool)), binary.reshape(-1))


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.png: not an image file"):
        preprocess(notes)
    with pytest.raises(ValueError, match=r"absent\.png: file not found"):
        preprocess(tmp_path / "absent.png")
    with pytest.raises(ValueError, match="is a folder"):
        preprocess(tmp_path)


def test_a_truncated_image_file_is_named(digit_files, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(digit_files[0].read_bytes()[:60])
    with pytest.raises(ValueError, match=r"broken\.png"):
        preprocess(broken)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 3, 4, 5)), r"\[H, W\] grayscale or \[H, W, 3\|4\]"),
        (np.zeros((28, 28, 2)), r"got shape \(28, 28, 2\)"),
        (np.zeros((0, 28)), r"got shape \(0, 28\)"),
        (np.full((28, 28), 2.0), r"\[0, 1\]"),
        (np.full((28, 28), np.nan), "finite"),
        (np.full((28, 28), 300), "0-255"),
        (np.array([["a"]]), "real numbers"),
    ],
)
def test_bad_arrays_say_what_is_expected(array, message):
    with pytest.raises(ValueError, match=message):
        preprocess(array)


def test_save_grid_writes_a_png_whose_tiles_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 14, 14)) / 255
    path = tmp_path / "grid.png"
    save_grid(images, path, nrow=3, scale=2, padding=1)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "L"
        assert png.size == ((3 * 15 + 1) * 2, (2 * 15 + 1) * 2)
        pixels = np.asarray(png)
    # Tile 4 is row 1, column 1; each source pixel is a 2x2 block; borders are black.
    top = left = (1 + 15) * 2
    block = pixels[top : top + 28, left : left + 28]
    assert np.array_equal(block[::2, ::2], np.rint(images[4] * 255).astype(np.uint8))
    assert np.array_equal(block[1::2, 1::2], block[::2, ::2])
    assert not pixels[:2].any() and not pixels[:, :2].any()
    assert list(tmp_path.iterdir()) == [path]


def test_save_grid_defaults_to_a_square_grid(tmp_path):
    save_grid(np.ones((10, 3, 5)), tmp_path / "g.png", scale=1, padding=0)
    with Image.open(tmp_path / "g.png") as png:
        assert png.size == (4 * 5, 3 * 3)  # ceil(sqrt(10)) = 4 per row, 3 rows


@pytest.mark.parametrize(
    ("images", "options", "message"),
    [
        (np.zeros((14, 14)), {}, r"\[N, H, W\]"),
        (np.zeros((0, 14, 14)), {}, r"\[N, H, W\]"),
        (np.full((1, 14, 14), np.nan), {}, r"\[0, 1\]"),
        (np.full((1, 14, 14), 1.5), {}, r"\[0, 1\]"),
        (np.zeros((2, 14, 14)), {"nrow": 0}, "nrow"),
        (np.zeros((2, 14, 14)), {"nrow": 1.5}, "nrow"),
        (np.zeros((2, 14, 14)), {"scale": 0}, "scale"),
        (np.zeros((2, 14, 14)), {"padding": -1}, "padding"),
    ],
)
def test_save_grid_rejects_bad_arguments_and_writes_nothing(tmp_path, images, options, message):
    with pytest.raises(ValueError, match=message):
        save_grid(images, tmp_path / "grid.png", **options)
    assert list(tmp_path.iterdir()) == []


def test_save_grid_into_a_missing_folder_names_it_and_leaves_nothing(tmp_path):
    images = np.zeros((2, 14, 14), np.float32)
    with pytest.raises(OutputError, match=r"grid\.png: folder .*missing does not exist"):
        save_grid(images, tmp_path / "missing" / "grid.png")
    (tmp_path / "file").write_text("a file")
    with pytest.raises(OSError, match="is not a folder"):
        save_grid(images, tmp_path / "file" / "grid.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_save_grid_failing_after_writing_removes_its_temporary_file(tmp_path):
    # The PNG is written, but renaming it onto a folder fails: nothing may be left.
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError, match=r"taken: cannot write it \(Is a directory\)"):
        save_grid(np.zeros((1, 14, 14)), tmp_path / "taken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert list((tmp_path / "taken").iterdir()) == []
