import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from quant_models.int_ops import DOMAIN, int_softmax, int_softmax_codes_torch, int_softmax_torch, mlgru_scan, mlgru_scan_torch
from quant_models.layers import QuantSoftmax

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _scores(shape, scale, bits=8, seed=0):
    rng = np.random.default_rng(seed)
    lim = 2 ** (bits - 1)
    return (rng.integers(-lim, lim, size=shape) * scale).astype(np.float32)


@pytest.mark.parametrize("out_bits", [1, 2, 4, 8])
def test_int_softmax_is_a_quantized_softmax(out_bits):
    scale = 0.05
    x = _scores((3, 5, 7), scale)
    p = int_softmax(x, scale, out_bits)
    levels = 2**out_bits
    assert np.allclose(p * levels, np.round(p * levels)) and p.max() <= (levels - 1) / levels  # on the output grid
    ref = torch.softmax(torch.from_numpy(x).double(), -1).numpy()
    # rounding to the grid moves a probability by at most half a step (plus the LUT error), and the
    # top code's saturation at 1 - 1/levels by at most one step
    err = np.abs(p - ref)
    assert np.where(ref < (levels - 0.5) / levels, err, 0).max() <= 0.5 / levels + 1e-4
    assert err.max() <= 1 / levels + 1e-4
    if out_bits >= 4:
        assert (p.argmax(-1) == ref.argmax(-1)).mean() > 0.9


def test_int_softmax_masks_the_diagonal():
    x = _scores((2, 6, 6), 0.1)
    p = int_softmax(x, 0.1, 4, mask_diagonal=True)
    assert np.all(np.diagonal(p, axis1=-2, axis2=-1) == 0)
    with pytest.raises(ValueError, match="square"):
        int_softmax(_scores((2, 6, 5), 0.1), 0.1, 4, mask_diagonal=True)


def test_mlgru_scan_matches_float_recurrence():
    rng = np.random.default_rng(1)
    f_bits, c_scale = 4, np.float32(2.0**-5)
    f = (rng.integers(0, 16, size=(2, 9, 5)) / 16).astype(np.float32)
    c = (rng.integers(-127, 128, size=(2, 9, 5)) * c_scale).astype(np.float32)
    h = mlgru_scan(f, c, c_scale, f_bits)
    state = np.zeros((2, 5))
    for t in range(9):
        state = f[:, t] * state + (1 - f[:, t]) * c[:, t]
        state = np.floor(state / c_scale + 0.5) * c_scale  # ties round up (exact: power-of-two grids)
        assert np.allclose(h[:, t], state, atol=1e-6)
    assert np.abs(h).max() <= np.abs(c).max() + 1e-6  # convex combination stays in range


def test_quant_softmax_forward_equals_integer_op_and_has_gradient():
    m = QuantSoftmax(in_bits=6, out_bits=4)
    m.train()
    s = torch.randn(2, 4, 4, requires_grad=True)
    p = m(s)
    q = int_softmax(m.score_quant(s).detach().numpy(), m.score_quant.act_quant.scale().item(), 4)
    assert np.array_equal(p.detach().numpy(), q)
    (p * torch.randn_like(p)).sum().backward()
    assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


def _single_node_model(op, inputs, attrs):
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in inputs.items()]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(next(iter(inputs.values())).shape))
    node = helper.make_node(op, list(inputs), ["y"], domain=DOMAIN, **attrs)
    graph = helper.make_graph([node], "g", vis, [out])
    return ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)]))


def test_qonnx_executes_the_custom_ops_with_the_same_definition():
    x = _scores((1, 2, 5, 5), 0.1)
    scale = np.array([0.1], dtype=np.float32)
    m = _single_node_model("IntSoftmax", {"x": x, "s": scale}, dict(out_bits=4, mask_diagonal=1))
    y = execute_onnx(m, {"x": x, "s": scale})["y"]
    assert np.array_equal(y, int_softmax(x, 0.1, 4, True))
    f = (np.random.default_rng(0).integers(0, 16, size=(1, 6, 3)) / 16).astype(np.float32)
    c = (np.random.default_rng(1).integers(-7, 8, size=(1, 6, 3)) * 0.5).astype(np.float32)
    cs = np.array([0.5], dtype=np.float32)
    m = _single_node_model("MLGRU", {"f": f, "c": c, "cs": cs}, dict(f_bits=4))
    assert np.array_equal(execute_onnx(m, {"f": f, "c": c, "cs": cs})["y"], mlgru_scan(f, c, 0.5, 4))


