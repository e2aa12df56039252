"""Hardware layers of our own for what FINN has no layer for: the transformer's integer softmax,
matmuls of two activation streams, the MLGRU recurrence, token-grid pooling, token sums, integer
stream adds, layout changes, padding with a value and the final per-channel float output scale.

Each is a FINN ``HWCustomOp`` (so FINN's partitioning, folding analysis and estimates treat it as
a dataflow layer) in the ONNX domain ``build_flows.hw_ops``. Python execution is exact integer
arithmetic (the single definitions in :mod:`quant_models.int_ops` where they exist); folding is
by ``PE`` (and ``SIMD`` for matmuls); cycle and resource estimates are first-order models of a
streaming implementation, stated in each class. Streams are channels-last like FINN's.
"""

from __future__ import annotations

import math

import numpy as np
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from qonnx.core.datatype import DataType

from build_flows.boards import LUT_PER_BINARY_MAC
from quant_models.int_ops import int_softmax_codes, mlgru_codes

DOMAIN = "finn.custom_op.fpgadataflow.qvit"  # an alias of this module, set in build_flows/__init__.py
BRAM18_BITS = 18 * 1024
LUTRAM_BITS = 64  # one LUT6 as 64x1 distributed RAM


def memory_cost(bits: int) -> tuple[int, int]:
    """(BRAM18, LUT) to hold ``bits``: distributed RAM up to 16 kbit, block RAM above."""
    if bits <= 16 * 1024:
        return 0, math.ceil(bits / LUTRAM_BITS)
    return math.ceil(bits / BRAM18_BITS), 0


