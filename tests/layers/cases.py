"""One python-execution case per registered hardware layer: inputs, attributes and the expected output
from a numpy golden model written here (or the export's own op definition in ``quant_models.int_ops``,
which the layer must equal). ``tests/layers/test_layers.py`` runs every registered layer through its
case, so a layer without one fails there."""

import numpy as np
from qonnx.custom_op.general.intquant import int_quant

from quant_models.int_ops import int_softmax_codes, mlgru_codes

RNG = np.random.default_rng(0)


def _ints(lo, hi, shape):
    return RNG.integers(lo, hi, size=shape)


def stream_layout():
    x = _ints(-8, 8, (1, 2, 3, 4))
    gather = np.arange(24).reshape(1, 2, 3, 4).transpose(0, 2, 1, 3).ravel()
    attrs = dict(in_shape=[1, 2, 3, 4], out_shape=[1, 3, 2, 4], gather=[int(g) for g in gather],
                 inputDataType="INT4", outputDataType="INT4", PE=2)
    return {"x": x}, attrs, x.transpose(0, 2, 1, 3)


def pad_stream():
    x = _ints(-1, 2, (1, 3, 4, 2))
    attrs = dict(in_shape=[1, 3, 4, 2], out_shape=[1, 5, 6, 2], pads=[0, 0, 1, 1, 0, 2, 0, 0], value=1.0,
                 inputDataType="INT2", outputDataType="INT2")
    want = np.ones((1, 5, 6, 2))
    want[:, 1:4, 0:4] = x
    return {"x": x}, attrs, want


def add_streams():
    a, b = _ints(-8, 8, (1, 5, 4)), _ints(-8, 8, (1, 5, 4))
    attrs = dict(in_shape=[1, 5, 4], out_shape=[1, 5, 4], inputDataType="INT4", inputDataType1="INT4",
                 outputDataType="INT5", signs1=[1, -1, 1, -1], PE=2)
    return {"a": a, "b": b}, attrs, a + b * np.array([1, -1, 1, -1])


def mul_streams():
    a, b = _ints(-8, 8, (1, 5, 4)), _ints(0, 16, (1, 5, 4))
    attrs = dict(in_shape=[1, 5, 4], out_shape=[1, 5, 4], inputDataType="INT4", inputDataType1="UINT4",
                 outputDataType="INT8", PE=4)
    return {"a": a, "b": b}, attrs, a * b


def grid_pool_sum():
    x = _ints(-8, 8, (1, 12, 3))  # a 3x4 token grid, 3 channels; 1x3 window, padded along the width
    attrs = dict(in_shape=[1, 12, 3], out_shape=[1, 12, 3], grid=[3, 4], kernel=[1, 3], pads=[0, 1],
                 inputDataType="INT4", outputDataType="INT6")
    g = np.pad(x.reshape(3, 4, 3), ((0, 0), (1, 1), (0, 0)))
    return {"x": x}, attrs, (g[:, :-2] + g[:, 1:-1] + g[:, 2:]).reshape(1, 12, 3)


def token_sum():
    x = _ints(-128, 128, (1, 4, 8))
    attrs = dict(in_shape=[1, 4, 8], out_shape=[1, 8], inputDataType="INT8", outputDataType="INT10", PE=2)
    return {"x": x}, attrs, x.sum(axis=1)


def window_max():
    """3x3 windows (sliding-window order: position outer, channel inner) of INT4 over 2x3 output pixels."""
    x = _ints(-8, 8, (1, 2, 3, 9 * 4))
    attrs = dict(in_shape=[1, 2, 3, 36], out_shape=[1, 2, 3, 4], inputDataType="INT4", outputDataType="INT4", PE=2,
                 kernel_elems=9)
    return {"x": x}, attrs, x.reshape(1, 2, 3, 9, 4).max(axis=3)


def insert_tokens():
    """A class token ahead of 3 tokens of INT5 and a token behind them."""
    x = _ints(-16, 16, (1, 3, 4))
    before, after = _ints(-16, 16, (1, 4)), _ints(-16, 16, (1, 4))
    attrs = dict(in_shape=[1, 3, 4], out_shape=[1, 5, 4], inputDataType="INT5", outputDataType="INT5", PE=2,
                 before=[int(v) for v in before.ravel()], after=[int(v) for v in after.ravel()])
    return {"x": x}, attrs, np.concatenate([before[None], x, after[None]], axis=1)


def concat_streams():
    """Channels of INT4 and UINT3 joined on an NHWC grid (INT5 out)."""
    a, b = _ints(-8, 8, (1, 2, 3, 4)), _ints(0, 8, (1, 2, 3, 6))
    attrs = dict(in_shape=[1, 2, 3, 4], in_shape1=[1, 2, 3, 6], out_shape=[1, 2, 3, 10], axis=3, PE=2,
                 inputDataType="INT4", inputDataType1="UINT3", outputDataType="INT5")
    return {"a": a, "b": b}, attrs, np.concatenate([a, b], axis=3)


