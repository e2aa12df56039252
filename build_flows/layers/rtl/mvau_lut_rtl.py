"""MVAU_lut_rtl: FINN's MVAU implemented on LUTs by ``rtl/mvau/qvit_mvau.sv``.

XNOR-popcount for binary x binary, add/subtract for binary or ternary weights, LUT multipliers for
other weights up to 4 bits and inputs up to 8 bits. FINN's own ``MVAU_rtl`` needs >= 4-bit operands
(DSP based), and FINN has binary/ternary MVAUs only as HLS; the build's specialisation gives these
MVAUs ours before FINN's ``SpecializeLayers`` runs.
"""

from __future__ import annotations

import dataclasses
import math

from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import FINN_HW_DOMAIN, bram18_for, lutram_sdp, rom_logic_lut_dense
from build_flows.layers.finn_layers import mvau_knobs, mvau_macs
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.mvau import codegen as mvau_rtl

#: LUTs per XNOR-popcount multiply-accumulate in qvit_mvau.sv (product and its share of the adder tree), fitted to
#: yosys counts: the cost model of the estimate and of the roofline ceiling
XNOR_LUT_PER_MAC = 2.5


@register_rtl_backend
class MVAU_lut_rtl(QvitRTLBackend, MVAU, RTLBackend):  # noqa: N801 (FINN's naming)
    """FINN's MVAU on LUTs in RTL (``qvit_mvau.sv``). Weights live in a ROM inside the layer
    (``mem_mode`` internal_embedded or internal_decoupled; ``ram_style`` block/distributed/auto becomes
    the ROM's ``rom_style``) or arrive on the layer's second stream ``in1_V`` (``mem_mode`` external, in
    FINN's decoupled stream layout); thresholds are always a ROM. Execution modes: python (FINN's MVAU
    arithmetic) and ``rtlsim`` (Verilator through :mod:`build_flows.sim`)."""

    implements, implements_domain = "MVAU", FINN_HW_DOMAIN

    @staticmethod
    def unsupported(inst) -> str | None:
        """None when this backend implements the MVAU node instance ``inst``, else the reason it does not."""
        try:
            mvau_rtl.from_attrs(inst.get_nodeattr)
        except mvau_rtl.RTLUnsupported as e:
            return str(e)
        return None

    SOURCES = (mvau_rtl.SOURCE,)

    def rtl_shape(self) -> mvau_rtl.MVAUShape:
        """What the RTL needs, from the node's attributes (thresholds counted by write_hdl), with the weight ROM
        where the estimate puts it (:meth:`weight_style`)."""
        shape = mvau_rtl.from_attrs(self.get_nodeattr)
        return shape if shape.weight_stream else dataclasses.replace(shape, ram_style=self.weight_style())

    def write_hdl(self, model, code_dir):
        thr = None if self.get_nodeattr("noActivation") else model.get_initializer(self.onnx_node.input[2])
        shape = self.rtl_shape()
        if thr is not None:
            shape = dataclasses.replace(shape, n_thresholds=int(thr.shape[-1]))
        mvau_rtl.write(shape, model.get_initializer(self.onnx_node.input[1]), thr, code_dir, self.onnx_node.name)

    def get_verilog_top_module_intf_names(self):
        intf = super().get_verilog_top_module_intf_names()
        if self.rtl_shape().weight_stream:
            intf["s_axis"].append(("in1_V", self.get_instream_width_padded(1)))
        return intf

    def get_instream_width(self, ind=0):
        if ind == 0 or (ind == 1 and self.get_nodeattr("mem_mode") == "external"):
            return MVAU.get_instream_width(self, ind)
        return 0  # ROMs inside the layer, not streams

    def side_streams(self, model) -> list:
        """The layer's weight stream (mem_mode external) as the stitched top's side input, else none."""
        return self._weight_stream(model.get_initializer(self.onnx_node.input[1]))

    def rtlsim_side_streams(self, context) -> list:
        return self._weight_stream(context[self.onnx_node.input[1]])

    def _weight_stream(self, weights) -> list:
        from build_flows.sim import stitch

        shape = self.rtl_shape()
        if not shape.weight_stream:
            return []
        return [stitch.SideStream(shape.weight_bits, mvau_rtl.weight_stream_beats(shape, weights))]

    # ------------------------------------------------------------ estimates
    def lut_estimation(self, fpgapart=None):
        """LUT model of qvit_mvau.sv: per multiply-accumulate (product term plus its share of the adder
        tree) 2.5 LUT for XNOR-popcount, 2.9 per input bit (+1) for add/subtract, and FINN's LUT-multiplier
        model x 1.25 for low-bit products (fitted to yosys synth_xilinx counts, benchmarks/rtl_sim.py);
        per PE lane the accumulator and threshold comparators; a weight ROM in LUTs as logic of its address
        (:func:`rom_logic_lut_dense`: a 4,096 x 1 ROM is 80 LUT6, not the 64 of its bits); 40 LUT control. The
        input-replay buffer's multiplexer is a feature of the calibrated estimate (:meth:`replay_bits`)."""
        shape = self.rtl_shape()
        ib, wb = shape.idt.bitwidth(), shape.wdt.bitwidth()
        mul = 1.25 * ((2 * math.ceil((ib + wb) / 6) - 1) * (ib + wb) + 2 * (ib + wb))
        per_mac = {"xnor": XNOR_LUT_PER_MAC, "addsub": 2.9 * (ib + 1), "mul": mul}[shape.mode]
        n_thr = 0 if self.get_nodeattr("noActivation") else 2 ** shape.odt.bitwidth() - 1
        lane = shape.simd * per_mac + shape.accw + n_thr * math.ceil(shape.accw / 2)
        rom = rom_logic_lut_dense(*self.weight_rom()) if self.weight_style() == "distributed" else 0
        return int(shape.pe * lane + rom + 40)

    def rom_logic(self) -> int:
        """LUTs of the ROMs that the RTL builds as logic (a feature of the calibrated estimate): the weight ROM when
        it is in LUTs and the threshold ROM (one word per neuron fold), each read without its contents
        (:func:`rom_logic_lut_dense`; the weights come from the graph, which an estimate does not see)."""
        shape = self.rtl_shape()
        weights = rom_logic_lut_dense(*self.weight_rom()) if self.weight_style() == "distributed" else 0
        n_thr = 0 if self.get_nodeattr("noActivation") else 2 ** shape.odt.bitwidth() - 1
        return weights + rom_logic_lut_dense(shape.nf, shape.pe * n_thr * shape.accw)

    # ------------------------------------------------------------ weight memory (one decision for RTL and estimate)
    def weight_rom(self) -> tuple[int, int]:
        """(depth, width in bits) of the weight ROM; (0, 0) when the weights arrive on a stream."""
        shape = mvau_rtl.from_attrs(self.get_nodeattr)
        if shape.weight_stream:
            return 0, 0
        return self.calc_wmem(), shape.pe * shape.simd * shape.wdt.bitwidth()

    def weight_style(self) -> str:
        """Where the weight ROM lives, as the RTL generator reads ``ram_style``: "distributed" (LUTRAM) or
        "block" (BRAM). "auto" (no decision written) is FINN's rule, LUTRAM up to 128 words; "ultra" is BRAM,
        since an UltraRAM has no initial contents to hold a ROM."""
        style = self.get_nodeattr("ram_style")
        if style in ("distributed", "block"):
            return style
        return "distributed" if style == "auto" and self.calc_wmem() <= 128 else "block"

    def memory_styles(self) -> dict[str, str]:
        return {"weights": self.weight_style()} if self.weight_rom()[0] else {}

    def replay_bits(self) -> int:
        """Input bits read back from the replay buffer (a feature of the calibrated estimate: the multiplexer between
        the stream and the buffer): an input beat's bits when an input vector takes several beats and several neuron
        folds read it; none when it takes one beat (it stays in the multiply stage's input register)."""
        shape = self.rtl_shape()
        return shape.simd * shape.idt.bitwidth() if shape.sf > 1 and shape.nf > 1 else 0

    def lutram_model(self) -> int:
        """The input buffer that replays an input vector to every neuron fold (read asynchronously: LUTRAM)."""
        bits = self.replay_bits()  # none when one beat or one neuron fold reads the stream directly
        return lutram_sdp(self.rtl_shape().sf, bits) if bits else 0

    def block_memories(self) -> list[tuple[int, int]]:
        return [self.weight_rom()] if self.weight_rom()[0] and self.weight_style() == "block" else []

    def set_memory_style(self, memory: str, style: str) -> None:
        if memory != "weights":
            raise KeyError(memory)
        self.set_nodeattr("ram_style", style)

    def bram_estimation(self, fpgapart=None):
        return bram18_for(*self.weight_rom()) if self.weight_style() == "block" else 0

    def uram_estimation(self, fpgapart=None):
        return 0  # see weight_style

    def dsp_estimation(self, fpgapart=None):
        return 0

    # ------------------------------------------------------------ facts
    def folding_knobs(self):
        return mvau_knobs(self)

    def macs_by_precision(self):
        return mvau_macs(self)

    def allows_dsp(self):
        return False  # LUT arithmetic by design; DSP MVAUs are FINN's MVAU_rtl