class QvitHWOp(HWCustomOp):
    """Shared parts: ``PE`` lanes on the last axis,
    ``inputDataType``/``outputDataType`` attributes, normal shapes from attributes."""

    def get_nodeattr_types(self):
        attrs = {
            "PE": ("i", False, 1),
            "inputDataType": ("s", True, ""),
            "outputDataType": ("s", True, ""),
            "in_shape": ("ints", True, []),
            "out_shape": ("ints", True, []),
        }
        attrs.update(super().get_nodeattr_types())
        return attrs

    # shapes -------------------------------------------------------------
    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("in_shape"))

    def get_normal_output_shape(self, ind=0):
        return tuple(self.get_nodeattr("out_shape"))

    def _fold(self, shape):
        pe = self.get_nodeattr("PE")
        if shape[-1] % pe:
            raise ValueError(f"{self.onnx_node.name}: PE={pe} does not divide the last dimension {shape[-1]}")
        return tuple(shape[:-1]) + (shape[-1] // pe, pe)

    def get_folded_input_shape(self, ind=0):
        return self._fold(self.get_normal_input_shape(ind))

    def get_folded_output_shape(self, ind=0):
        return self._fold(self.get_normal_output_shape())

    # datatypes ----------------------------------------------------------
    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType")]

    def get_output_datatype(self, ind=0):
        return DataType[self.get_nodeattr("outputDataType")]

    def get_instream_width(self, ind=0):
        return self.get_input_datatype(ind).bitwidth() * self.get_nodeattr("PE")

    def get_outstream_width(self, ind=0):
        return self.get_output_datatype().bitwidth() * self.get_nodeattr("PE")

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def make_shape_compatible_op(self, model):
        return super().make_const_shape_op(self.get_normal_output_shape())

    def verify_node(self):
        return []

    # estimates ----------------------------------------------------------
    def elements(self) -> int:
        return int(np.prod(self.get_normal_output_shape()))

    def get_exp_cycles(self):
        """One output word of PE elements per cycle."""
        return self.elements() // self.get_nodeattr("PE")

    def lut_estimation(self):
        return 0

    def bram_estimation(self):
        return 0

    def uram_estimation(self):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0

    def node_res_estimation(self, fpgapart=None):
        return {"LUT": int(self.lut_estimation()), "BRAM_18K": int(self.bram_estimation()), "URAM": 0,
                "DSP": int(self.dsp_estimation(fpgapart))}

    def _store(self, context, value):
        context[self.onnx_node.output[0]] = np.asarray(value, dtype=np.float32).reshape(self.get_normal_output_shape())


class StreamLayout(QvitHWOp):
    """Reorder a tensor: ``y.flat = x.flat[gather]`` (any run of reshapes and transposes: heads
    split/merge, token/grid views, NCHW/NHWC). Hardware: a reorder buffer holding one tensor,
    written in input order and read in output order; PE elements per cycle."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"gather": ("ints", True, [])})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(-1)
        self._store(context, x[np.asarray(self.get_nodeattr("gather"), dtype=np.int64)])

    def bram_estimation(self):
        return memory_cost(self.elements() * self.get_output_datatype().bitwidth())[0]

    def lut_estimation(self):
        buffer_luts = memory_cost(self.elements() * self.get_output_datatype().bitwidth())[1]
        return buffer_luts + 40 + 2 * self.get_outstream_width()


class PadStream(QvitHWOp):
    """Constant padding by ``pads`` ((before, after) per axis, flattened) with ``value`` (the pad
    value on the stream's integer grid: +1 for binary streams). Hardware: a counter-driven multiplexer."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"pads": ("ints", True, []), "value": ("f", False, 0.0)})
        return attrs

    def execute_node(self, context, graph):
        p = self.get_nodeattr("pads")
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape())
        self._store(context, np.pad(x, [(p[2 * i], p[2 * i + 1]) for i in range(x.ndim)],
                                    constant_values=self.get_nodeattr("value")))

    def lut_estimation(self):
        return 30 + self.get_outstream_width()


class AddStreams(QvitHWOp):
    """Integer sum of two streams of one shape (residual adds; both sides share one quantizer), with
    optional per-channel signs ``signs0``/``signs1`` (+1/-1: add or subtract per channel, for
    channels whose quantizer counts downwards)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"inputDataType1": ("s", True, ""), "signs0": ("ints", False, []), "signs1": ("ints", False, [])})
        return attrs

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType1" if ind == 1 else "inputDataType")]

    def _signed(self, x, k):
        signs = self.get_nodeattr(f"signs{k}")
        x = x.reshape(self.get_normal_output_shape()).astype(np.float64)
        return x * np.asarray(signs, dtype=np.float64) if signs else x

    def execute_node(self, context, graph):
        a, b = (context[i] for i in self.onnx_node.input)
        self._store(context, self._signed(a, 0) + self._signed(b, 1))

    def lut_estimation(self):
        return self.get_outstream_width() + 10


class MulStreams(AddStreams):
    """Integer product of two streams of one shape (gated units: GLU, output gates)."""

    def execute_node(self, context, graph):
        a, b = (context[i] for i in self.onnx_node.input)
        shape = self.get_normal_output_shape()
        self._store(context, a.reshape(shape).astype(np.float64) * b.reshape(shape))

    def dsp_estimation(self, fpgapart=None):
        return self.get_nodeattr("PE") if self.get_outstream_width() > 16 * self.get_nodeattr("PE") else 0

    def lut_estimation(self):
        bits = self.get_input_datatype(0).bitwidth() * self.get_input_datatype(1).bitwidth()
        return self.get_nodeattr("PE") * int(1.1 * bits) + 10


class GridPoolSum(QvitHWOp):
    """Window sums over the token grid: tokens [N, H*W, C] viewed as [N, H, W, C], a ``kernel``
    (kh, kw) window at stride 1 with zero padding ``pads`` (ph, pw) on both sides; gives the sums
    [N, H*W, C] (an average pool before its division, which folds into the next thresholds).
    Hardware: a line buffer of kh-1 rows and an adder tree per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"grid": ("ints", True, []), "kernel": ("ints", True, []), "pads": ("ints", True, [])})
        return attrs

    def execute_node(self, context, graph):
        h, w = self.get_nodeattr("grid")
        kh, kw = self.get_nodeattr("kernel")
        ph, pw = self.get_nodeattr("pads")
        n, _, c = self.get_normal_input_shape()
        x = context[self.onnx_node.input[0]].reshape(n, h, w, c).astype(np.float64)
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        oh, ow = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
        out = sum(xp[:, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw))
        self._store(context, out)

    def _line_bits(self):
        kh, _ = self.get_nodeattr("kernel")
        _, w = self.get_nodeattr("grid")
        c = self.get_normal_input_shape()[-1]
        return max(kh - 1, 1) * (w + 2 * self.get_nodeattr("pads")[1]) * c * self.get_input_datatype().bitwidth()

    def bram_estimation(self):
        return memory_cost(self._line_bits())[0]

    def lut_estimation(self):
        kh, kw = self.get_nodeattr("kernel")
        return memory_cost(self._line_bits())[1] + (kh * kw - 1) * self.get_outstream_width() + 40


