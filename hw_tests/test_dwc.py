"""qvit_dwc.sv: any pair of stream widths, the bit stream unchanged (low bits first), under random stalls."""

import numpy as np
import pytest

from build_flows.rtl import STREAM_DIR
from build_flows.sim import verilator


def _top(ibits, obits, path):
    iw, ow = (ibits + 7) // 8 * 8, (obits + 7) // 8 * 8
    path.write_text(f"""module qvit_sim_top (input logic ap_clk, input logic ap_rst_n,
	output logic in0_V_TREADY, input logic in0_V_TVALID, input logic [{iw - 1}:0] in0_V_TDATA,
	input logic out0_V_TREADY, output logic out0_V_TVALID, output logic [{ow - 1}:0] out0_V_TDATA);
	qvit_dwc #(.IBITS({ibits}), .OBITS({obits})) dut (.ap_clk, .ap_rst_n, .s_axis_tready(in0_V_TREADY),
		.s_axis_tvalid(in0_V_TVALID), .s_axis_tdata(in0_V_TDATA), .m_axis_tready(out0_V_TREADY),
		.m_axis_tvalid(out0_V_TVALID), .m_axis_tdata(out0_V_TDATA));
endmodule
""")
    return [STREAM_DIR / "qvit_dwc.sv", path]


def _beats(bits, width):
    """bit array -> uint8 beats of `width` bits each."""
    nbytes = (width + 7) // 8
    b = bits.reshape(-1, width)
    return np.packbits(np.pad(b, ((0, 0), (0, nbytes * 8 - width))), axis=1, bitorder="little")


@pytest.mark.parametrize("ibits,obits", [(1, 16), (16, 1), (8, 24), (24, 8), (12, 20), (36, 10)])
def test_dwc_keeps_the_bit_stream(ibits, obits, tmp_path):
    lcm = np.lcm(ibits, obits)
    bits = np.random.default_rng(ibits * 100 + obits).integers(0, 2, size=lcm * 40).astype(np.uint8)
    sim = verilator.build(_top(ibits, obits, tmp_path / "top.sv"), ibits, obits)
    n_out = len(bits) // obits
    out, _ = verilator.run(sim, _beats(bits, ibits), n_out, len(bits) // ibits, n_out, 0.3, 0.4, seed=ibits)
    got = np.unpackbits(out, axis=1, bitorder="little")[:, :obits].reshape(-1)
    assert np.array_equal(got, bits)
