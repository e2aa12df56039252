import pytest
import torch

from quant_models import UnknownModelError, create_model, list_models
from quant_models.complexity import count
from quant_models.export import model_input_shape
from tests.conftest import SMALL

ALL = list_models()


def test_registry_has_every_family():
    for name in ["binaryvit-tiny", "binaryvit-star-tiny", "binaryvit-tiny-hw", "binaryvit-224",
                 "ternaryvit-tiny", "mmfree-vit-tiny", "deit-tiny-fp", "resnet-tiny-fp"]:
        assert name in ALL


@pytest.mark.parametrize("name", ALL)
def test_forward_backward(name):
    model = create_model(name, **SMALL.get(name, {}))
    shape = model_input_shape(model)
    x = torch.randn(4, *shape[1:])
    model.train()
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    assert logits.shape == (4, model.cfg.num_classes)
    torch.nn.functional.cross_entropy(logits, torch.arange(4) % model.cfg.num_classes).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) > 0.5 * len(list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (4, model.cfg.num_classes) and torch.isfinite(y).all()


@pytest.mark.parametrize("size", [(28, 1), (32, 3)])
@pytest.mark.parametrize("name", ["binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny", "deit-tiny-fp"])
def test_fashion_mnist_and_cifar_sizes(name, size):
    img, ch = size
    model = create_model(name, img_size=img, in_chans=ch).eval()
    with torch.no_grad():
        assert model(torch.randn(2, ch, img, img)).shape == (2, 10)


def test_imagenet_configuration_constructs_and_counts():
    model = create_model("binaryvit-224")
    c = count(model, (1, 3, 224, 224))
    assert model.cfg.embed_dims == (64, 128, 256, 512) and model.cfg.depths == (3, 4, 8, 4)
    assert c.binary_macs > 1e9 and c.binary_macs > 10 * c.other_macs
    assert 1e7 < c.ops < 1e9


def test_op_counts_follow_the_quantization():
    bin_c = count(create_model("binaryvit-tiny-hw"), (1, 3, 32, 32))
    ter_c = count(create_model("ternaryvit-tiny"), (1, 3, 32, 32))
    fp_c = count(create_model("deit-tiny-fp"), (1, 3, 32, 32))
    assert bin_c.binary_macs > 0 and bin_c.ternary_macs == 0
    assert ter_c.ternary_macs > 0 and ter_c.binary_macs == 0
    assert fp_c.flops == fp_c.other_macs > 0 and fp_c.bops == 0
    assert bin_c.ops < ter_c.ops < fp_c.ops
    # BinaryViT*: the 8-bit patch embedding costs more operations than the binary one
    star, paper = (count(create_model(n), (1, 3, 32, 32)).ops for n in ("binaryvit-star-tiny", "binaryvit-tiny"))
    assert star > paper


def test_unknown_model_lists_available():
    with pytest.raises(UnknownModelError) as e:
        create_model("resnet-50")
    for name in ALL:
        assert name in str(e.value)


def test_unknown_config_field_is_named():
    with pytest.raises(TypeError, match="embed_dim"):
        create_model("binaryvit-tiny-hw", embed_dim=64)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="patch_size"):
        create_model("binaryvit-tiny-hw", img_size=30)
    with pytest.raises(ValueError, match="sr_ratio"):
        create_model("binaryvit-tiny-hw", locality_attention=True, sr_ratios=(2, 1))
