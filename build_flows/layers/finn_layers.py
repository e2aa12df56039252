"""FINN's own layers answer the build stages' questions (:class:`build_flows.layers.base.LayerFacts`)
through an adapter: :func:`layer_facts` gives the layer itself when it is ours, else the adapter.
FINN's layer facts live in one table here (folding knobs per FINN op; its binary MVAUs)."""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from build_flows.layers.base import LayerFacts, pe_on_last_axis, precision

BINARY = {"BINARY", "BIPOLAR"}
NEVER = 1 << 30  # a memory depth no layer reaches (FINN's depth triggers)


def _channels(inst):
    return [("PE", inst.get_nodeattr("NumChannels"))]


def mvau_knobs(inst):
    return [("SIMD", inst.get_nodeattr("MW")), ("PE", inst.get_nodeattr("MH"))]


#: FINN op (without its _hls/_rtl suffix) -> its folding attributes and the dimension each must divide
FINN_KNOBS = {
    "MVAU": mvau_knobs,
    "VVAU": mvau_knobs,
    "Thresholding": _channels,
    "DuplicateStreams": _channels,
    "GlobalAccPool": _channels,
    "LabelSelect": _channels,
    "ChannelwiseOp": _channels,
    "ConvolutionInputGenerator": lambda inst: [("SIMD", inst.get_nodeattr("IFMChannels"))],
}


def mvau_macs(inst) -> dict[str, int]:
    """MACs per image of a FINN MVAU, by the precision of its inputs and weights."""
    macs = inst.get_nodeattr("MW") * inst.get_nodeattr("MH") * int(np.prod(inst.get_nodeattr("numInputVectors")))
    dts = (DataType[inst.get_nodeattr("inputDataType")], DataType[inst.get_nodeattr("weightDataType")])
    return {precision(*dts): macs}


class FinnLayer(LayerFacts):
    """A FINN layer instance seen through :class:`LayerFacts`."""

    def __init__(self, inst):
        self.inst = inst
        self.op = inst.onnx_node.op_type.split("_")[0]  # MVAU_hls, MVAU_rtl -> MVAU

    def folding_knobs(self):
        return FINN_KNOBS.get(self.op, pe_on_last_axis)(self.inst)

    def macs_by_precision(self):
        return mvau_macs(self.inst) if self.op == "MVAU" else {}

    def memory_styles(self) -> dict[str, str]:
        """FINN's Thresholding_rtl: its threshold memories in BRAM or LUTs, by its depth_trigger_bram."""
        if self.inst.onnx_node.op_type != "Thresholding_rtl":
            return {}
        return {"thresholds": "block" if self.inst.bram_estimation(None) > 0 else "distributed"}

    def set_memory_style(self, memory: str, style: str) -> None:
        if memory != "thresholds" or self.inst.onnx_node.op_type != "Thresholding_rtl":
            raise KeyError(memory)
        self.inst.set_nodeattr("depth_trigger_bram", 1 if style == "block" else NEVER)
        self.inst.set_nodeattr("depth_trigger_uram", NEVER + 1)

    def rtl_reason(self):
        from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

        if not isinstance(self.inst, RTLBackend):
            return "FINN layer without an RTL variant (HLS: needs Vitis HLS)"
        if self.inst.onnx_node.op_type == "MVAU_rtl":  # its weights come from a memstream block that FINN adds in IPI
            return ("FINN's MVAU_rtl (DSP) gets its weights from a memory streamer that FINN adds only in Vivado's IP "
                    "integrator: not simulated here (qvit-fpga's MVAU_lut_rtl takes inputs and weights up to 8 bits)")
        return None


def layer_facts(node_or_inst) -> LayerFacts:
    """The :class:`LayerFacts` of a dataflow node (or custom-op instance): ours directly, FINN's adapted."""
    inst = getCustomOp(node_or_inst) if hasattr(node_or_inst, "op_type") else node_or_inst
    return inst if isinstance(inst, LayerFacts) else FinnLayer(inst)
