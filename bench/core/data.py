"""MNIST from the standard IDX files, verified by MD5, plus seeded synthetic batches.

The MD5 is taken of the *decompressed* bytes, so the official ``.gz`` files, recompressed copies
and raw IDX files are all accepted, and a corrupt or truncated file is named in the error.
Downloaded files are verified before they are moved into place; nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import DataError, DataNotFound

FILES: dict[str, tuple[str, str]] = {
    # split/kind: (file stem, MD5 of the decompressed IDX content)
    "train-images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test-images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test-labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DOWNLOAD_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Dataset:
    """MNIST (or a synthetic stand-in) as float32 NHWC images in [0, 1] and int32 labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # "mnist" or "synthetic"
    location: str  # folder the files came from, or a description of the generator


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bench" / "mnist"


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """Where MNIST is looked for, in order: --data-dir, $BENCH_DATA_DIR, the user cache."""
    out: list[tuple[str, Path]] = []
    if data_dir:
        out.append(("--data-dir", Path(data_dir)))
    env = os.environ.get("BENCH_DATA_DIR")
    if env:
        out.append(("$BENCH_DATA_DIR", Path(env)))
    out.append(("user cache", default_cache_dir()))
    return out


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_verified(path: Path, md5: str) -> bytes:
    """The decompressed bytes of ``path`` after checking their MD5; DataError names the file."""
    try:
        raw = path.read_bytes()
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read or decompressed ({exc}); delete it or supply a good copy") from exc
    actual = hashlib.md5(content).hexdigest()
    if actual != md5:
        raise DataError(
            f"{path}: checksum mismatch (MD5 of decompressed content expected {md5}, got {actual}); "
            "the file is corrupt, truncated or not MNIST"
        )
    return content


def parse_idx(content: bytes, expected_magic: int, name: str) -> np.ndarray:
    """Parse an IDX image (magic 2051) or label (2049) file into a uint8 array."""
    if len(content) < 8:
        raise DataError(f"{name}: too short for an IDX header ({len(content)} bytes)")
    magic = struct.unpack(">i", content[:4])[0]
    if magic != expected_magic:
        raise DataError(f"{name}: wrong IDX magic number {magic}, expected {expected_magic}")
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}i", content[4:header])
    count = int(np.prod(dims))
    if len(content) - header != count:
        raise DataError(f"{name}: header says {dims} ({count} bytes) but {len(content) - header} bytes follow")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)


def _load_folder(folder: Path, verify: bool = True) -> Dataset:
    arrays: dict[str, np.ndarray] = {}
    for key, (stem, md5) in FILES.items():
        path = _find_file(folder, stem)
        if path is None:
            raise DataError(f"{folder}: {stem}[.gz] is missing")
        if verify:
            content = read_verified(path, md5)
        else:
            raw = path.read_bytes()
            content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = parse_idx(content, magic, str(path))
    return Dataset(
        train_images=(arrays["train-images"][..., None].astype(np.float32) / 255.0),
        train_labels=arrays["train-labels"].astype(np.int32),
        test_images=(arrays["test-images"][..., None].astype(np.float32) / 255.0),
        test_labels=arrays["test-labels"].astype(np.int32),
        source="mnist",
        location=str(folder.resolve()),
    )


def download(folder: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch the four files into ``folder``; each is verified in a temp file before the rename."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, md5 in FILES.values():
        if _find_file(folder, stem) is not None:
            continue
        errors = []
        for mirror in MIRRORS:
            url = mirror + stem + ".gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https URLs)
                    payload = resp.read()
                fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                try:
                    read_verified(Path(tmp), md5)
                    os.replace(tmp, folder / (stem + ".gz"))
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                break
            except (OSError, DataError) as exc:
                errors.append(f"{url}: {exc}")
        else:
            raise DataError(f"could not download {stem}.gz: " + "; ".join(errors))


def locate_mnist(data_dir: str | os.PathLike[str] | None = None, allow_download: bool = True) -> Dataset:
    """Load and verify MNIST from the first place that has all four files.

    A folder that has the files but fails verification is an error, not a reason to look further:
    silently falling back would hide a corrupt copy.
    """
    looked: list[str] = []
    for label, folder in candidate_dirs(data_dir):
        if all(_find_file(folder, stem) for stem, _ in FILES.values()):
            return _load_folder(folder)
        looked.append(f"{label} {folder}")
    if allow_download and os.environ.get("BENCH_NO_DOWNLOAD") != "1":
        cache = default_cache_dir()
        try:
            download(cache)
            return _load_folder(cache)
        except DataError as exc:
            looked.append(f"download: {str(exc)[:200]}")
    raise DataNotFound(
        "MNIST not found; looked in " + ", ".join(looked)
        + ". Supply the four IDX files (.gz or raw) with --data-dir DIR or BENCH_DATA_DIR=DIR"
    )


def synthetic(n_train: int = 1024, n_test: int = 256, seed: int = 0,
              image_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10) -> Dataset:
    """Random data of a model's input shape and class count (MNIST's by default), for timing and verify
    only: never for accuracy or parity. ``location`` names the shape when it is not MNIST's."""
    rng = np.random.default_rng(seed)
    shape = "" if (image_shape, classes) == ((28, 28, 1), 10) else (
        f", {'x'.join(map(str, image_shape))} images, {classes} classes")
    return Dataset(
        train_images=rng.random((n_train, *image_shape), dtype=np.float32),
        train_labels=rng.integers(0, classes, n_train).astype(np.int32),
        test_images=rng.random((n_test, *image_shape), dtype=np.float32),
        test_labels=rng.integers(0, classes, n_test).astype(np.int32),
        source="synthetic",
        location=f"numpy default_rng(seed={seed}){shape}",
    )


def load(kind: str, data_dir: str | None = None, seed: int = 0, allow_download: bool = True) -> Dataset:
    """``mnist`` (or fail), ``synthetic``, or ``auto`` (MNIST when it can be had, else synthetic)."""
    if kind == "synthetic":
        return synthetic(seed=seed)
    if kind == "mnist":
        return locate_mnist(data_dir, allow_download)
    if kind == "auto":
        try:
            return locate_mnist(data_dir, allow_download)
        except DataNotFound:  # a corrupt copy is still an error, never silently replaced
            return synthetic(seed=seed)
    raise DataError(f"data must be auto, mnist or synthetic; got {kind!r}")


def pack(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """The four files of a verified MNIST folder as they are on disk (name -> bytes), to send to a
    machine that has none (a Ray node); :func:`unpack` verifies them again there."""
    out = {}
    for stem, md5 in FILES.values():
        path = _find_file(Path(folder), stem)
        if path is None:
            raise DataError(f"{folder}: {stem}[.gz] is missing")
        read_verified(path, md5)
        out[path.name] = path.read_bytes()
    return out


def unpack(files: dict[str, bytes], folder: Path) -> Path:
    """Write shipped MNIST files into ``folder`` (atomically, each verified by its MD5) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {stem: md5 for stem, md5 in FILES.values()}
    for name, payload in files.items():
        stem = name[:-3] if name.endswith(".gz") else name
        if stem not in md5s:
            raise DataError(f"unexpected file {name!r} among the shipped MNIST files")
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        try:
            read_verified(Path(tmp), md5s[stem])
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return folder
