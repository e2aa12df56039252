"""The shared base of qvit-fpga's hardware layers, the facts every layer answers, and the registry.

A layer is a FINN ``HWCustomOp`` in the ONNX domain :data:`QVIT_DOMAIN` (under FINN's dataflow domain,
so FINN's partitioning, folding analysis and estimates take it as a dataflow layer). It registers
itself with :func:`register_layer`. The build stages never switch on a layer's name: they ask the layer
(:class:`LayerFacts`) for its folding knobs, binary operations, DSP use, RTL and host-side reorders.
FINN's own layers answer the same questions through :func:`build_flows.layers.finn_layers.layer_facts`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from qonnx.core.datatype import DataType

from build_flows.driver import host_steps

QVIT_DOMAIN = "finn.custom_op.fpgadataflow.qvit"  # resolves to build_flows.layers (build_flows/__init__.py)
FINN_HW_DOMAIN = "finn.custom_op.fpgadataflow"
FINN_RTL_DOMAIN = "finn.custom_op.fpgadataflow.rtl"  # resolves to build_flows.layers.rtl

BRAM18_BITS = 18 * 1024


def synth_in_block(depth: int, width: int) -> bool:
    """Whether synthesis makes a memory without a ram_style/rom_style mark block RAM (else LUTRAM or logic): yosys
    synth_xilinx on the calibration grid (benchmarks/calibration.py) keeps 1,024 x 1 and 448 x 4 memories and
    128-word ROMs in LUTs and makes 3,136 x 1, 1,024 x 4, 448 x 8 and 1,024-word ROMs block RAM."""
    return depth > 64 and depth * width > 2048
LUTRAM_BITS = 64  # one LUT6 as 64x1 distributed RAM

NO_RTL_YET = "qvit-fpga layer without RTL yet (python execution and estimates only)"

#: op type -> layer class: qonnx finds our layers here (the ``custom_op`` dict of build_flows.layers)
custom_op: dict[str, type] = {}


def register_layer(cls):
    """Class decorator: add a :class:`QvitLayer` subclass to the registry under its class name."""
    if not (isinstance(cls, type) and issubclass(cls, QvitLayer)):
        raise TypeError(f"{cls!r} is not a QvitLayer subclass")
    if cls.__name__ in custom_op:
        raise ValueError(f"layer {cls.__name__} registered twice")
    custom_op[cls.__name__] = cls
    return cls


def memory_cost(bits: int) -> tuple[int, int]:
    """(BRAM18, LUT) to hold ``bits``: distributed RAM up to 16 kbit, block RAM above."""
    if bits <= 16 * 1024:
        return 0, math.ceil(bits / LUTRAM_BITS)
    return math.ceil(bits / BRAM18_BITS), 0


#: the aspect ratios of a BRAM18 in simple dual-port mode: (width, depth)
BRAM18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def bram18_for(depth: int, width: int) -> int:
    """Block RAMs (18 kbit) that hold a ``depth`` x ``width`` memory: the cheapest aspect ratio, tiled."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)


def bram_read_mux(depth: int, width: int) -> int:
    """Bits x extra block RAMs stacked in depth to hold a ``depth`` x ``width`` memory (the cheapest tiling): the
    read multiplexer that picks the stacked RAM's output costs logic in proportion (a feature of the calibrated
    LUT estimate)."""
    if depth <= 0 or width <= 0:
        return 0
    w, d = min(BRAM18_SHAPES, key=lambda s: math.ceil(width / s[0]) * math.ceil(depth / s[1]))
    return width * (math.ceil(depth / d) - 1)



def lutram_for(depth: int, width: int) -> int:
    """LUTs (64 x 1 distributed RAM each) that hold a ``depth`` x ``width`` memory."""
    return width * math.ceil(depth / LUTRAM_BITS)


def lutram_sdp(depth: int, width: int) -> int:
    """LUTs of a ``depth`` x ``width`` simple dual-port RAM with a registered read, as yosys synth_xilinx maps it:
    RAM32M16 (32 words x 14 bits in 8 LUTs) up to 32 words, else RAM64M8 (64 words x 7 bits in 8 LUTs) tiled
    (a 392 x 1 memory: 7 RAM64M8, 56 LUTs). Vivado packs narrow memories tighter (RAM64X1D, 64 x 1 in 2 LUTs),
    so for them this is the conservative count."""
    if depth <= 0 or width <= 0:
        return 0
    if depth <= 32:
        return 8 * math.ceil(width / 14)
    return 8 * math.ceil(width / 7) * math.ceil(depth / 64)


