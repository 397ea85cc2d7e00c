"""Image preprocessing (same path as the training data) and PNG grids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vae_edge.mnist import load_split, read_idx
from vae_edge.runtime import preprocess, save_grid


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, mnist_dir):
    folder = tmp_path_factory.mktemp("digits")
    raw = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:20]
    paths = []
    for index, image in enumerate(raw):
        paths.append(folder / f"digit{index}.png")
        Image.fromarray(image).save(paths[-1])
    return paths, raw


def test_preprocess_of_png_files_equals_the_training_data(digit_files, mnist_dir):
    paths, _ = digit_files
    expected = load_split(mnist_dir, "test")[:20]
    actual = np.stack([preprocess(path) for path in paths])
    assert actual.dtype == np.float32 and actual.shape == (20, 196)
    assert np.array_equal(actual, expected)


def test_rgb_inverted_and_float_inputs_give_the_same_result(digit_files):
    _, raw = digit_files
    expected = preprocess(raw[0])
    rgb = np.repeat(raw[0][:, :, None], 3, axis=2)
    assert np.array_equal(preprocess(rgb), expected)
    assert np.array_equal(preprocess(Image.fromarray(rgb)), expected)
    assert np.array_equal(preprocess(255 - raw[0], invert=True), expected)
    assert np.array_equal(preprocess(raw[0] / 255.0), expected)


def test_other_sizes_are_resized_first(digit_files):
    _, raw = digit_files
    big = np.asarray(Image.fromarray(raw[3]).resize((112, 112), Image.Resampling.NEAREST))
    assert np.array_equal(preprocess(big), preprocess(raw[3]))
    small = (preprocess(raw[3]).reshape(14, 14) * 255).astype(np.uint8)
    assert np.array_equal(preprocess(small), preprocess(raw[3]))


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.png"):
        preprocess(path)
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        preprocess(np.zeros((2, 3, 4, 5)))


def test_save_grid_writes_a_png_whose_tiles_round_trip(tmp_path):
    images = np.random.default_rng(0).random((5, 14, 14)).astype(np.float32)
    path = tmp_path / "grid.png"
    save_grid(images, path, nrow=3, scale=2, padding=1)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "L"
        assert png.size == ((3 * 15 + 1) * 2, (2 * 15 + 1) * 2)
        pixels = np.asarray(png)
    # Tile 4 is row 1, column 1; each source pixel is a 2x2 block.
    top, left = (1 + 15) * 2, (1 + 15) * 2
    tile = pixels[top : top + 28 : 2, left : left + 28 : 2]
    assert np.array_equal(tile, (images[4] * 255).round().astype(np.uint8))
    assert list(tmp_path.iterdir()) == [path]


def test_save_grid_rejects_bad_arguments_and_leaves_nothing(tmp_path):
    images = np.zeros((2, 14, 14), np.float32)
    with pytest.raises(FileNotFoundError, match="missing"):
        save_grid(images, tmp_path / "missing" / "grid.png")
    with pytest.raises(ValueError, match="nrow"):
        save_grid(images, tmp_path / "grid.png", nrow=0)
    with pytest.raises(ValueError, match="shape"):
        save_grid(np.zeros((14, 14)), tmp_path / "grid.png")
    assert list(tmp_path.iterdir()) == []