class TokenSum(QvitHWOp):
    """Sum over the token axis: [N, T, C] -> [N, C] (global average pooling before its division).
    Hardware: one accumulator per channel."""

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape()).astype(np.float64)
        self._store(context, x.sum(axis=1))

    def get_exp_cycles(self):
        return int(np.prod(self.get_normal_input_shape())) // self.get_nodeattr("PE")

    def lut_estimation(self):
        c = self.get_normal_input_shape()[-1]
        acc = memory_cost(c * self.get_output_datatype().bitwidth())[1]
        return acc + self.get_outstream_width() + 20


class StreamMatMul(QvitHWOp):
    """Product of two activation streams ``a [..., M, K] @ b [..., K, N]`` (attention scores and
    attention times values). Hardware: ``b`` of one batch is buffered, rows of ``a`` stream past a
    PE x SIMD array (XNOR-popcount when both are binary, LUT multipliers otherwise)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"SIMD": ("i", False, 1), "inputDataType1": ("s", True, ""), "in_shape1": ("ints", True, []),
                      "signs": ("ints", False, [])})
        return attrs

    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("in_shape1" if ind == 1 else "in_shape"))

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType1" if ind == 1 else "inputDataType")]

    def get_folded_input_shape(self, ind=0):
        shape = self.get_normal_input_shape(ind)
        simd = self.get_nodeattr("SIMD")
        if shape[-1 if ind == 0 else -2] % simd:
            raise ValueError(f"{self.onnx_node.name}: SIMD={simd} does not divide K")
        return tuple(shape[:-1]) + (shape[-1] // simd, simd) if ind == 0 else self._fold(shape)

    def get_instream_width(self, ind=0):
        lanes = self.get_nodeattr("SIMD") if ind == 0 else self.get_nodeattr("PE")
        return self.get_input_datatype(ind).bitwidth() * lanes

    def execute_node(self, context, graph):
        a, b = (context[i].reshape(self.get_normal_input_shape(j)).astype(np.float64) for j, i in enumerate(self.onnx_node.input))
        signs = self.get_nodeattr("signs")  # per K: +1 add, -1 subtract (channels whose quantizer counts down)
        if signs:
            a = a * np.asarray(signs, dtype=np.float64)
        self._store(context, np.matmul(a, b))

    def macs(self) -> int:
        *batch, m, k = self.get_normal_input_shape(0)
        return int(np.prod(batch, dtype=np.int64)) * m * k * self.get_normal_input_shape(1)[-1]

    def binary(self) -> bool:
        return self.get_input_datatype(0).bitwidth() == 1 and self.get_input_datatype(1).bitwidth() == 1

    def get_exp_cycles(self):
        return self.macs() // (self.get_nodeattr("PE") * self.get_nodeattr("SIMD"))

    def _buffer_bits(self):
        k, n = self.get_normal_input_shape(1)[-2:]
        return 2 * k * n * self.get_input_datatype(1).bitwidth()  # double-buffered b

    def bram_estimation(self):
        return memory_cost(self._buffer_bits())[0]

    def lut_estimation(self):
        lanes = self.get_nodeattr("PE") * self.get_nodeattr("SIMD")
        if self.binary():
            per_mac = LUT_PER_BINARY_MAC
        else:
            per_mac = 1.1 * self.get_input_datatype(0).bitwidth() * self.get_input_datatype(1).bitwidth()
        return int(lanes * per_mac) + memory_cost(self._buffer_bits())[1] + 60


class IntSoftmaxHW(QvitHWOp):
    """Integer softmax over the last axis (:func:`quant_models.int_ops.int_softmax_codes`): integer
    scores in, probability codes 0..2**out_bits-1 out. Hardware: a row buffer; pass 1 finds the
    row maximum, pass 2 reads exp(-d*scale) from a lookup table and sums, pass 3 divides (one
    DSP per lane); passes overlap across rows, so one row takes N/PE cycles."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"scale": ("f", True, 1.0), "out_bits": ("i", True, 4), "mask_diagonal": ("i", False, 0)})
        return attrs

    def execute_node(self, context, graph):
        z = np.round(context[self.onnx_node.input[0]]).astype(np.int64).reshape(self.get_normal_input_shape())
        codes = int_softmax_codes(z, self.get_nodeattr("scale"), self.get_nodeattr("out_bits"),
                                  bool(self.get_nodeattr("mask_diagonal")))
        self._store(context, codes)

    def _lut_entries(self):
        dt = self.get_input_datatype()
        return int(dt.max() - dt.min() + 1)

    def bram_estimation(self):
        n = self.get_normal_input_shape()[-1]
        row = 2 * n * self.get_input_datatype().bitwidth()
        table = self._lut_entries() * 17
        return memory_cost(row)[0] + memory_cost(table)[0]

    def lut_estimation(self):
        n = self.get_normal_input_shape()[-1]
        pe = self.get_nodeattr("PE")
        row = memory_cost(2 * n * self.get_input_datatype().bitwidth())[1]
        table = memory_cost(self._lut_entries() * 17)[1] * pe
        return row + table + pe * (3 * self.get_input_datatype().bitwidth() + 17 + 40) + 80

    def dsp_estimation(self, fpgapart=None):
        return self.get_nodeattr("PE")


