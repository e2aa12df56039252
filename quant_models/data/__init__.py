"""Datasets read from local files only (no downloads).

Every loader gives an :class:`ImageSet`: uint8 images [N, H, W, C] and int64 labels, with the
normalisation statistics of its dataset. ``load(name, split)`` is the one entry point.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path(os.environ.get("QVIT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
# Default: the project's shared datasets beside the repository (../shared/datasets).
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CIFAR10_NPZ = Path(os.environ.get("QVIT_CIFAR10", _SHARED / "cifar10_jpeg_bytes.npz"))
CACHE_DIR = Path(os.environ.get("QVIT_CACHE", Path.home() / ".cache" / "qvit"))


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing; the message says where to put them or what to install."""


@dataclass
class ImageSet:
    """uint8 images [N, H, W, C], int64 labels [N], class names and per-channel mean/std in [0, 1]."""

    images: np.ndarray
    labels: np.ndarray
    classes: list
    mean: tuple
    std: tuple

    def __len__(self):
        return len(self.labels)

    def subset(self, idx) -> ImageSet:
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.mean, self.std)

    @property
    def shape(self):
        """(C, H, W) of one image as the models take it."""
        _, h, w, c = self.images.shape
        return (c, h, w)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


FASHION_MEAN, FASHION_STD = (0.286,), (0.353,)
FASHION_CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def fashion_mnist(split: str, root: Path | None = None) -> ImageSet:
    """Fashion-MNIST from the IDX files of Debian's ``dataset-fashion-mnist`` (28x28x1)."""
    root = Path(root or FASHION_MNIST_DIR)
    prefix = "train" if split == "train" else "t10k"
    img, lab = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
    if not img.exists() or not lab.exists():
        raise DatasetNotFoundError(
            f"Fashion-MNIST not found in {root} (need {img.name} and {lab.name}). Install it with "
            "`apt-get install dataset-fashion-mnist`, or copy the IDX .gz files there, or set QVIT_FASHION_MNIST.")
    images = _read_idx(img)[..., None]
    return ImageSet(images, _read_idx(lab).astype(np.int64), FASHION_CLASSES, FASHION_MEAN, FASHION_STD)


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class _BatchUnpickler(pickle.Unpickler):
    """Reads CIFAR-10's python batches (dicts of bytes, lists and one numpy array) and nothing else: a pickle
    that names any other class or function is refused, so a crafted batch file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"the file names {module}.{name}: not a CIFAR-10 python batch")
        return super().find_class(module, name)


def cifar10(split: str, root: Path | None = None) -> ImageSet:
    """CIFAR-10 (32x32x3): the JPEG-bytes npz of the project's shared datasets (default), or a
    directory with the standard python batches (``data_batch_1..5``, ``test_batch``).

    Decoded JPEGs are cached as .npy in ``QVIT_CACHE`` (default ~/.cache/qvit)."""
    root = Path(root or CIFAR10_NPZ)
    if root.is_dir():
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        if not all((root / n).exists() for n in names):
            raise DatasetNotFoundError(f"CIFAR-10 python batches {names} not found in {root}.")
        xs, ys = [], []
        for n in names:
            try:
                with open(root / n, "rb") as f:
                    d = _BatchUnpickler(f, encoding="bytes").load()
            except (pickle.UnpicklingError, EOFError, ValueError) as e:
                raise ValueError(f"{root / n} is not a CIFAR-10 python batch ({e}); give the directory of the "
                                 "standard python batches or the project's cifar10_jpeg_bytes.npz") from None
            xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(d[b"labels"], np.int64))
        return ImageSet(np.concatenate(xs), np.concatenate(ys), CIFAR_CLASSES, CIFAR_MEAN, CIFAR_STD)
    if not root.exists():
        raise DatasetNotFoundError(
            f"CIFAR-10 not found at {root}. Put cifar10_jpeg_bytes.npz there (see shared/datasets/README.md), "
            "set QVIT_CIFAR10 to its path, or pass a directory of the standard CIFAR-10 python batches.")
    part = "train" if split == "train" else "test"
    cache = CACHE_DIR / f"cifar10_jpeg_{part}.npz"
    if cache.exists() and cache.stat().st_mtime >= root.stat().st_mtime:
        d = np.load(cache)
        return ImageSet(d["images"], d["labels"], CIFAR_CLASSES, CIFAR_MEAN, CIFAR_STD)
    from PIL import Image

    d = np.load(root)
    blob, offsets = d[f"{part}_jpeg"], d[f"{part}_offsets"]
    images = np.stack([np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                       for i in range(len(offsets) - 1)])
    labels = d[f"{part}_labels"].astype(np.int64)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=images, labels=labels)
    return ImageSet(images, labels, CIFAR_CLASSES, CIFAR_MEAN, CIFAR_STD)


def standard_stats(name: str) -> tuple[tuple, tuple]:
    """(mean, std) per channel, in [0, 1], with which the models of dataset ``name`` standardise their input
    (fixed for Fashion-MNIST and CIFAR-10, so a build needs no dataset to know them)."""
    stats = {"fashion-mnist": (FASHION_MEAN, FASHION_STD), "cifar10": (CIFAR_MEAN, CIFAR_STD)}
    if name not in stats:
        raise ValueError(f"no fixed standardisation for dataset {name!r} (known: {', '.join(stats)})")
    return stats[name]


def digits(split: str, root=None) -> ImageSet:
    """scikit-learn's 8x8 digits (1,797 images; a fixed 80/20 split), scaled to 0..255. For fast tests."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images * (255 / 16)).round().astype(np.uint8)[..., None]
    labels = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    cut = int(0.8 * len(labels))
    idx = order[:cut] if split == "train" else order[cut:]
    return ImageSet(images[idx], labels[idx], [str(i) for i in range(10)], (0.3,), (0.38,))


def image_folder(split: str, root=None, size: int = 32) -> ImageSet:
    """Your own images: ``root/<split>/<class>/*.png|jpg`` (or ``root/<class>/...`` for both splits),
    resized to ``size`` x ``size`` RGB. For example face crops (real / fake) for deepfake detection."""
    from PIL import Image

    if root is None:
        raise DatasetNotFoundError("the image-folder dataset needs --data-root DIR with one sub-directory per class")
    root = Path(root)
    base = root / split if (root / split).is_dir() else root
    classes = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((base / c).iterdir())
             if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}]
    if not files:
        raise DatasetNotFoundError(f"no images found under {base}: expected {base}/<class>/<image>.png|jpg")
    images = np.stack([np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR)) for f, _ in files])
    labels = np.array([i for _, i in files], dtype=np.int64)
    mean = tuple((images.reshape(-1, 3) / 255).mean(0).round(4).tolist())
    std = tuple((images.reshape(-1, 3) / 255).std(0).round(4).tolist())
    return ImageSet(images, labels, classes, mean, std)


LOADERS = {"fashion-mnist": fashion_mnist, "cifar10": cifar10, "digits": digits, "image-folder": image_folder}


def load(name: str, split: str, root=None) -> ImageSet:
    """Dataset ``name`` ('fashion-mnist', 'cifar10', 'digits', 'image-folder'), split 'train' or 'test'."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(LOADERS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return LOADERS[name](split, root)
