import numpy as np
import pytest
import torch

from quant_models import data
from quant_models.data.augment import PRESETS, augment, mix, random_crop


@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_from_debian_files(split, n):
    ds = data.load("fashion-mnist", split)
    assert ds.images.shape == (n, 28, 28, 1) and ds.images.dtype == np.uint8
    assert set(np.unique(ds.labels)) == set(range(10)) and len(ds.classes) == 10


def test_cifar10_from_shared_npz():
    if not data.CIFAR10_NPZ.exists():
        pytest.fail(f"CIFAR-10 npz missing at {data.CIFAR10_NPZ}: the project's shared/datasets must be beside the repo")
    ds = data.load("cifar10", "test")
    assert ds.images.shape == (10000, 32, 32, 3) and np.bincount(ds.labels).tolist() == [1000] * 10
    assert 80 < ds.images.mean() < 160  # decoded pixels, not bytes of JPEG headers


def test_digits_split_is_fixed_and_disjoint():
    a, b = data.load("digits", "train"), data.load("digits", "test")
    assert len(a) + len(b) == 1797 and a.images.shape[1:] == (8, 8, 1)
    assert np.array_equal(a.labels, data.load("digits", "train").labels)


def test_image_folder(tmp_path):
    from PIL import Image

    for cls in ("real", "fake"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    ds = data.load("image-folder", "train", tmp_path)
    assert ds.images.shape == (6, 32, 32, 3) and ds.classes == ["fake", "real"]


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.fashion_mnist("train", tmp_path)
    with pytest.raises(data.DatasetNotFoundError, match="cifar10_jpeg_bytes.npz"):
        data.cifar10("train", tmp_path / "none.npz")
    with pytest.raises(data.DatasetNotFoundError, match="<class>"):
        data.image_folder("train", tmp_path)
    with pytest.raises(ValueError, match="available"):
        data.load("imagenet", "train")


def test_random_crop_shifts_content():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1
    y = random_crop(x, 2, g)
    assert y.shape == x.shape and torch.all(y.sum((1, 2, 3)) == 1)  # the pixel moved, never lost
    pos = y.flatten(1).argmax(1)
    assert len(torch.unique(pos)) > 5


def test_presets_and_mixing_keep_shapes_and_ranges():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 32, 32)
    for preset in PRESETS.values():
        y = augment(x, preset, g)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    onehot = torch.eye(10)[torch.arange(16) % 10]
    xm, ym = mix(x, onehot, g, mixup_alpha=0.8, cutmix_alpha=1.0)
    assert xm.shape == x.shape and torch.allclose(ym.sum(1), torch.ones(16))
    assert not torch.equal(xm, x)