def sum_parts():
    """Two heads' float outputs side by side, summed."""
    x = np.array([[0.5, -1.25, 2.0, 0.75, 3.0, -0.25]], dtype=np.float32)
    attrs = dict(in_shape=[1, 6], out_shape=[1, 3], parts=2, inputDataType="FLOAT32", outputDataType="FLOAT32")
    return {"x": x}, attrs, np.array([[1.25, 1.75, 1.75]], dtype=np.float32)


def top_k_labels():
    """The 3 largest of 6 values per row, with a tie (the lower index first)."""
    x = np.array([[0.5, -1.0, 2.0, 0.5, 3.0, -0.25], [1.0, 1.0, 1.0, 0.0, -2.0, 1.0]], dtype=np.float32)
    attrs = dict(in_shape=[2, 6], out_shape=[2, 3], inputDataType="FLOAT32", outputDataType="UINT3", K=3)
    return {"x": x}, attrs, np.array([[4, 2, 0], [0, 1, 2]], dtype=np.float32)


def stream_matmul():
    a, b = RNG.choice([-1, 1], size=(1, 2, 5, 8)), RNG.choice([-1, 1], size=(1, 2, 8, 5))
    attrs = dict(in_shape=[1, 2, 5, 8], in_shape1=[1, 2, 8, 5], out_shape=[1, 2, 5, 5], inputDataType="BIPOLAR",
                 inputDataType1="BIPOLAR", outputDataType="INT5", SIMD=4, PE=5)
    want = np.einsum("bhmk,bhkn->bhmn", a, b)
    return {"a": a, "b": b}, attrs, want


def stream_softmax():
    z = _ints(-128, 128, (1, 2, 6, 6))
    attrs = dict(in_shape=list(z.shape), out_shape=list(z.shape), inputDataType="INT8", outputDataType="UINT4",
                 scale=0.05, out_bits=4, PE=2)
    return {"z": z}, attrs, int_softmax_codes(z, 0.05, 4)


def stream_mlgru():
    f, c = _ints(0, 16, (1, 9, 4)), _ints(-128, 128, (1, 9, 4))
    attrs = dict(in_shape=list(c.shape), out_shape=list(c.shape), inputDataType="UINT4", inputDataType1="INT8",
                 outputDataType="INT8", f_bits=4)
    return {"f": f, "c": c}, attrs, mlgru_codes(f, c, 4)


def shift_requant():
    n = np.arange(-600, 600).reshape(1, -1, 1)
    attrs = dict(in_shape=list(n.shape), out_shape=list(n.shape), shift=-2, qmin=-128, qmax=127,
                 inputDataType="INT11", outputDataType="INT8")
    want = int_quant((n * 2.0**-5).astype(np.float32), np.float32(2**-3), np.float32(0), np.float32(8), True, False,
                     "ROUND") / 2**-3
    return {"n": n}, attrs, want


def channel_requant():
    n = np.arange(-40, 40).reshape(1, -1, 1).repeat(2, axis=2)
    mult, add, shift = np.array([3, -5]), np.array([7, 100]), 4
    attrs = dict(in_shape=list(n.shape), out_shape=list(n.shape), mult=[3, -5], add=[7, 100], shift=shift, levels=15,
                 qmin=-8, inputDataType="INT7", outputDataType="INT4")
    return {"n": n}, attrs, -8 + np.clip(np.floor((mult * n + add) / 2.0**shift), 0, 15)


def channel_float():
    x = _ints(-8, 8, (1, 3, 2))
    consts = np.array([[0.5, 0.25], [1.0, -3.0]], dtype=np.float32)
    attrs = dict(in_shape=[1, 3, 2], out_shape=[1, 3, 2], ops=["Mul", "Add"], inputDataType="INT4",
                 outputDataType="FLOAT32")
    return {"x": x, "consts": consts}, attrs, (x.astype(np.float32) * consts[0]).astype(np.float32) + consts[1]


#: layer op type -> its case
CASES = {
    "StreamLayout": stream_layout, "PadStream": pad_stream, "AddStreams": add_streams, "MulStreams": mul_streams,
    "GridPoolSum": grid_pool_sum, "TokenSum": token_sum, "StreamMatMul": stream_matmul,
    "StreamSoftmax": stream_softmax, "StreamMLGRU": stream_mlgru, "ShiftRequant": shift_requant,
    "ChannelRequant": channel_requant, "ChannelFloat": channel_float, "WindowMax": window_max,
    "InsertTokens": insert_tokens, "TopKLabels": top_k_labels, "ConcatStreams": concat_streams,
    "SumParts": sum_parts,
}
