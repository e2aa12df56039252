"""The lowering's state and driver: :class:`Form`, the :class:`Lowering` that builds the new graph
(tensors, initializers, layers, the pending-reorder algebra, the walk over the source graph, the
float chain at the end) and the rule table :data:`RULES` that the modules of
:mod:`build_flows.lowering.rules` fill, one rule per source op type."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from onnx import NodeProto, TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from build_flows.layers import QVIT_DOMAIN
from build_flows.lowering.numeric import ELEMENTWISE, UNARY, compress, move_norm, per_channel
from build_flows.lowering.thresholds import NotMonotonicError
from build_flows.lowering.unmapped import Unmappable, no_rule_reason

__all__ = ["Form", "Lowering", "RULES", "Unmappable", "rule"]


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


Rule = Callable[["Lowering", NodeProto], None]
RULES: dict[str, Rule] = {}  # source op type -> rule; raises Unmappable when the node does not fit


def rule(*op_types: str) -> Callable[[Rule], Rule]:
    """Register the decorated function as the rule for ``op_types``."""

    def register(fn: Rule) -> Rule:
        for op_type in op_types:
            RULES[op_type] = fn
        return fn

    return register


class Lowering:
    """Builds the hardware graph from a source ModelWrapper; ``unmapped`` lists [{name, op_type, reason, output}]."""

    def __init__(self, src: ModelWrapper):
        self.src = src
        self.nodes, self.inits, self.dtypes, self.shapes = [], {}, {}, {}
        self.forms: dict[str, Form] = {}  # source tensor -> its form in the new graph
        self.folded: dict[str, np.ndarray] = {}  # source tensor -> value, for constant-folded nodes
        self.unmapped: list[dict] = []
        self.finn_mapped: list[dict] = []  # nodes FINN's streamlining and conversion mapped: {name, op_type, finn_layer}
        self.count = 0

    def snapshot(self):
        """The state that :meth:`restore` returns to (a mapping attempt that may be abandoned)."""
        return (len(self.nodes), len(self.finn_mapped), dict(self.inits), dict(self.dtypes), dict(self.shapes),
                {k: dataclasses.replace(f, chain=list(f.chain)) for k, f in self.forms.items()})

    def restore(self, saved) -> None:
        n_nodes, n_finn, self.inits, self.dtypes, self.shapes, self.forms = saved
        del self.nodes[n_nodes:], self.finn_mapped[n_finn:]

    # ------------------------------------------------------------ new graph
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

    def emit(self, op_type, inputs, oshape, odtype, domain=QVIT_DOMAIN, name=None, **attrs) -> str:
        out = self.tensor(oshape, odtype, op_type)
        node = helper.make_node(op_type, inputs, [out], domain=domain, backend="fpgadataflow",
                                name=name or self.fresh(op_type), **attrs)
        self.nodes.append(node)
        return out

    # ------------------------------------------------------------ source tensors
    def const(self, name):
        """The value of a constant source tensor (initializer or folded), or None."""
        if name in self.folded:
            return self.folded[name]
        init = self.src.get_initializer(name)
        return None if init is None else np.asarray(init)

    def pending(self, name) -> Form:
        """The form of a source tensor, its reorder (if any) still pending."""
        if name not in self.forms:
            raise Unmappable(f"input {name} has no hardware form")
        return self.forms[name]

    def stream(self, name, exact: bool = False) -> Form:
        """The form of a source tensor with any pending reorder emitted (see :meth:`realize`)."""
        f = self.realize(self.pending(name), exact)
        self.forms[name] = f
        return f

    # ------------------------------------------------------------ layout
    def layout(self, form: Form, fn, out_shape) -> Form:
        """A reorder ``fn`` (numpy function on one tensor) of a form, kept pending: runs of reorders
        compose, and :meth:`realize` emits one layer for them, or none when they cancel."""
        size = int(np.prod(form.shape))
        index = np.arange(size) if form.gather is None else form.gather
        chain = []
        for op, c in form.chain:
            if op == "BatchNormalization":
                chain.append((op, move_norm(c, form.shape, fn)))
                continue
            c = np.asarray(c)
            chain.append((op, c if c.size == 1 else compress(fn(np.broadcast_to(c, form.shape).copy()))))
        return Form(form.name, form.dtype, tuple(out_shape), chain, fn(index.reshape(form.shape)).ravel())

    def realize(self, form: Form, exact: bool = False) -> Form:
        """The form with its pending reorder emitted (a StreamLayout layer). With ``exact`` the tensor
        also has the source shape (else a reshape of the same element order may remain, which every
        layer of ours and FINN's MVAU accept)."""
        g = form.gather
        stored = self.shapes.get(form.name)
        identity = g is None or (g.size == int(np.prod(stored)) and np.array_equal(g, np.arange(g.size)))
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

    # ------------------------------------------------------------ driver
    def run(self) -> ModelWrapper:
        src = self.src
        inp = src.graph.input[0]
        ishape = tuple(src.get_tensor_shape(inp.name))
        # an integer annotation (raw pixels: UINT8) makes the input an integer stream; else it is float
        idt = src.get_tensor_datatype(inp.name)
        idt = idt if idt.is_integer() else DataType["FLOAT32"]
        self.shapes[inp.name] = ishape
        self.dtypes[inp.name] = idt
        self.forms[inp.name] = Form(inp.name, idt, ishape)
        for node in src.graph.node:
            if all(self.const(i) is not None for i in node.input if i):
                self._fold_constant(node)
                continue
            try:
                handler = RULES.get(node.op_type)
                if handler is None:
                    raise Unmappable(no_rule_reason(node.op_type))
                handler(self, node)
            except (Unmappable, NotMonotonicError) as e:
                from build_flows.lowering.finn_fallback import try_finn

                why_not = try_finn(self, node)
                if why_not is not None:
                    self._keep(node, str(e))
                    self.unmapped[-1]["finn"] = why_not
        out_name = src.graph.output[0].name
        final = self.stream(out_name, exact=True)
        final_name = self.float_tensor(final)
        return self._model(inp, final_name, out_name)

    def _fold_constant(self, node):
        from qonnx.core.onnx_exec import execute_node

        ctx = {i: self.const(i) for i in node.input if i}
        for o in node.output:  # qonnx compares the result's shape with the buffer's, when it knows the shape
            shape = self.src.get_tensor_shape(o)
            ctx[o] = np.zeros(shape, dtype=np.float32) if shape is not None else None
        execute_node(node, ctx, self.src.graph, 13)
        for o in node.output:
            self.folded[o] = np.asarray(ctx[o])

    def _keep(self, node, reason):
        """Copy a node that did not map, on float versions of its inputs."""
        inputs = []
        for i in node.input:
            if not i:
                inputs.append(i)
            elif i in self.forms:
                inputs.append(self.float_tensor(self.stream(i, exact=True)))
            else:
                v = self.const(i)
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

    def float_tensor(self, form: Form) -> str:
        """A tensor holding the source value of ``form``: the chain as one ChannelFloat layer (``form``
        becomes that tensor's form, with no chain)."""
        if not form.chain:
            return form.name
        cut = next((i for i, (op, _) in enumerate(form.chain) if op not in ELEMENTWISE), None)
        if cut is not None:
            rest = form.chain[cut:]
            form.chain = form.chain[:cut]
            self.float_tensor(form)
            form.chain = rest
            return self._float_nodes(form)
        try:
            consts = np.stack([np.broadcast_to(per_channel(c, form.shape), (form.shape[-1],)) for _, c in form.chain])
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
        for u in self.unmapped:  # the reasons follow the rename
            if u["output"] == final_name:
                u["output"] = out_name
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
