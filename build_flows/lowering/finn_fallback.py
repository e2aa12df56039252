"""FINN's own streamlining and conversion for a node that no rule of ours maps.

For such a node the lowering builds a small graph as FINN's flow would see it: the node on the integer codes of
its inputs (datatypes annotated; an NCHW view of a channels-last stream given as that stream and FINN's
``Transpose``), runs FINN's layout streamlining and its ``Infer*`` conversions to hardware layers on it, and takes
the result when every node became a FINN hardware layer or a node our rules map (the transposes FINN moves):
those join the hardware graph, and the verification steps check them bit for bit like every other layer. A
stream's scalar float scale passes over nodes that only select or repeat values (qonnx's datatype-preserving
ops, ``Resize``/``Upsample``, ``Split``) as FINN's ``MoveScalarLinearPastInvariants`` moves it over invariant
nodes; any other scale keeps the node unmapped. What neither maps stays in the unmapped list, with both
reasons."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.data_layout import NHWC
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from build_flows.lowering.core import Form, Lowering, Unmappable

#: nodes whose outputs are a selection or repetition of their inputs' values: a scalar scale commutes with them
SELECTING = {"Resize", "Upsample", "Split", "Tile", "Expand", "Gather", "GatherElements", "GatherND", "Slice",
             "Concat", "SpaceToDepth", "DepthToSpace", "Identity"}


def _finn_passes():
    """FINN's layout streamlining, then its conversions to hardware layers, in the order FINN's flow runs them."""
    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer
    from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
    from finn.transformation.fpgadataflow.convert_to_hw.lookup import InferLookupLayer
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.split import InferSplitLayer
    from finn.transformation.fpgadataflow.convert_to_hw.upsample import InferUpsample
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC, MakeScaleResizeNHWC

    return [MakeScaleResizeNHWC(), MakeMaxPoolNHWC()], [
        InferUpsample(), InferSplitLayer(), InferConcatLayer(), InferLookupLayer(), InferGlobalAccPoolLayer(),
        InferPool(), InferLabelSelectLayer()]


def _scale(form: Form):
    """The form's chain as one positive scalar scale (float32), 1.0 for none, or None."""
    if not form.chain:
        return np.float32(1.0)
    if len(form.chain) == 1 and form.chain[0][0] == "Mul":
        c = np.asarray(form.chain[0][1], dtype=np.float32)
        if c.size == 1 and float(c.reshape(-1)[0]) > 0:
            return c.reshape(-1)[0]
    return None


def try_finn(low: Lowering, node) -> str | None:
    """Map ``node`` through FINN's streamlining and conversion into ``low``'s graph. Gives None when it did,
    else why not (the node is then untouched)."""
    from finn.util.fpgadataflow import is_fpgadataflow_node as is_finn_hw_node

    from build_flows.lowering.core import RULES
    from build_flows.lowering.rules.layout import nchw_view_of_nhwc

    streams = [i for i in node.input if i and low.const(i) is None]
    if not streams or any(i not in low.forms for i in streams):
        return "an input has no hardware form"
    forms = {i: low.pending(i) for i in streams}
    if not all(f.is_int for f in forms.values()):
        return "an input is not an integer-grid stream"
    scales = {i: _scale(f) for i, f in forms.items()}
    plain = all(not f.chain for f in forms.values())
    if not plain:
        one = len({float(s) for s in scales.values() if s is not None}) == 1
        if node.op_type not in SELECTING or any(s is None for s in scales.values()) or not one:
            return ("an input's float scale does not pass this node (only one positive scalar scale passes a node "
                    "that selects values)")
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    saved = low.snapshot()
    streamline, convert = _finn_passes()
    try:
        sub, entry = _subgraph(low, node, forms, nchw_view_of_nhwc)
        for t in streamline:
            sub = sub.transform(InferDataLayouts()).transform(t)
        sub = sub.transform(InferShapes()).transform(InferDataTypes()).transform(InferDataLayouts())
        for t in convert:
            sub = sub.transform(t)
    except Exception as e:  # noqa: BLE001 (FINN raises assorted errors for nodes it cannot convert)
        low.restore(saved)
        return f"FINN's conversion stopped: {type(e).__name__}: {e}"
    hw = [n for n in sub.graph.node if is_finn_hw_node(n)]
    rest = [n for n in sub.graph.node if not is_finn_hw_node(n) and n.op_type not in RULES]
    if not hw or rest:
        low.restore(saved)
        left = ", ".join(sorted({n.op_type for n in rest or sub.graph.node}))
        return f"FINN's conversion left {left} (no FINN hardware layer)"
    why = _splice(low, node, sub, entry, scales[streams[0]] if not plain else None)
    if why is not None:
        low.restore(saved)
    return why