def bit_matrix(words, width: int) -> np.ndarray:
    """(depth, width) 0/1 matrix of non-negative integer ``words``, bit 0 first."""
    w = np.asarray([int(v) for v in words], dtype=object)
    return np.array([[(int(v) >> b) & 1 for b in range(width)] for v in w], dtype=np.uint8).reshape(len(w), width)


def rom_logic_lut(bits: np.ndarray) -> int:
    """LUT6s of a constant ROM that synthesis builds as logic, from its contents (a (depth, width) 0/1 matrix): per
    bit column a function of the address; a column that is constant or equals an address bit (or its inverse) costs
    nothing, identical columns share one, and the rest cost 2**(s - 6) LUT6 for the s address bits they depend
    on (one up to six), plus a LUT per four beyond the wide-function multiplexers. The calibration against yosys
    (benchmarks/calibration.py) scales it."""
    depth = bits.shape[0]
    if depth == 0:
        return 0
    addr = np.arange(depth)
    abits = max(1, (depth - 1).bit_length())
    address_columns = {((addr >> k) & 1).astype(np.uint8).tobytes() for k in range(abits)}
    address_columns |= {(1 - ((addr >> k) & 1)).astype(np.uint8).tobytes() for k in range(abits)}
    seen, total = set(), 0
    for col in bits.T:
        key = col.tobytes()
        if col.min() == col.max() or key in address_columns or key in seen:
            continue
        seen.add(key)
        support = 0
        for k in range(abits):
            a = addr[(addr ^ (1 << k)) < depth]
            support += bool(np.any(col[a] != col[a ^ (1 << k)]))
        total += _column_luts(support)
    return total


