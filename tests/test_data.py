from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from bench.core import data
from bench.core.errors import DataError, DataNotFound

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _idx_images(n: int = 2) -> bytes:
    return struct.pack(">iiii", data.IMAGE_MAGIC, n, 28, 28) + bytes(n * 784)


def test_real_mnist_shapes_and_label_counts(mnist: data.Dataset) -> None:
    assert mnist.source == "mnist"
    assert mnist.train_images.shape == (60000, 28, 28, 1)
    assert mnist.test_images.shape == (10000, 28, 28, 1)
    assert mnist.train_images.dtype == np.float32
    assert 0.0 == mnist.train_images.min() and mnist.train_images.max() == 1.0
    assert np.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels).tolist() == TEST_COUNTS


def _copy_mnist(mnist: data.Dataset, dest: Path, decompress: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for stem, _ in data.FILES.values():
        src = Path(mnist.location) / (stem + ".gz")
        if decompress:
            (dest / stem).write_bytes(gzip.decompress(src.read_bytes()))
        else:
            shutil.copy(src, dest / (stem + ".gz"))
    return dest


def test_raw_idx_files_are_accepted(mnist: data.Dataset, tmp_path: Path) -> None:
    ds = data.locate_mnist(_copy_mnist(mnist, tmp_path / "raw", decompress=True), allow_download=False)
    np.testing.assert_array_equal(ds.test_labels, mnist.test_labels)


def test_wrong_checksum_names_file_and_both_sums(mnist: data.Dataset, tmp_path: Path) -> None:
    folder = _copy_mnist(mnist, tmp_path / "bad")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[100] ^= 1
    target.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError) as err:
        data.locate_mnist(folder, allow_download=False)
    msg = str(err.value)
    assert str(target) in msg and "27ae3e4e09519cfbb04c329615203637" in msg and "got " in msg


def test_truncated_gzip_names_the_file(mnist: data.Dataset, tmp_path: Path) -> None:
    folder = _copy_mnist(mnist, tmp_path / "trunc")
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: cannot be read or decompressed"):
        data.locate_mnist(folder, allow_download=False)


def test_truncated_raw_file_fails_checksum(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 20)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: checksum mismatch.*expected 27ae3e4e"):
        data.read_verified(path, data.FILES["test-labels"][1])


def test_wrong_magic_and_short_payload() -> None:
    with pytest.raises(DataError, match="wrong IDX magic number 2049, expected 2051"):
        data.parse_idx(struct.pack(">ii", data.LABEL_MAGIC, 0), data.IMAGE_MAGIC, "x")
    with pytest.raises(DataError, match=r"header says \(2, 28, 28\).*1500 bytes follow"):
        data.parse_idx(_idx_images(2)[:-68], data.IMAGE_MAGIC, "x")
    assert data.parse_idx(_idx_images(2), data.IMAGE_MAGIC, "x").shape == (2, 28, 28)


def test_missing_files_say_where_they_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFound) as err:
        data.locate_mnist(tmp_path / "given", allow_download=False)
    msg = str(err.value)
    assert "--data-dir" in msg and "$BENCH_DATA_DIR" in msg and "user cache" in msg and "BENCH_DATA_DIR=DIR" in msg


def test_search_order_prefers_data_dir(mnist: data.Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "env"
    corrupt.mkdir()
    for stem, _ in data.FILES.values():
        (corrupt / stem).write_bytes(b"junk")
    monkeypatch.setenv("BENCH_DATA_DIR", str(corrupt))
    assert data.locate_mnist(mnist.location, allow_download=False).location == mnist.location
    with pytest.raises(DataError, match="checksum mismatch"):  # a corrupt copy is never skipped silently
        data.locate_mnist(None, allow_download=False)


def test_auto_falls_back_to_synthetic_only_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ds = data.load("auto", None, allow_download=False)
    assert ds.source == "synthetic"
    with pytest.raises(DataNotFound):
        data.load("mnist", None, allow_download=False)


def test_synthetic_is_seeded_and_shaped() -> None:
    a, b = data.synthetic(64, 16, seed=1), data.synthetic(64, 16, seed=1)
    assert a.train_images.shape == (64, 28, 28, 1) and a.train_images.dtype == np.float32
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert a.source == "synthetic"