def _subgraph(low: Lowering, node, forms, nchw_view) -> tuple[ModelWrapper, dict]:
    """The node on its inputs' integer codes (4D ones as channels-last inputs and a Transpose) as a model;
    ``entry`` maps each sub-model input to the new graph's tensor behind it."""
    inputs, nodes, inits, entry = [], [], {}, {}
    for i in node.input:
        if not i:
            continue
        if i not in forms:
            inits[i] = np.asarray(low.const(i))
            continue
        f = forms[i]
        name = f"{i}__codes"
        if len(f.shape) == 4:  # FINN's layers are channels-last: the stream as NHWC, FINN's Transpose to NCHW
            codes = Form(f.name, f.dtype, f.shape, [], f.gather)
            nhwc = Form(f.name, f.dtype, low.shapes[f.name]) if nchw_view(low, f) else low.to_nhwc(codes)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, nhwc.shape))
            nodes.append(helper.make_node("Transpose", [name], [i], perm=[0, 3, 1, 2], name=f"{i}__to_nchw"))
            entry[name] = nhwc
        else:
            r = low.realize(f, exact=True)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, r.shape))
            nodes.append(helper.make_node("Identity", [name], [i], name=f"{i}__codes_in"))
            entry[name] = Form(r.name, r.dtype, tuple(r.shape))
    copy = helper.make_node(node.op_type, list(node.input), list(node.output), name=node.name, domain=node.domain)
    copy.attribute.extend(node.attribute)
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, low.src.get_tensor_shape(o)) for o in node.output]
    graph = helper.make_graph(nodes + [copy], "finn_fallback", inputs, outputs)
    opsets = [helper.make_opsetid(o.domain, o.version) for o in low.src.model.opset_import if o.domain in ("", "ai.onnx")]
    sub = ModelWrapper(qonnx_make_model(graph, opset_imports=opsets or None))
    for name, v in inits.items():
        sub.set_initializer(name, v)
    for name, f in entry.items():
        sub.set_tensor_datatype(name, f.dtype)
        if len(f.shape) == 4:
            sub.set_tensor_layout(name, NHWC)
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return sub.transform(InferShapes()).transform(InferDataTypes()), entry


def _splice(low: Lowering, node, sub: ModelWrapper, entry: dict, scale) -> str | None:
    """Add the sub-model's nodes to ``low``'s graph: FINN's hardware layers as they are (tensors renamed), the
    others through our rules; the node's outputs get their forms (with the passed scale). Rolls back and gives
    the reason when a rule refuses."""
    from finn.util.fpgadataflow import is_fpgadataflow_node as is_finn_hw_node

    from build_flows.lowering.core import RULES

    src = low.src
    low.src = sub
    try:
        for name, f in entry.items():
            low.forms[name] = f
        for n in sub.graph.node:
            if not is_finn_hw_node(n):
                RULES[n.op_type](low, n)
                continue
            ins = []
            for i in n.input:
                init = sub.get_initializer(i)
                ins.append(low.init(init, sub.get_tensor_datatype(i), "finn_param", keep_dtype=True) if init is not None
                           else low.stream(i, exact=True).name)
            outs = []
            for o in n.output:
                dt = sub.get_tensor_datatype(o)
                name = low.tensor(sub.get_tensor_shape(o), dt, n.op_type)
                low.forms[o] = Form(name, dt, tuple(sub.get_tensor_shape(o)))
                outs.append(name)
            copy = helper.make_node(n.op_type, ins, outs, name=low.fresh(n.op_type), domain=n.domain)
            copy.attribute.extend(n.attribute)
            low.nodes.append(copy)
            low.finn_mapped.append({"name": node.name, "op_type": node.op_type, "finn_layer": n.op_type})

    except Unmappable as e:
        return f"our rules refused a node FINN's streamlining left: {e}"
    finally:
        low.src = src
    for o in node.output:
        f = low.forms[o]
        if scale is not None:
            f.chain = [("Mul", np.asarray(scale, dtype=np.float32))]
    return None