class MLGRUHW(QvitHWOp):
    """MLGRU recurrence over tokens (:func:`quant_models.int_ops.mlgru_codes`): gate codes F
    (input 0) and candidate integers C (input 1), both [N, T, C]; gives H of C's type. Hardware:
    the state of C channels in distributed RAM, a multiply-add and a divide-by-constant per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"f_bits": ("i", True, 4), "inputDataType1": ("s", True, "")})
        return attrs

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType1" if ind == 1 else "inputDataType")]

    def execute_node(self, context, graph):
        f, c = (np.round(context[i]).astype(np.int64).reshape(self.get_normal_input_shape()) for i in self.onnx_node.input)
        self._store(context, mlgru_codes(f, c, self.get_nodeattr("f_bits")))

    def lut_estimation(self):
        c = self.get_normal_input_shape()[-1]
        cb = self.get_input_datatype(1).bitwidth()
        fb = self.get_nodeattr("f_bits")
        state = memory_cost(c * cb)[1]
        return state + self.get_nodeattr("PE") * (2 * fb * cb + 3 * (cb + fb)) + 30


class ShiftRequant(QvitHWOp):
    """Requantization by a power of two: ``code = clip(round_half_even(n * 2**shift + offset), qmin,
    qmax)`` per element (``offset`` per channel, a dyadic fraction). It replaces a threshold layer
    when the quantizer's input is an exact power-of-two rescaling of the integer stream (residual
    streams, pure rescales), at a few LUTs per lane instead of 2**bits thresholds per channel."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"shift": ("i", True, 0), "offset": ("floats", False, []), "qmin": ("i", True, 0),
                      "qmax": ("i", True, 0)})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape()).astype(np.float64)
        y = x * 2.0 ** self.get_nodeattr("shift")
        offset = self.get_nodeattr("offset")
        if offset:
            y = y + np.asarray(offset, dtype=np.float64)
        self._store(context, np.clip(np.round(y), self.get_nodeattr("qmin"), self.get_nodeattr("qmax")))

    def lut_estimation(self):
        bits = self.get_input_datatype().bitwidth()
        return self.get_nodeattr("PE") * (2 * bits + 4) + 10