def test_hand_computed_cases():
    """Values worked out by hand, independent of the implementations: equal scores share the probability, a
    dominant score takes the top code (saturated at 1 - 1/levels), a masked diagonal gets nothing; the MLGRU
    state follows h = f h + (1 - f) c on the grid of c_scale, ties rounding up."""
    p = int_softmax(np.array([[0.0, 0.0]], dtype=np.float32), 0.5, 2)
    assert p.tolist() == [[0.5, 0.5]]  # 2 of 4 levels each
    p = int_softmax(np.array([[20.0, -20.0]], dtype=np.float32), 0.5, 2)
    assert p.tolist() == [[0.75, 0.0]]  # the top code of 2 bits is 3/4
    p = int_softmax(np.array([[[9.0, 0.0], [0.0, 9.0]]], dtype=np.float32), 0.5, 3, mask_diagonal=True)
    assert p.tolist() == [[[0.0, 0.875], [0.875, 0.0]]]  # each row's only other entry: the top code 7/8
    f = np.full((1, 3, 1), 0.5, dtype=np.float32)
    c = np.array([[[1.0], [1.0], [-1.0]]], dtype=np.float32)
    # h1 = 0.5 * 0 + 0.5 * 1 = 0.5; h2 = 0.5 * 0.5 + 0.5 * 1 = 0.75 -> 1.5 steps of 0.5, a tie, up: 1.0;
    # h3 = 0.5 * 1.0 + 0.5 * -1 = 0.0
    assert mlgru_scan(f, c, 0.5, 1).reshape(-1).tolist() == [0.5, 1.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_torch_softmax_equals_numpy_definition(device):
    """The training forward (torch, any device) gives the numpy definition's bits, over random scores of
    many shapes, widths, scales (ties in x / scale included: scores drawn on the grid) and masks."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        bits, out_bits = int(rng.integers(2, 11)), int(rng.integers(1, 9))
        scale = float(np.float32(2.0 ** rng.uniform(-8, 1)))
        n = int(rng.integers(1, 20))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 3)), n, n)
        x = _scores(shape, scale, bits, seed=trial)
        if trial % 3 == 0:  # off-grid values too: the rounding to the grid must agree
            x = (x + rng.normal(0, scale, shape)).astype(np.float32)
        mask = bool(trial % 2) and n > 1
        want = int_softmax(x, scale, out_bits, mask)
        got = int_softmax_torch(torch.from_numpy(x).to(device), torch.tensor([scale]), out_bits, mask)
        assert got.device.type == device and got.dtype == torch.float32
        assert np.array_equal(got.cpu().numpy(), want), (trial, bits, out_bits, scale, shape, mask)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_mlgru_equals_numpy_definition(device):
    rng = np.random.default_rng(8)
    for trial in range(40):
        f_bits = int(rng.integers(1, 9))
        c_scale = np.float32(2.0 ** rng.uniform(-8, 2))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 9)))
        f = (rng.integers(0, 2**f_bits, size=shape) / 2**f_bits).astype(np.float32)
        c = (rng.integers(-2**9, 2**9, size=shape) * c_scale).astype(np.float32)
        if trial % 2:
            c = (c + rng.normal(0, c_scale, shape)).astype(np.float32)
        want = mlgru_scan(f, c, c_scale, f_bits)
        got = mlgru_scan_torch(torch.from_numpy(f).to(device), torch.from_numpy(c).to(device), torch.tensor([c_scale]), f_bits)
        assert got.device.type == device and np.array_equal(got.cpu().numpy(), want), (trial, f_bits, c_scale, shape)


def test_torch_forms_catch_a_wrong_definition():
    """Companion: the same comparison fails for plausible wrong torch forms: the MLGRU rounding ties to
    even (torch.round) instead of up, the softmax truncating scores to integers where the definition rounds them."""
    rng = np.random.default_rng(9)
    f = (rng.integers(0, 16, size=(2, 30, 8)) / 16).astype(np.float32)
    c = (rng.integers(-512, 512, size=(2, 30, 8)) / 32).astype(np.float32)
    h = torch.zeros(2, 8, dtype=torch.float64)
    tied_to_even = []
    for t in range(30):
        h = torch.round((torch.from_numpy(f[:, t]).double() * h + (1 - torch.from_numpy(f[:, t]).double())
                         * torch.from_numpy(c[:, t]).double()) * 32) / 32
        tied_to_even.append(h.float())
    assert not np.array_equal(torch.stack(tied_to_even, 1).numpy(), mlgru_scan(f, c, np.float32(1 / 32), 4))
    x = (_scores((64, 16), 0.05, 8, seed=3) + rng.normal(0, 0.05, (64, 16))).astype(np.float32)
    truncated = (torch.from_numpy(x) / 0.05).long()  # .long() truncates where the definition rounds
    wrong = int_softmax_codes_torch(truncated, 0.05, 8).numpy() / 256
    assert not np.array_equal(wrong, int_softmax(x, 0.05, 8))


def test_compiled_softmax_does_not_recompile_for_a_new_scale():
    """Under torch.compile the training softmax is one opaque operator: a new scale (a new exp() table, of another
    length) reuses the compiled graph and gives the numpy definition's bits. Companion: the same function written
    with the scale as a Python number (as the table is built) does recompile, which the check would see."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    x = _scores((2, 6, 6), 0.05, seed=4)
    scales = [0.05, 0.11, 0.3]

    def frames(fn, scale_arg):
        torch._dynamo.reset()
        counters.clear()
        compiled = torch.compile(fn, backend="eager", dynamic=False)
        outs = [compiled(torch.from_numpy(x / 0.05 * s), scale_arg(s)) for s in scales]
        return counters["stats"]["unique_graphs"], outs

    graphs, outs = frames(lambda t, s: int_softmax_torch(t, s, 4) * 2, lambda s: torch.tensor([s]))
    assert graphs == 1
    for s, got in zip(scales, outs):
        assert np.array_equal(got.numpy() / 2, int_softmax(x / 0.05 * s, s, 4))
    graphs, _ = frames(lambda t, s: int_softmax_codes_torch(torch.round(t / s), s, 4) * 2, float)
    assert graphs > 1