def _column_luts(support: int) -> int:
    """LUT6s of one ROM bit column that depends on ``support`` address bits: 2**(support - 6) LUT6s (one up to six
    bits), plus a LUT per four beyond the wide-function multiplexers."""
    n = 1 if support <= 6 else 2 ** (support - 6)
    return n + (n // 4 if n > 4 else 0)


def rom_logic_lut_dense(depth: int, width: int) -> int:
    """:func:`rom_logic_lut` of a ``depth`` x ``width`` ROM whose every bit column depends on every address bit (what
    trained weights look like, read without their contents); 0 for a ROM of one word (constants)."""
    if depth <= 1 or width <= 0:
        return 0
    return width * _column_luts((depth - 1).bit_length())


def precision(*dts: DataType) -> str:
    """The precision class of a product of operands of ``dts``: "binary" (all 1 bit), "ternary", "intN" (all the
    same), or the classes joined ("int8 x ternary")."""
    def name(dt: DataType) -> str:
        return "binary" if dt.bitwidth() == 1 else "ternary" if dt == DataType["TERNARY"] else f"int{dt.bitwidth()}"

    names = sorted({name(dt) for dt in dts})
    return " x ".join(names)


def pe_on_last_axis(inst) -> list[tuple[str, int]]:
    """The folding of a plain streaming layer: ``PE`` lanes dividing the last axis of its input and of its
    output (they differ for reorders and padding; none without PE)."""
    if "PE" in inst.get_nodeattr_types():
        return [("PE", math.gcd(inst.get_normal_input_shape()[-1], inst.get_normal_output_shape()[-1]))]
    return []


class LayerFacts:
    """What the build stages ask of a hardware layer, with the defaults of a plain streaming layer.
    Our layers (and our RTL backends of FINN's layers) inherit it; FINN's layers get an adapter."""

    def folding_knobs(self) -> list[tuple[str, int]]:
        """The folding attributes and the dimension each must divide, in the order they grow."""
        return pe_on_last_axis(self)

    def macs_by_precision(self) -> dict[str, int]:
        """Multiply-accumulates per image by the operands' precision (:func:`precision`); none by default."""
        return {}

    def allows_dsp(self) -> bool:
        """False when the layer's arithmetic is meant for LUTs (synthesis counts then forbid DSPs)."""
        return True

    def memory_styles(self) -> dict[str, str]:
        """The layer's memories that may live in LUTs ("distributed") or block RAM ("block"), each with where it is
        now: what the build places per board and folding (:func:`build_flows.build.folding.decide_memories`), and
        what its estimate and RTL generator then read."""
        return {}

    def set_memory_style(self, memory: str, style: str) -> None:
        """Put ``memory`` (a key of :meth:`memory_styles`) in ``style``, where the estimate and the RTL read it."""
        raise KeyError(f"{type(self).__name__} has no memory {memory!r} to place")

    def rtl_reason(self) -> str | None:
        """None when the layer has RTL that the simulation can stitch, else why not (a layer that one of our
        RTL backends implements says why that backend does not take this instance, or that it is not
        specialised yet)."""
        from build_flows.layers.rtl import BACKENDS

        op = getattr(self, "onnx_node", None) and self.onnx_node.op_type
        for backend in BACKENDS:
            if backend.implements == op:
                why = backend.unsupported(self)
                return (f"{backend.__name__} does not implement this instance: {why}" if why else
                        f"not specialised to {backend.__name__} (the build's specialize_layers step does that)")
        return NO_RTL_YET

    def side_streams(self, model) -> list:
        """Extra AXI-stream inputs the host feeds (``build_flows.sim.stitch.SideStream``), e.g. weights."""
        return []

    def host_reorder(self) -> np.ndarray | None:
        """The gather indices when the layer is a fixed reorder that the host driver may apply instead
        (at the graph's start or end, as FINN's driver does for NCHW <-> NHWC), else None."""
        return None

    def host_spec(self, model) -> dict | None:
        """The step (:mod:`build_flows.driver.host_steps`) that the host driver runs instead of the layer when
        the layer sits at the graph's start or end (fixed reorders; float ops that can only end a graph, as
        FINN's ``dataflow_parent`` keeps them outside the accelerator), else None."""
        gather = self.host_reorder()
        return None if gather is None else {"kind": "reorder", "gather": gather}

    def host_step(self, model):
        """:meth:`host_spec` as a numpy function ``[n, ...] -> [n, values]``, or None."""
        spec = self.host_spec(model)
        return None if spec is None else functools.partial(host_steps.apply, spec)


class QvitLayer(LayerFacts, HWCustomOp):
    """Shared parts of our layers: ``PE`` lanes on the last axis, ``inputDataType``/``outputDataType``
    attributes, normal shapes from the ``in_shape``/``out_shape`` attributes, channels-last streams.
    Estimates default to one output word of PE elements per cycle and no resources."""

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
        """Take the input datatypes from the graph (as FINN's layers do: FINN's bit-width minimisation
        narrows a producer's output, and the stream packing must follow), then set the output's."""
        for ind, tensor in enumerate(self.onnx_node.input[:2]):
            attr = "inputDataType1" if ind else "inputDataType"
            if not tensor or attr not in self.get_nodeattr_types() or model.get_initializer(tensor) is not None:
                continue
            dt = model.get_tensor_datatype(tensor)
            if dt != self.get_input_datatype(ind) and (dt.is_integer() or dt == DataType["BIPOLAR"]):
                self.set_nodeattr(attr, dt.name)
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

    def lut_estimation(self, fpgapart=None):
        return 0

    def rom_logic(self) -> int:
        """LUTs of the layer's constant tables that synthesis builds as logic (:func:`rom_logic_lut` of their
        contents): a feature of the calibrated estimate; 0 for a layer without such tables."""
        return 0

    def lutram_model(self) -> int:
        """LUTs of the layer's distributed RAMs (buffers written at run time): a feature of the calibrated
        LUTRAM and LUT estimates; 0 for a layer without them."""
        return 0

    def block_memories(self) -> list[tuple[int, int]]:
        """(depth, width) of each memory the layer holds in block RAM (for the read-multiplexer feature of the
        calibrated LUT estimate, :func:`bram_read_mux`); none by default."""
        return []

    def bram_estimation(self, fpgapart=None):
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


class TwoInputLayer(QvitLayer):
    """A layer with a second input stream of its own datatype (``inputDataType1``)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"inputDataType1": ("s", True, "")})
        return attrs

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType1" if ind == 1 else "inputDataType")]