class ChannelRequant(QvitHWOp):
    """A quantizer as a per-channel fixed-point affine map: ``out = qmin + clip(floor((mult_c * n +
    add_c) / 2**shift), 0, levels)``, fitted so that it equals the thresholds it replaces on every
    input value (:func:`build_flows.thresholds.fit_fixed_point`). Hardware: one multiply-add per
    lane (DSP) and the per-channel constants, instead of 2**bits - 1 thresholds per channel."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"mult": ("ints", True, []), "add": ("ints", True, []), "shift": ("i", True, 0),
                      "levels": ("i", True, 1), "qmin": ("i", True, 0)})
        return attrs

    def execute_node(self, context, graph):
        n = np.round(context[self.onnx_node.input[0]]).astype(np.int64).reshape(self.get_normal_input_shape())
        mult = np.asarray(self.get_nodeattr("mult"), dtype=np.int64)
        add = np.asarray(self.get_nodeattr("add"), dtype=np.int64)
        count = np.clip((mult * n + add) >> self.get_nodeattr("shift"), 0, self.get_nodeattr("levels"))
        self._store(context, count + self.get_nodeattr("qmin"))

    def _mult_bits(self):
        return max(int(abs(m)).bit_length() for m in self.get_nodeattr("mult")) + 1

    def dsp_estimation(self, fpgapart=None):
        per_lane = -(-self._mult_bits() // 18) * -(-self.get_input_datatype().bitwidth() // 27)
        return self.get_nodeattr("PE") * per_lane

    def lut_estimation(self):
        c = self.get_normal_input_shape()[-1]
        params = memory_cost(c * (self._mult_bits() + self._mult_bits() + self.get_input_datatype().bitwidth()))[1]
        return params + self.get_nodeattr("PE") * (2 * self.get_output_datatype().bitwidth() + 30) + 20


class ChannelFloat(QvitHWOp):
    """The network's last elementwise float operations (output scale, bias) on an integer stream:
    input 1 holds one row of per-channel constants per operation, ``ops`` names them (Mul, Add,
    Div, Sub), applied in order in float32 exactly as the exported graph does. Hardware: float32
    multiply/add units (about 3 DSP each) per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"ops": ("strings", True, [])})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].astype(np.float32).reshape(self.get_normal_input_shape())
        consts = context[self.onnx_node.input[1]].astype(np.float32)
        self._store(context, apply_chain(x, self.get_nodeattr("ops"), list(consts)))

    def dsp_estimation(self, fpgapart=None):
        return 3 * len(self.get_nodeattr("ops")) * self.get_nodeattr("PE")

    def lut_estimation(self):
        return 150 * len(self.get_nodeattr("ops")) * self.get_nodeattr("PE")


def apply_chain(x: np.ndarray, ops, consts) -> np.ndarray:
    """Apply elementwise float32 operations in order, as onnxruntime does (x op c, broadcast)."""
    x = np.asarray(x, dtype=np.float32)
    for op, c in zip(ops, consts):
        c = np.asarray(c, dtype=np.float32)
        if op == "Mul":
            x = x * c
        elif op == "Add":
            x = x + c
        elif op == "Div":
            x = x / c
        elif op == "Sub":
            x = x - c
        else:
            raise ValueError(f"unsupported elementwise op {op}")
        x = x.astype(np.float32)
    return x


custom_op = {cls.__name__: cls for cls in (StreamLayout, PadStream, AddStreams, MulStreams, GridPoolSum, TokenSum, StreamMatMul,
                                           IntSoftmaxHW, MLGRUHW, ShiftRequant, ChannelRequant,
                                           ChannelFloat)}
