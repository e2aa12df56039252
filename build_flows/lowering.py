"""Lower an exported QONNX graph to hardware layers, exactly.

The pass walks the graph once in topological order and tracks, for every float tensor of the
source graph, a :class:`Form`: an integer tensor of the new graph plus the chain of elementwise
float32 operations that turns it into the source value. Rules:

- a quantizer (``Quant``, ``BipolarQuant``) becomes FINN's ``Thresholding`` layer on the integer
  tensor, its thresholds found on the chain itself (:mod:`build_flows.thresholds`): BatchNorm,
  affine, scales, average divisions and sigmoids all fold into thresholds, bit-exactly;
- a linear layer (``MatMul``/``Gemm`` with weights, ``Conv``) becomes FINN's ``MVAU`` (with FINN's
  ``ConvolutionInputGenerator`` for convolutions) on integer weights, when its input is an exact
  affine function of the integer tensor (power-of-two scales: see README); the scales move behind
  it into the chain;
- the transformer's other nodes become our layers (:mod:`build_flows.hw_ops`): matmuls of two
  streams, integer softmax, MLGRU, integer adds and products of streams, token-grid pooling, token
  sums, padding, layout changes (every reshape/transpose run collapses into one reorder, or none);
- the remaining chain at the graph output becomes one ``ChannelFloat`` layer.

A node that fits no rule is copied unchanged and recorded with the reason, so the validation pass
lists every one. Hardware layers are channels-last; NCHW nodes are wrapped in reorders that cancel
against their neighbours'.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import qonnx_make_model

from build_flows.hw_ops import DOMAIN as QDOMAIN
from build_flows.hw_ops import apply_chain
from build_flows.thresholds import NotMonotonicError, find_steps, fit_fixed_point

FINN_DOMAIN = "finn.custom_op.fpgadataflow"
ELEMENTWISE = ("Mul", "Add", "Div", "Sub")
UNARY = ("Sigmoid", "Tanh", "Relu")
EXACT_BITS = 24  # float32 mantissa: integers times a power of two are exact up to this many bits
FIXED_POINT_MIN_LEVELS = 31  # quantizers with this many steps or more try a fixed-point requantizer first


class Unmappable(Exception):
    """This node cannot become a hardware layer; the message says why."""


@dataclass
class Form:
    """Source value = ``chain`` applied to the new graph's tensor ``name``, viewed through ``gather``
    (a reorder not yet emitted; None: the same element order) in the source ``shape``. ``chain`` is
    [(op, const)] with consts broadcastable to the source shape; ``dtype`` is the tensor's datatype
    (FLOAT32 for a tensor that is not on an integer grid)."""

    name: str
    dtype: DataType
    shape: tuple
    chain: list = field(default_factory=list)
    gather: np.ndarray | None = None  # a pending reorder: source = tensor.flat[gather].reshape(shape)

    @property
    def is_int(self) -> bool:
        return self.dtype.is_integer()


def _pow2(x: np.ndarray) -> bool:
    x = np.abs(np.asarray(x, dtype=np.float64))
    m, _ = np.frexp(x)
    return bool(np.all((x > 0) & (m == 0.5)))


def _grid_unit(x: np.ndarray) -> float:
    """The largest power of two of which every element of x is an integer multiple (inf for all-zero)."""
    x = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    x = x[x > 0]
    if not len(x):
        return np.inf
    unit = np.inf
    for v in np.unique(x):
        m, e = np.frexp(v)
        mant = int(m * 2**53)
        tz = (mant & -mant).bit_length() - 1
        unit = min(unit, 2.0 ** (e - 53 + tz))
    return unit


def _per_channel(c, shape) -> np.ndarray:
    """A const broadcast over ``shape`` reduced to [C] (last axis); Unmappable if it varies elsewhere."""
    full = np.broadcast_to(np.asarray(c, dtype=np.float32), shape)
    flat = full.reshape(-1, shape[-1])
    if not np.all(flat == flat[:1]):
        raise Unmappable("a constant varies along a non-channel axis (per-token constant), so it cannot fold into "
                         "per-channel thresholds")
    return flat[0].copy()


def _affine(form: Form):
    """(a, b) per channel with value = a * n + b computed exactly in float32, or None."""
    a = np.ones(form.shape[-1])
    b = np.zeros(form.shape[-1])
    for op, c in form.chain:
        if op not in ELEMENTWISE:
            return None
        try:
            c = _per_channel(c, form.shape).astype(np.float64)
        except Unmappable:
            return None
        if op == "Mul" and _pow2(c):
            a, b = a * c, b * c
        elif op == "Div" and _pow2(c):
            a, b = a / c, b / c
        elif op in ("Add", "Sub"):
            b = b + c if op == "Add" else b - c
        else:
            return None
    lo, hi = form.dtype.min(), form.dtype.max()
    unit = min(np.abs(a).min(), _grid_unit(b))
    peak = (np.abs(a) * max(abs(lo), abs(hi)) + np.abs(b)).max()
    if unit == 0 or peak / unit >= 2.0**EXACT_BITS or _grid_unit(b) < unit:
        return None
    return a, b


class Lowering:
    """Builds the hardware graph from a source ModelWrapper; ``unmapped`` lists [{name, op_type, reason}]."""

    def __init__(self, src: ModelWrapper):
        self.src = src
        self.nodes, self.inits, self.dtypes, self.shapes = [], {}, {}, {}
        self.forms: dict[str, Form] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.unmapped: list[dict] = []
        self.count = 0
        self.debug = False

    # ------------------------------------------------------------ helpers
    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def tensor(self, shape, dtype: DataType, base="t") -> str:
        name = self.fresh(base)
        self.shapes[name] = tuple(int(s) for s in shape)
        self.dtypes[name] = dtype
        return name

    def init(self, value: np.ndarray, dtype: DataType, base="param", keep_dtype: bool = False) -> str:
        name = self.tensor(np.shape(value), dtype, base)
        self.inits[name] = np.asarray(value) if keep_dtype else np.asarray(value, dtype=np.float32)
        return name

    def emit(self, op_type, inputs, oshape, odtype, domain=QDOMAIN, name=None, **attrs) -> str:
        out = self.tensor(oshape, odtype, op_type)
        node = helper.make_node(op_type, inputs, [out], domain=domain, backend="fpgadataflow",
                                name=name or self.fresh(op_type), **attrs)
        self.nodes.append(node)
        return out

    def value_of(self, name):
        if name in self.consts:
            return self.consts[name]
        init = self.src.get_initializer(name)
        return None if init is None else np.asarray(init)

    # ------------------------------------------------------------ layout
    def layout(self, form: Form, fn, out_shape) -> Form:
        """A reorder ``fn`` (numpy function on one tensor) of a form, kept pending: runs of reorders
        compose, and :meth:`realize` emits one layer for them, or none when they cancel."""
        size = int(np.prod(form.shape))
        index = np.arange(size) if form.gather is None else form.gather
        chain = []
        for op, c in form.chain:
            if op == "BatchNormalization":
                chain.append((op, _move_norm(c, form.shape, fn)))
                continue
            c = np.asarray(c)
            chain.append((op, c if c.size == 1 else _compress(fn(np.broadcast_to(c, form.shape).copy()))))
        return Form(form.name, form.dtype, tuple(out_shape), chain, fn(index.reshape(form.shape)).ravel())

    def realize(self, form: Form, exact: bool = False) -> Form:
        """The form with its pending reorder emitted (a StreamLayout layer). With ``exact`` the tensor
        also has the source shape (else a reshape of the same element order may remain, which every
        layer of ours and FINN's MVAU accept)."""
        g = form.gather
        stored = self.shapes.get(form.name)
        identity = g is None or np.array_equal(g, np.arange(g.size))
        if identity and (not exact or stored == tuple(form.shape)):
            return Form(form.name, form.dtype, form.shape, form.chain)
        index = np.arange(int(np.prod(form.shape))) if g is None else g
        out = self.emit("StreamLayout", [form.name], form.shape, form.dtype, in_shape=list(stored),
                        out_shape=list(form.shape), gather=[int(i) for i in index],
                        inputDataType=form.dtype.name, outputDataType=form.dtype.name)
        return Form(out, form.dtype, tuple(form.shape), form.chain)

    def to_nhwc(self, form: Form) -> Form:
        n, c, h, w = form.shape
        return self.layout(form, lambda x: x.transpose(0, 2, 3, 1), (n, h, w, c))

    def to_nchw(self, form: Form) -> Form:
        n, h, w, c = form.shape
        return self.layout(form, lambda x: x.transpose(0, 3, 1, 2), (n, c, h, w))

    # ------------------------------------------------------------ quantizers
    def quantizer(self, form: Form, kind: str, params: dict, channels_last: bool = False) -> Form:
        """Thresholding layer for a quantizer on ``form``; the output form is scale * code. A 4-D
        (NCHW) form with per-channel constants is thresholded channels-last between two reorders."""
        if not channels_last and len(form.shape) == 4 and any(op == "BatchNormalization" or np.asarray(c).size > 1
                                                              for op, c in form.chain):
            return self.to_nchw(self.quantizer(self.to_nhwc(form), kind, params, True))
        form = self.realize(form, exact=True)
        channels = form.shape[-1]
        consts = [(op, _chain_const(op, c, form.shape)) for op, c in form.chain]
        if kind == "bipolar":
            qmin, qmax = 0, 1

            def code(x):
                return (self._chain_eval(x, consts) >= 0).astype(np.int64)
        else:
            scale, zp, bits = params["scale"], params["zeropt"], int(params["bitwidth"])
            signed, narrow = params["signed"], params["narrow"]
            if np.asarray(scale).size > 1 or np.asarray(zp).size > 1:
                raise Unmappable("a per-channel activation quantizer scale (not supported yet)")
            qmin = (-(2 ** (bits - 1)) + int(narrow)) if signed else 0
            qmax = (2 ** (bits - 1) - 1) if signed else 2**bits - 1 - int(narrow)
            s32, z32 = np.float32(scale), np.float32(zp)
            rnd = _rounding(params["rounding_mode"])

            def code(x):
                y = self._chain_eval(x, consts) / s32 + z32
                return rnd(np.clip(y, qmin, qmax))
        if form.is_int and kind != "bipolar":
            shifted = self._shift_requant(form, params, qmin, qmax)
            if shifted is not None:
                return shifted
        if form.is_int:
            lo, hi = int(form.dtype.min()), int(form.dtype.max())
            steps = find_steps(code, lo, hi, channels, qmin, qmax)
        else:
            steps = find_steps(code, None, None, channels, qmin, qmax)
        n_levels = qmax - qmin
        bipolar = kind == "bipolar"
        odt = DataType["BIPOLAR"] if bipolar else _dtype_for(qmin, qmax)
        fixed = None
        if form.is_int and n_levels >= FIXED_POINT_MIN_LEVELS:
            fixed = fit_fixed_point(steps, int(form.dtype.min()), int(form.dtype.max()))
        if fixed is not None:
            out = self.emit("ChannelRequant", [form.name], form.shape, odt, in_shape=list(form.shape),
                            out_shape=list(form.shape), inputDataType=form.dtype.name, outputDataType=odt.name,
                            mult=[int(m) for m in fixed.mult], add=[int(a) for a in fixed.add], shift=fixed.shift,
                            levels=n_levels, qmin=int(qmin))
        else:
            out = self._thresholding(form, steps, odt, n_levels, 0 if bipolar else int(qmin))
        # the layer gives qmin + count (rising) per channel; falling channels mean qmax - count
        falling = steps.falling.astype(bool)
        if bipolar:
            scale = np.float32(params["scale"])
            a = np.where(falling, -scale, scale).astype(np.float32)
            chain = [("Mul", a)] if (falling.any() or scale != 1) else []
            return Form(out, odt, tuple(form.shape), chain)
        scale = np.float32(params["scale"])
        zp = np.float32(params["zeropt"])
        # value = (code - zp) * scale; code = count + qmin, or qmax + qmin - (count + qmin) when falling
        sign = np.where(falling, -1.0, 1.0).astype(np.float32)
        offset = np.where(falling, qmax + qmin, 0).astype(np.float32) - zp
        chain = []
        if falling.any():
            chain.append(("Mul", sign))
        if np.any(offset != 0):
            chain.append(("Add", offset))
        chain.append(("Mul", np.array(scale, dtype=np.float32)))
        return Form(out, odt, tuple(form.shape), chain)

    def _thresholding(self, form: Form, steps, odt: DataType, n_levels: int, act_val: int) -> str:
        """FINN's Thresholding layer with the found thresholds."""
        t = steps.thresholds
        tdt = _dtype_for(t.min(), t.max()) if form.is_int else DataType["FLOAT32"]
        thr = self.init(t.astype(np.float32), tdt, "thresholds")
        return self.emit("Thresholding", [form.name, thr], form.shape, odt, domain=FINN_DOMAIN,
                         NumChannels=form.shape[-1], PE=1, numSteps=n_levels, inputDataType=form.dtype.name,
                         weightDataType=tdt.name, outputDataType=odt.name, numInputVectors=list(form.shape[:-1]),
                         ActVal=act_val)

    def _shift_requant(self, form: Form, params: dict, qmin: int, qmax: int) -> Form | None:
        """A ShiftRequant layer when the quantizer's input is a*n + b exactly with a / scale one power
        of two for all channels and round-half-even rounding; else None (thresholds are used)."""
        ab = _affine(form)
        mode = params["rounding_mode"]
        mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
        if ab is None or mode not in ("ROUND", "HALF_EVEN"):
            return None
        a, b = ab
        scale = float(np.asarray(params["scale"], dtype=np.float64))
        ratio = a / scale
        if not np.all(ratio == ratio[0]) or not _pow2(ratio) or ratio[0] < 0:
            return None
        offset = b / scale + float(params["zeropt"])
        shift = int(np.log2(ratio[0]))
        if np.abs(offset).max() * 2 ** max(0, -shift) >= 2**EXACT_BITS:
            return None
        odt = _dtype_for(qmin, qmax)
        extra = {"offset": [float(v) for v in offset]} if np.any(offset) else {}
        out = self.emit("ShiftRequant", [form.name], form.shape, odt, in_shape=list(form.shape), out_shape=list(form.shape),
                        inputDataType=form.dtype.name, outputDataType=odt.name, shift=shift, qmin=qmin, qmax=qmax, **extra)
        zp = np.float32(params["zeropt"])
        chain = ([("Add", -zp)] if zp else []) + [("Mul", np.float32(scale))]
        return Form(out, odt, tuple(form.shape), chain)

    def _chain_eval(self, x, consts):
        """The chain's float32 value at x, as QONNX execution computes it."""
        x = np.asarray(x, dtype=np.float32)
        for op, c in consts:
            if op in ELEMENTWISE:
                x = apply_chain(x, [op], [c])
            elif op == "BatchNormalization":
                x = _ort_batchnorm(x, c)
            else:
                x = _ort_unary(op, x)
        return x

    # ------------------------------------------------------------ linear layers
    def int_weights(self, w: np.ndarray, axis_out: int):
        """Split float weights into (integers, power-of-two scale per output channel along ``axis_out``)."""
        w = np.asarray(w, dtype=np.float64)
        moved = np.moveaxis(w, axis_out, 0).reshape(w.shape[axis_out], -1)
        scales = np.array([_grid_unit(r) if np.any(r) else 1.0 for r in moved])
        ints = moved / scales[:, None]
        if np.abs(ints).max() >= 2**EXACT_BITS:
            raise Unmappable("weights are not on a power-of-two grid (float weights; quantize them)")
        ints = np.moveaxis(ints.reshape(np.moveaxis(w, axis_out, 0).shape), 0, axis_out)
        return ints, scales

    def matmul(self, form: Form, w_int: np.ndarray, w_scale: np.ndarray, name: str) -> Form:
        """MVAU: x [..., K] @ w_int [K, N] on the integer tensor; output chain carries the scales."""
        ab = _affine(form) if form.is_int else None
        if ab is None:
            raise Unmappable("its input is not an exact integer-grid value (a float operation or a non-power-of-two "
                             "scale sits between the quantizer and this layer)")
        a, b = ab
        amin = np.abs(a).min()
        ratio = a / amin
        if not _pow2(ratio) and not np.all(np.abs(ratio) == 1):
            raise Unmappable("input scales differ per channel by non-power-of-two factors")
        w_eff = w_int * ratio[:, None]  # exact: powers of two times integers
        bias = (b / (amin)) @ w_int  # in units of amin * w_scale
        k, n = w_eff.shape
        idt = form.dtype
        wdt = _int_dtype(w_eff)
        bipolar = idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"]
        if bipolar:
            acc_dt = DataType.get_smallest_possible(k)
        else:
            lo, hi = _acc_range(idt, w_eff)
            acc_dt = _dtype_for(lo, hi)
        w_name = self.init(w_eff.astype(np.float32), wdt, "weights")
        lead = list(form.shape[:-1])
        out = self.emit("MVAU", [form.name, w_name], tuple(lead) + (n,), acc_dt, domain=FINN_DOMAIN, name=name,
                        MW=k, MH=n, SIMD=1, PE=1, inputDataType=idt.name, weightDataType=wdt.name,
                        outputDataType=acc_dt.name, accDataType=acc_dt.name, noActivation=1,
                        numInputVectors=lead, mem_mode="internal_decoupled", ram_style="auto")
        chain = []
        scale = (amin * w_scale).astype(np.float32)
        if bipolar:  # FINN's MVAU gives the popcount p of agreements: dot = 2p - K
            chain += [("Mul", np.float32(2)), ("Add", np.float32(-k))]
        if np.any(bias != 0):
            chain.append(("Add", bias.astype(np.float32)))
        chain.append(("Mul", scale))
        return Form(out, acc_dt, tuple(lead) + (n,), chain)

    # ------------------------------------------------------------ driver
    def run(self) -> ModelWrapper:
        src = self.src
        inp = src.graph.input[0]
        ishape = tuple(src.get_tensor_shape(inp.name))
        self.shapes[inp.name] = ishape
        self.dtypes[inp.name] = DataType["FLOAT32"]
        self.forms[inp.name] = Form(inp.name, DataType["FLOAT32"], ishape)
        for node in src.graph.node:
            if all(self.value_of(i) is not None for i in node.input if i):
                self._fold_constant(node)
                continue
            try:
                handler = getattr(self, f"op_{node.op_type}", None)
                if handler is None:
                    raise Unmappable(_no_rule(node.op_type))
                handler(node)
            except (Unmappable, NotMonotonicError) as e:
                if self.debug:
                    print(f"unmapped {node.name} ({node.op_type}): {e}")
                self._keep(node, str(e))
        out_name = src.graph.output[0].name
        final = self._form(out_name, exact=True)
        final_name = self._materialize(final)
        return self._model(inp, final_name, out_name)

    def _fold_constant(self, node):
        from qonnx.core.onnx_exec import execute_node

        ctx = {i: self.value_of(i) for i in node.input if i}
        for o in node.output:
            ctx[o] = None
        execute_node(node, ctx, self.src.graph, 13)
        for o in node.output:
            self.consts[o] = np.asarray(ctx[o])

    def _keep(self, node, reason):
        """Copy a node that did not map, on float versions of its inputs."""
        inputs = []
        for i in node.input:
            if not i:
                inputs.append(i)
            elif i in self.forms:
                inputs.append(self._materialize(self._form(i, exact=True)))
            else:
                v = self.value_of(i)
                inputs.append(self.init(np.asarray(v), DataType["FLOAT32"], "const", keep_dtype=True) if v is not None else i)
        outs = []
        for o in node.output:
            shape = self.src.get_tensor_shape(o)
            name = self.tensor(shape, DataType["FLOAT32"], node.op_type)
            outs.append(name)
            self.forms[o] = Form(name, DataType["FLOAT32"], tuple(shape))
        copy = helper.make_node(node.op_type, inputs, outs, name=node.name, domain=node.domain)
        copy.attribute.extend(node.attribute)
        self.nodes.append(copy)
        self.unmapped.append({"name": node.name, "op_type": node.op_type, "reason": reason, "output": outs[0]})

    def _materialize(self, form: Form) -> str:
        """A tensor holding the source value of ``form``: the chain as one ChannelFloat layer."""
        if not form.chain:
            return form.name
        cut = next((i for i, (op, _) in enumerate(form.chain) if op not in ELEMENTWISE), None)
        if cut is not None:
            rest = form.chain[cut:]
            form.chain = form.chain[:cut]
            self._materialize(form)
            form.chain = rest
            return self._float_nodes(form)
        try:
            consts = np.stack([np.broadcast_to(_per_channel(c, form.shape), (form.shape[-1],)) for _, c in form.chain])
        except Unmappable:  # per-element constants: a ROM beside the float units
            consts = np.stack([np.broadcast_to(np.asarray(c, np.float32), form.shape) for _, c in form.chain])
        cname = self.init(consts.astype(np.float32), DataType["FLOAT32"], "float_params")
        out = self.emit("ChannelFloat", [form.name, cname], form.shape, DataType["FLOAT32"],
                        in_shape=list(form.shape), out_shape=list(form.shape), ops=[op for op, _ in form.chain],
                        inputDataType=form.dtype.name, outputDataType="FLOAT32")
        form.chain, form.name, form.dtype = [], out, DataType["FLOAT32"]
        return out

    def _float_nodes(self, form: Form) -> str:
        """The chain as plain ONNX float nodes (recorded as unmapped): it ends at the graph output or
        at an unmapped node instead of at a quantizer, and holds an operation no float layer of ours has."""
        x = form.name
        for op, c in form.chain:
            name = self.fresh(f"float_{op}")
            out = self.tensor(form.shape, DataType["FLOAT32"], op)
            if op == "BatchNormalization":
                ins = [x] + [self.init(np.asarray(c[k], np.float32), DataType["FLOAT32"], k)
                             for k in ("scale", "bias", "mean", "var")]
                node = helper.make_node(op, ins, [out], name=name, epsilon=c["epsilon"])
                if len(form.shape) > 1 and c["axis"] != 1:
                    raise Unmappable("BatchNormalization at the output on a non-channel-first layout")
            elif op in UNARY:
                node = helper.make_node(op, [x], [out], name=name)
            else:
                const = self.init(np.asarray(c, np.float32), DataType["FLOAT32"], "const")
                node = helper.make_node(op, [x, const], [out], name=name)
            self.nodes.append(node)
            self.unmapped.append({"name": name, "op_type": op, "output": out, "reason": f"{op.lower()} not followed by a "
                                  "quantizer that folds it into thresholds (float operation at the output)"})
            x = out
        form.chain, form.name, form.dtype = [], x, DataType["FLOAT32"]
        return x

    def _model(self, inp, final_name, out_name) -> ModelWrapper:
        out_shape = self.shapes[final_name]
        nodes = self.nodes
        # rename the final tensor to the source output name
        for n in nodes:
            for i, o in enumerate(n.output):
                if o == final_name:
                    n.output[i] = out_name
            for i, x in enumerate(n.input):
                if x == final_name:
                    n.input[i] = out_name
        graph = helper.make_graph(
            nodes, "qvit_hw",
            [helper.make_tensor_value_info(inp.name, TensorProto.FLOAT, self.shapes[inp.name])],
            [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
            value_info=[helper.make_tensor_value_info(t, TensorProto.FLOAT, s) for t, s in self.shapes.items()
                        if t not in (inp.name, final_name) and t not in self.inits])
        opsets = [helper.make_opsetid(o.domain, o.version) for o in self.src.model.opset_import if o.domain in ("", "ai.onnx")]
        model = ModelWrapper(qonnx_make_model(graph, producer_name="qvit-fpga", opset_imports=opsets or None))
        for name, v in self.inits.items():
            model.set_initializer(name, v)
        for name, dt in self.dtypes.items():
            model.set_tensor_datatype(out_name if name == final_name else name, dt)
        return model

    # ------------------------------------------------------------ op rules
    def _raw(self, name) -> Form:
        if name not in self.forms:
            raise Unmappable(f"input {name} has no hardware form")
        return self.forms[name]

    def _form(self, name, exact: bool = False) -> Form:
        """The form of a source tensor with any pending reorder emitted (see :meth:`realize`)."""
        f = self.realize(self._raw(name), exact)
        self.forms[name] = f
        return f

    def op_Quant(self, node):
        f = self._raw(node.input[0])
        p = {"scale": self.value_of(node.input[1]), "zeropt": self.value_of(node.input[2]),
             "bitwidth": self.value_of(node.input[3])}
        if any(v is None for v in p.values()):
            raise Unmappable("quantizer parameters are not constant")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        p.update(signed=bool(attrs.get("signed", 1)), narrow=bool(attrs.get("narrow", 0)),
                 rounding_mode=attrs.get("rounding_mode", b"ROUND"))
        if int(p["bitwidth"]) == 1 and p["signed"]:
            self.forms[node.output[0]] = self.quantizer(f, "bipolar", p)
        else:
            self.forms[node.output[0]] = self.quantizer(f, "int", p)

    def op_BipolarQuant(self, node):
        f = self._raw(node.input[0])
        scale = self.value_of(node.input[1])
        if scale is None or np.asarray(scale).size > 1:
            raise Unmappable("bipolar quantizer with a non-constant or per-channel scale")
        self.forms[node.output[0]] = self.quantizer(f, "bipolar", {"scale": np.asarray(scale).reshape(())})

    def _elementwise(self, node, op):
        a, b = node.input
        ca, cb = self.value_of(a), self.value_of(b)
        if ca is None and cb is None:
            return False
        if cb is None and op in ("Mul", "Add"):
            a, b, ca, cb = b, a, cb, ca
        if ca is not None:
            raise Unmappable(f"{op} of a constant by a stream in this order")
        f = self._raw(a)
        shape = tuple(self.src.get_tensor_shape(node.output[0]))
        if shape != f.shape:
            raise Unmappable("a constant that broadcasts the stream to a larger shape")
        self.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [(op, np.asarray(cb, dtype=np.float32))])
        return True

    def op_Mul(self, node):
        if not self._elementwise(node, "Mul"):
            self._stream_product(node)

    def op_Div(self, node):
        if not self._elementwise(node, "Div"):
            raise Unmappable("division of two streams")

    def op_Sub(self, node):
        if not self._elementwise(node, "Sub"):
            raise Unmappable("difference of two streams (not supported yet)")

    def op_Add(self, node):
        if self._const_tensor_add(node) or self._elementwise(node, "Add"):
            return
        fa, fb = self._form(node.input[0]), self._form(node.input[1])
        if fa.shape != fb.shape:
            raise Unmappable("add of streams of different shapes (broadcast)")
        aa, ab = (_affine(fa) if fa.is_int else None), (_affine(fb) if fb.is_int else None)
        if aa is None or ab is None:
            raise Unmappable("add of two streams that are not both on an integer grid")
        if not np.array_equal(np.abs(aa[0]), np.abs(ab[0])):
            raise Unmappable("add of two streams with different scales (give both one quantizer, as ResidualAdd does)")
        lo, hi = _add_range(fa.dtype, fb.dtype)
        odt = _dtype_for(lo, hi)
        mag = np.abs(aa[0])
        signs = {f"signs{k}": [int(v) for v in np.sign(a)] for k, a in enumerate((aa[0], ab[0])) if np.any(a < 0)}
        out = self.emit("AddStreams", [fa.name, fb.name], fa.shape, odt, in_shape=list(fa.shape), out_shape=list(fa.shape),
                        inputDataType=fa.dtype.name, inputDataType1=fb.dtype.name, outputDataType=odt.name, **signs)
        chain = _grid_chain(mag, aa[1] + ab[1])
        self.forms[node.output[0]] = Form(out, odt, fa.shape, chain)

    def _const_tensor_add(self, node) -> bool:
        """Add of a per-token constant (a position embedding) on the stream's integer grid: an integer
        add of a constant tensor (the constant in a ROM of the AddStreams layer)."""
        consts = [self.value_of(i) for i in node.input]
        if sum(c is not None for c in consts) != 1:
            return False
        s_in, c = (node.input[1], consts[0]) if consts[0] is not None else (node.input[0], consts[1])
        f = self._form(s_in)
        if _foldable(c, f.shape):
            return False  # per-channel constants fold into the chain
        c = np.broadcast_to(np.asarray(c, dtype=np.float64), f.shape)
        ab = _affine(f) if f.is_int else None
        if ab is None:
            raise Unmappable("add of a per-token constant to a stream that is not on an integer grid")
        ints = c / ab[0]  # per channel (last axis)
        if not np.array_equal(ints, np.round(ints)):
            raise Unmappable("add of a per-token constant that is not on the stream's integer grid")
        cdt = _dtype_for(ints.min(), ints.max())
        cname = self.init(ints.astype(np.float32), cdt, "const_tensor")
        odt = _dtype_for(f.dtype.min() + ints.min(), f.dtype.max() + ints.max())
        out = self.emit("AddStreams", [f.name, cname], f.shape, odt, in_shape=list(f.shape), out_shape=list(f.shape),
                        inputDataType=f.dtype.name, inputDataType1=cdt.name, outputDataType=odt.name)
        chain = _grid_chain(ab[0], ab[1])
        self.forms[node.output[0]] = Form(out, odt, f.shape, chain)
        return True

    def _stream_product(self, node):
        fa, fb = self._form(node.input[0]), self._form(node.input[1])
        if fa.shape != fb.shape:
            raise Unmappable("product of streams of different shapes")
        aa, ab = (_affine(fa) if fa.is_int else None), (_affine(fb) if fb.is_int else None)
        if aa is None or ab is None or np.any(aa[1]) or np.any(ab[1]):
            raise Unmappable("product of two streams that are not both zero-offset integer-grid values")
        vals = [fa.dtype.min() * fb.dtype.min(), fa.dtype.min() * fb.dtype.max(), fa.dtype.max() * fb.dtype.min(),
                fa.dtype.max() * fb.dtype.max()]
        odt = _dtype_for(min(vals), max(vals))
        out = self.emit("MulStreams", [fa.name, fb.name], fa.shape, odt, in_shape=list(fa.shape), out_shape=list(fa.shape),
                        inputDataType=fa.dtype.name, inputDataType1=fb.dtype.name, outputDataType=odt.name)
        self.forms[node.output[0]] = Form(out, odt, fa.shape, [("Mul", (aa[0] * ab[0]).astype(np.float32))])

    def _unary(self, node):
        f = self._raw(node.input[0])
        self.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [(node.op_type, None)])

    op_Sigmoid = op_Tanh = op_Relu = _unary

    def op_BatchNormalization(self, node):
        f = self._raw(node.input[0])
        vals = [self.value_of(i) for i in node.input[1:5]]
        if any(v is None for v in vals) or len(node.output) > 1:
            raise Unmappable("BatchNormalization in training mode or with non-constant statistics")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        params = {"scale": vals[0], "bias": vals[1], "mean": vals[2], "var": vals[3],
                  "epsilon": float(attrs.get("epsilon", 1e-5)), "axis": 1 if len(f.shape) > 1 else 0}
        self.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [("BatchNormalization", params)])

    def _reshape_like(self, node):
        f = self._raw(node.input[0])
        out_shape = tuple(self.src.get_tensor_shape(node.output[0]))
        if node.op_type == "Transpose":
            perm = [a.ints for a in node.attribute if a.name == "perm"][0]
            fn = lambda x: x.transpose(list(perm))  # noqa: E731
        else:
            fn = lambda x: x.reshape(out_shape)  # noqa: E731
        self.forms[node.output[0]] = self.layout(f, fn, out_shape)

    op_Reshape = op_Transpose = op_Flatten = op_Squeeze = op_Unsqueeze = op_Identity = _reshape_like

    def op_MatMul(self, node):
        w = self.value_of(node.input[1])
        if w is None:
            return self._stream_matmul(node)
        f = self._form(node.input[0])
        w_int, w_scale = self.int_weights(w, 1)
        self.forms[node.output[0]] = self.matmul(f, w_int, w_scale, node.name)

    def op_Gemm(self, node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise Unmappable("Gemm with transA, alpha or beta")
        w = self.value_of(node.input[1])
        if w is None:
            raise Unmappable("Gemm with non-constant weights")
        w = w.T if attrs.get("transB", 0) else w
        f = self._form(node.input[0])
        w_int, w_scale = self.int_weights(w, 1)
        out = self.matmul(f, w_int, w_scale, node.name)
        if len(node.input) > 2 and node.input[2]:
            bias = self.value_of(node.input[2])
            out = Form(out.name, out.dtype, out.shape, out.chain + [("Add", np.asarray(bias, dtype=np.float32))])
        self.forms[node.output[0]] = out

    def _stream_matmul(self, node):
        fa, fb = self._form(node.input[0]), self._form(node.input[1])
        aa, ab = (_affine(fa) if fa.is_int else None), (_affine(fb) if fb.is_int else None)
        if aa is None or ab is None or np.any(aa[1]) or np.any(ab[1]):
            raise Unmappable("matmul of two streams that are not both zero-offset integer-grid values")
        if not np.all(np.abs(aa[0]) == np.abs(aa[0][0])):
            raise Unmappable("matmul of streams whose left operand has per-channel scales")
        signs = {"signs": [int(v) for v in np.sign(aa[0])]} if np.any(aa[0] < 0) else {}
        k = fa.shape[-1]
        va = [fa.dtype.min(), fa.dtype.max()]
        vb = [fb.dtype.min(), fb.dtype.max()]
        prods = [x * y for x in va for y in vb]
        odt = _dtype_for(k * min(prods), k * max(prods))
        out_shape = tuple(self.src.get_tensor_shape(node.output[0]))
        out = self.emit("StreamMatMul", [fa.name, fb.name], out_shape, odt, in_shape=list(fa.shape),
                        in_shape1=list(fb.shape), out_shape=list(out_shape), inputDataType=fa.dtype.name,
                        inputDataType1=fb.dtype.name, outputDataType=odt.name, **signs)
        self.forms[node.output[0]] = Form(out, odt, out_shape, [("Mul", (np.abs(aa[0][0]) * ab[0]).astype(np.float32))])

    def op_IntSoftmax(self, node):
        f = self._form(node.input[0])
        scale = np.float32(np.asarray(self.value_of(node.input[1])).reshape(-1)[0])
        ab = _affine(f) if f.is_int else None
        if ab is None or np.any(ab[1]) or not np.all(ab[0] == scale):
            raise Unmappable("integer softmax whose input is not its quantizer's integer grid")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        bits = int(attrs["out_bits"])
        odt = DataType[f"UINT{bits}"]
        out = self.emit("IntSoftmaxHW", [f.name], f.shape, odt, in_shape=list(f.shape), out_shape=list(f.shape),
                        inputDataType=f.dtype.name, outputDataType=odt.name, scale=float(scale), out_bits=bits,
                        mask_diagonal=int(attrs.get("mask_diagonal", 0)))
        self.forms[node.output[0]] = Form(out, odt, f.shape, [("Mul", np.float32(2.0**-bits))])

    def op_MLGRU(self, node):
        ff, fc = self._form(node.input[0]), self._form(node.input[1])
        c_scale = np.float32(np.asarray(self.value_of(node.input[2])).reshape(-1)[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        f_bits = int(attrs["f_bits"])
        fm = 2**f_bits
        codes = np.arange(0, fm, dtype=np.float64)
        consts = [(op, _per_channel(c, ff.shape)) for op, c in ff.chain]
        if not ff.is_int or ff.dtype.min() < 0 or ff.dtype.max() >= fm or \
                not np.array_equal(np.round(self._chain_eval(codes[:, None], consts) * np.float32(fm)),
                                   np.broadcast_to(codes[:, None], (fm, ff.shape[-1]))):
            raise Unmappable("MLGRU gate that is not on its k / 2^k grid")
        ab = _affine(fc) if fc.is_int else None
        if ab is None or np.any(ab[1]) or not np.all(ab[0] == c_scale):
            raise Unmappable("MLGRU candidate that is not on its quantizer's integer grid")
        out = self.emit("MLGRUHW", [ff.name, fc.name], fc.shape, fc.dtype, in_shape=list(fc.shape),
                        out_shape=list(fc.shape), inputDataType=ff.dtype.name, inputDataType1=fc.dtype.name,
                        outputDataType=fc.dtype.name, f_bits=f_bits)
        self.forms[node.output[0]] = Form(out, fc.dtype, fc.shape, [("Mul", c_scale)])

    def op_AveragePool(self, node):
        f = self._raw(node.input[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kh, kw = attrs["kernel_shape"]
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if list(attrs.get("strides", [1, 1])) != [1, 1] or pads[0] != pads[2] or pads[1] != pads[3]:
            raise Unmappable("average pool other than stride 1 with symmetric padding")
        if pads != [0, 0, 0, 0] and not attrs.get("count_include_pad", 0):
            raise Unmappable("average pool that excludes padding from its count")
        n, c, h, w = f.shape
        g = self.to_nhwc(f)
        ab = _affine(g) if g.is_int else None
        if ab is None or np.any(ab[1]):
            raise Unmappable("average pool of a stream that is not a zero-offset integer-grid value")
        tokens = self.realize(self.layout(g, lambda x: x.reshape(n, h * w, c), (n, h * w, c)))
        k = kh * kw
        odt = _dtype_for(k * f.dtype.min(), k * f.dtype.max())
        out = self.emit("GridPoolSum", [tokens.name], tokens.shape, odt, in_shape=list(tokens.shape),
                        out_shape=list(tokens.shape), inputDataType=f.dtype.name, outputDataType=odt.name,
                        grid=[h, w], kernel=[kh, kw], pads=[pads[0], pads[1]])
        pooled = Form(out, odt, tokens.shape, [("Mul", ab[0].astype(np.float32)), ("Div", np.float32(k))])
        grid = self.layout(pooled, lambda x: x.reshape(n, h, w, c), (n, h, w, c))
        self.forms[node.output[0]] = self.to_nchw(grid)

    def op_ReduceMean(self, node):
        f = self._raw(node.input[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes = list(attrs.get("axes", []))
        if len(node.input) > 1 and node.input[1]:
            axes = [int(a) for a in self.value_of(node.input[1])]
        if len(f.shape) == 4 and sorted(a % 4 for a in axes) == [2, 3]:  # global average pool of NCHW
            n, c, h, w = f.shape
            f = self.layout(self.to_nhwc(f), lambda x: x.reshape(n, h * w, c), (n, h * w, c))
        elif len(f.shape) != 3 or [a % 3 for a in axes] != [1]:
            raise Unmappable("mean over other axes than the tokens of [N, T, C] or the grid of [N, C, H, W]")
        f = self.realize(f)
        ab = _affine(f) if f.is_int else None
        if ab is None:
            raise Unmappable("mean of a stream that is not an integer-grid value")
        n, t, c = f.shape
        odt = _dtype_for(t * f.dtype.min(), t * f.dtype.max())
        out_shape = tuple(self.src.get_tensor_shape(node.output[0]))
        out = self.emit("TokenSum", [f.name], (n, c), odt, in_shape=list(f.shape), out_shape=[n, c],
                        inputDataType=f.dtype.name, outputDataType=odt.name)
        chain = [("Mul", ab[0].astype(np.float32))]
        if np.any(ab[1]):
            chain.append(("Add", (t * ab[1]).astype(np.float32)))
        chain.append(("Div", np.float32(t)))
        form = Form(out, odt, (n, c), chain)
        self.forms[node.output[0]] = form if out_shape == (n, c) else self.layout(form, lambda x: x.reshape(out_shape), out_shape)

    def op_Pad(self, node):
        f = self._form(node.input[0])
        pads = [int(p) for p in self.value_of(node.input[1])]
        value = float(self.value_of(node.input[2])) if len(node.input) > 2 and node.input[2] else 0.0
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("mode", b"constant") not in (b"constant", "constant"):
            raise Unmappable("padding other than constant")
        # the pad value in the integer domain: the n whose chain value is the pad value
        if f.is_int:
            ab = _affine(f)
            if ab is None or not np.all(ab[0] == ab[0][0]) or not np.all(ab[1] == ab[1][0]):
                raise Unmappable("padding a stream whose scale is per-channel")
            n0 = (value - ab[1][0]) / ab[0][0]
            if n0 != round(n0) or not (f.dtype.min() <= n0 <= f.dtype.max()):
                raise Unmappable("the pad value is not on the stream's integer grid")
        else:
            if f.chain:
                raise Unmappable("padding a float value with a pending chain")
            n0 = value
        rank = len(f.shape)
        width = [(pads[i], pads[i + rank]) for i in range(rank)]
        out_shape = tuple(s + a + b for s, (a, b) in zip(f.shape, width))
        out = self.emit("PadStream", [f.name], out_shape, f.dtype, in_shape=list(f.shape), out_shape=list(out_shape),
                        inputDataType=f.dtype.name, outputDataType=f.dtype.name, pads=[p for w in width for p in w],
                        value=float(n0))
        self.forms[node.output[0]] = Form(out, f.dtype, out_shape, f.chain)

    def op_Conv(self, node):
        f = self._raw(node.input[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise Unmappable("grouped or dilated convolution")
        w = self.value_of(node.input[1])
        if w is None:
            raise Unmappable("convolution with non-constant weights")
        oc, ic, kh, kw = w.shape
        sh, sw = attrs.get("strides", [1, 1])
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if any(pads):
            raise Unmappable("convolution with built-in padding (not supported yet; pad explicitly)")
        n, c, h, wd = f.shape
        oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
        g = self.realize(self.to_nhwc(f), exact=True)
        ab = _affine(g) if g.is_int else None
        if ab is None:
            raise Unmappable("its input is not an exact integer-grid value")
        swg_shape = (n, oh, ow, kh * kw * ic)
        cols = self.emit("ConvolutionInputGenerator", [g.name], swg_shape, g.dtype, domain=FINN_DOMAIN,
                         ConvKernelDim=[kh, kw], IFMChannels=ic, IFMDim=[h, wd], OFMDim=[oh, ow], SIMD=1,
                         Stride=[sh, sw], Dilation=[1, 1], inputDataType=g.dtype.name, outputDataType=g.dtype.name,
                         depthwise=0)
        # column order of the generator: (kh, kw, ic) -- the weights follow it
        chain = [(op, np.tile(_per_channel(c_, g.shape), kh * kw)) if np.asarray(c_).size > 1 else (op, c_)
                 for op, c_ in g.chain]
        colform = Form(cols, g.dtype, swg_shape, chain)
        w_mat = w.transpose(0, 2, 3, 1).reshape(oc, -1).T
        w_int, w_scale = self.int_weights(w_mat, 1)
        out = self.matmul(colform, w_int, w_scale, node.name)
        if len(node.input) > 2 and node.input[2]:
            bias = np.asarray(self.value_of(node.input[2]), np.float32)
            out = Form(out.name, out.dtype, out.shape, out.chain + [("Add", bias)])
        self.forms[node.output[0]] = self.to_nchw(out)


def _chain_const(op, c, shape):
    """A chain entry's constant as the thresholding search needs it: per channel (last axis)."""
    if op in UNARY:
        return None
    if op == "BatchNormalization":
        if c["axis"] != len(shape) - 1:
            raise Unmappable("BatchNormalization whose channel axis is not the stream's channel axis")
        return c
    return _per_channel(c, shape)


def _move_norm(params: dict, shape, fn) -> dict:
    """Follow a normalization's channel axis through a reorder ``fn``; Unmappable if channels mix."""
    axis = params["axis"]
    idx = np.arange(shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    moved = fn(np.broadcast_to(idx, shape).copy())
    varying = [k for k in range(moved.ndim) if moved.shape[k] > 1 and not np.all(np.take(moved, [0], axis=k) == moved)]
    if len(varying) != 1:
        raise Unmappable("a reshape mixes a normalization's channels with other axes")
    return {**params, "axis": varying[0]}


def _grid_chain(a: np.ndarray, b: np.ndarray) -> list:
    """The chain of value = a * (n + b / a): an integer n on the grid a with offset b."""
    return ([("Add", (b / a).astype(np.float32))] if np.any(b) else []) + [("Mul", a.astype(np.float32))]


def _compress(c: np.ndarray) -> np.ndarray:
    """The smallest broadcastable form of a full-shape constant: a scalar, a last-axis vector, or itself."""
    flat = c.reshape(-1)
    if np.all(flat == flat[0]):
        return np.asarray(flat[0], dtype=c.dtype)
    rows = c.reshape(-1, c.shape[-1])
    if np.all(rows == rows[:1]):
        return rows[0].copy()
    return c


def _foldable(c, shape) -> bool:
    """A constant that varies along the channel axis only (last, or axis 1 of NCHW) folds into a chain."""
    c = np.asarray(c)
    full = (1,) * (len(shape) - c.ndim) + c.shape
    varying = [i for i, n in enumerate(full) if n > 1]
    return len(varying) == 0 or (len(varying) == 1 and (varying[0] == len(shape) - 1 or (len(shape) == 4 and varying[0] == 1)))


def _add_range(da: DataType, db: DataType):
    """Bounds of +-a +-b (either side may be subtracted per channel)."""
    ma, mb = max(abs(da.min()), abs(da.max())), max(abs(db.min()), abs(db.max()))
    if da.min() >= 0 and db.min() >= 0:
        return -max(da.max(), db.max()), da.max() + db.max()
    return -(ma + mb), ma + mb


def _int_dtype(w: np.ndarray) -> DataType:
    vals = np.unique(w)
    if set(vals.tolist()) <= {-1.0, 1.0}:
        return DataType["BIPOLAR"]
    if set(vals.tolist()) <= {-1.0, 0.0, 1.0}:
        return DataType["TERNARY"]
    return _dtype_for(w.min(), w.max())


def _dtype_for(lo, hi) -> DataType:
    lo, hi = int(np.floor(lo)), int(np.ceil(hi))
    if lo >= 0:
        return DataType.get_smallest_possible(hi)
    bits = max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1
    return DataType[f"INT{bits}"]


def _acc_range(idt: DataType, w: np.ndarray):
    pos = np.where(w > 0, w, 0).sum(0)
    neg = np.where(w < 0, w, 0).sum(0)
    lo = (pos * idt.min() + neg * idt.max()).min()
    hi = (pos * idt.max() + neg * idt.min()).max()
    return lo, hi


def _rounding(mode):
    """qonnx's rounding function for a Quant node's rounding_mode (the one its execution uses)."""
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    try:
        return resolve_rounding_mode(mode)
    except ValueError as e:
        raise Unmappable(f"quantizer rounding mode {mode} ({e})") from e


_ORT_CACHE: dict = {}


def _ort_batchnorm(x: np.ndarray, p: dict) -> np.ndarray:
    """BatchNormalization over the last axis with onnxruntime, as QONNX execution does: onnxruntime's
    arithmetic for it has no simple closed form, and it is the same for any rank and batch size."""
    import onnxruntime as ort
    from onnx import numpy_helper

    key = ("bn", id(p["scale"]))
    if key not in _ORT_CACHE:
        inits = [numpy_helper.from_array(np.asarray(p[k], dtype=np.float32), k) for k in ("scale", "bias", "mean", "var")]
        g = helper.make_graph([helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                                                epsilon=p["epsilon"])], "bn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        _ORT_CACHE[key] = (p["scale"], ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]))
    x = np.asarray(x, dtype=np.float32)
    flat = np.ascontiguousarray(np.broadcast_to(x, x.shape).reshape(-1, x.shape[-1]))
    return _ORT_CACHE[key][1].run(None, {"x": flat})[0].reshape(x.shape)


def _ort_unary(op: str, x: np.ndarray) -> np.ndarray:
    """Evaluate a unary ONNX op with onnxruntime, as QONNX execution does (bit-identical)."""
    import onnxruntime as ort

    if op not in _ORT_CACHE:
        g = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "u",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        _ORT_CACHE[op] = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return _ORT_CACHE[op].run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


_NO_RULE = {
    "Softmax": "float softmax: use a -hw model (integer softmax)",
    "LayerNormalization": "LayerNorm has no streamable integer form; use BatchNorm (it folds into thresholds)",
    "Erf": "GELU (Erf): not streamable; use threshold activations",
    "Gelu": "GELU: not streamable; use threshold activations",
    "Concat": "concatenation (class/distillation tokens) is not supported yet",
    "Gather": "token selection (Gather) is not supported yet",
    "Slice": "slicing (token selection) is not supported yet",
    "BatchNormalization": "BatchNormalization left in the graph (export folds it; run qonnx cleanup)",
}


def _no_rule(op_type: str) -> str:
    return _NO_RULE.get(op_type, f"no hardware layer for {op_type}")


def lower_to_hw(model: ModelWrapper) -> tuple[ModelWrapper, list[dict]]:
    """The hardware graph of ``model`` (a cleaned QONNX graph with shapes) and its unmapped nodes."""
    low = Lowering(model)
    return low.run(), low.unmapped


def compose_layouts(model: ModelWrapper) -> ModelWrapper:
    """Merge each reorder into the reorder that feeds it when it is that one's only consumer, and
    drop reorders that end up as the identity (an NHWC round trip, a reshape back and forth)."""
    from qonnx.custom_op.registry import getCustomOp

    changed = True
    while changed:
        changed = False
        for node in list(model.graph.node):
            if node.op_type != "StreamLayout":
                continue
            inst = getCustomOp(node)
            gather = np.asarray(inst.get_nodeattr("gather"), dtype=np.int64)
            prod = model.find_producer(node.input[0])
            if prod is not None and prod.op_type == "StreamLayout" and len(model.find_consumers(prod.output[0])) == 1:
                pinst = getCustomOp(prod)
                inner = np.asarray(pinst.get_nodeattr("gather"), dtype=np.int64)
                inst.set_nodeattr("gather", [int(i) for i in inner[gather]])
                inst.set_nodeattr("in_shape", pinst.get_nodeattr("in_shape"))
                node.input[0] = prod.input[0]
                model.graph.node.remove(prod)
                changed = True
                break
            same_shape = list(inst.get_nodeattr("in_shape")) == list(inst.get_nodeattr("out_shape"))
            consumers = model.find_consumers(node.output[0]) or []
            reshapes_input = all(c.domain == QDOMAIN or c.op_type == "MVAU" for c in consumers)
            if np.array_equal(gather, np.arange(gather.size)) and (same_shape or (consumers and reshapes_input)):
                src, dst = node.input[0], node.output[0]
                is_output = dst in [o.name for o in model.graph.output]
                if is_output:
                    prod = model.find_producer(src)
                    if prod is None:
                        continue
                    prod.output[list(prod.output).index(src)] = dst
                    for c in model.find_consumers(src) or []:
                        if c is not node:
                            c.input[list(c.input).index(src)] = dst
                else:
                    for c in model.find_consumers(dst) or []:
                        for k, i in enumerate(c.input):
                            if i == dst:
                                c.input[k] = src
                model.graph.node.remove(node)
                changed = True
                break
    return model


class LowerToHardware(Transformation):
    """qonnx transformation form of :func:`lower_to_hw` (the unmapped list is kept in ``.unmapped``)."""

    def __init__(self):
        super().__init__()
        self.unmapped: list[dict] = []

    def apply(self, model):
        hw, self.unmapped = lower_to_hw(model)
        return hw, False


class ComposeLayouts(Transformation):
    """qonnx transformation form of :func:`compose_layouts`."""

    def apply(self, model):
        return compose_layouts(model), False
