"""IDX parsing, pooling and binarization, and the three splits."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import numpy as np
import pytest
from mnist_files import write_idx

from vae_edge.mnist import (
    DataError,
    load_labeled_split,
    load_labels,
    load_split,
    pool_and_binarize,
    read_idx,
)


def test_read_idx_reads_real_files_gzip_and_raw(tmp_path, mnist_dir):
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.max() == 9
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert np.array_equal(read_idx(raw), labels)
    assert read_idx(mnist_dir / "train-images-idx3-ubyte.gz").shape == (60000, 28, 28)


def test_read_idx_names_a_truncated_file(tmp_path, mnist_dir):
    data = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "labels"
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match="truncated") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")  # type 0x0d is float, not ubyte
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["garbage after the header", "flipped bytes", "cut short"])
def test_read_idx_names_a_corrupted_gzip_file(tmp_path, mnist_dir, damage):
    body = bytearray((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    if damage == "garbage after the header":
        body = bytearray(b"\x1f\x8b\x08\x00garbage")
    elif damage == "flipped bytes":
        body[100:110] = bytes(byte ^ 0xFF for byte in body[100:110])
    else:
        body = body[: len(body) // 2]
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(body))
    with pytest.raises(DataError, match="gzip") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_pool_and_binarize_threshold_is_at_mean_128():
    images = np.zeros((1, 28, 28), np.uint8)
    images[0, 0:2, 0:2] = [[128, 128], [128, 128]]  # mean 128 -> 1
    images[0, 0:2, 2:4] = [[128, 128], [128, 127]]  # mean 127.75 -> 0
    images[0, 26:28, 26:28] = [[255, 255], [2, 0]]  # mean 128 -> 1
    out = pool_and_binarize(images)
    assert out.shape == (1, 196) and out.dtype == np.float32
    grid = out.reshape(14, 14)
    assert grid[0, 0] == 1 and grid[0, 1] == 0 and grid[13, 13] == 1
    assert grid.sum() == 2


def test_pool_and_binarize_rejects_odd_shapes():
    with pytest.raises(ValueError, match="divisible"):
        pool_and_binarize(np.zeros((2, 27, 28), np.uint8))
    with pytest.raises(ValueError):
        pool_and_binarize(np.zeros((28, 28), np.uint8))


def test_splits_have_the_study_sizes(mnist_dir):
    train = load_split(mnist_dir, "train")
    validation = load_split(mnist_dir, "validation")
    test = load_split(mnist_dir, "test")
    assert train.shape == (60000, 196) and test.shape == (10000, 196)
    assert np.array_equal(validation, test[:1000])
    for images in (train, validation, test):
        assert images.dtype == np.float32 and set(np.unique(images)) == {0.0, 1.0}


def test_counts_come_from_the_headers(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    images[:, 10:20, 10:20] = 200
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:3])
    assert load_split(tmp_path, "train").shape == (5, 196)
    assert load_split(tmp_path, "validation").shape == (3, 196)
    assert load_split(tmp_path, "train")[0].reshape(14, 14)[5:10, 5:10].all()


def test_unknown_split_is_refused(mnist_dir):
    with pytest.raises(ValueError, match="split"):
        load_split(mnist_dir, "holdout")


@pytest.mark.parametrize(
    ("split", "count"), [("train", 60000), ("validation", 1000), ("test", 10000)]
)
def test_labels_come_in_the_order_and_count_of_the_images(mnist_dir, split, count):
    labels = load_labels(mnist_dir, split)
    assert labels.shape == (count,) == load_split(mnist_dir, split).shape[:1]
    assert set(np.unique(labels)) == set(range(10))
    # The official files' first test labels: 7, 2, 1, 0, 4.
    assert split == "train" or labels[:5].tolist() == [7, 2, 1, 0, 4]


@pytest.mark.parametrize(
    ("images", "fragment"),
    [
        (np.zeros((3, 56, 56)), r"expected N > 0 images of 28x28 pixels, got shape \(3, 56, 56\)"),
        (np.zeros((0, 28, 28)), r"got shape \(0, 28, 28\)"),
        (np.zeros((3, 784)), r"got shape \(3, 784\)"),
    ],
)
def test_images_of_another_shape_or_none_are_refused_at_load_naming_the_file(
    tmp_path, images, fragment
):
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    with pytest.raises(DataError, match=fragment) as error:
        load_split(tmp_path, "train")
    assert str(tmp_path / "train-images-idx3-ubyte") in str(error.value)


def test_labels_must_be_as_many_as_the_images(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(4))
    with pytest.raises(DataError, match="4 labels for 5 images") as error:
        load_labeled_split(tmp_path, "train")
    assert str(tmp_path / "train-labels-idx1-ubyte") in str(error.value)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5))
    images, labels = load_labeled_split(tmp_path, "train")
    assert images.shape == (5, 196) and labels.tolist() == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def zeros_gzip() -> bytes:
    """300 MB of zeros as one gzip member of about 0.3 MB, compressed in 1 MB steps."""
    compressor = zlib.compressobj(wbits=31)  # 31: gzip framing
    block = bytes(2**20)
    parts = [compressor.compress(block) for _ in range(300)]
    return b"".join([*parts, compressor.flush()])


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (b"", "bad magic number"),  # all zeros: type byte 0
        (bytes([0, 0, 8, 3]) + np.array([1, 28, 28], ">u4").tobytes(), "holds more"),
        (bytes([0, 0, 8, 3]) + np.array([2**20, 2**10, 2**10], ">u4").tobytes(), "more than"),
    ],
)
def test_a_gzip_bomb_is_refused_from_its_header_without_filling_memory(
    tmp_path, zeros_gzip, header, fragment
):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    # gzip members concatenate: the header's member, then the 300 MB of zeros.
    path.write_bytes(gzip.compress(header) + zeros_gzip)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=fragment):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
