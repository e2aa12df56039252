"""Stitching of graphs that are not chains: a fork (DuplicateStreams) whose branches meet again in a join
(AddStreams), one branch through a requantiser, under random stalls on every input and output, against
numpy; a wrong golden model is caught; a graph with an unconnected port is refused."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from build_flows.rtl.duplicate_streams import codegen as dup
from build_flows.rtl.shift_requant import codegen as shift_requant
from build_flows.rtl.stream_arith import codegen as arith
from build_flows.sim import stitch
from build_flows.sim.run import simulate

C, PE, TOKENS = 4, 2, 6
IDT, MDT, ODT = DataType["INT6"], DataType["INT5"], DataType["INT7"]


def _graph(tmp, skip_depth):
    """x -> fork -> [ShiftRequant(x / 2, clip to INT5)] -> AddStreams(requantised, x) with the skip edge's FIFO
    ``skip_depth`` deep, and every other FIFO 2 deep."""
    attrs = dict(PE=PE, shift=-1, offset=[], qmin=-16, qmax=15, inputDataType=IDT.name, outputDataType=MDT.name)
    sr = shift_requant.params_from(attrs.get, C)
    add = arith.params_from("AddStreams", dict(PE=PE, inputDataType=MDT.name, inputDataType1=IDT.name,
                                                outputDataType=ODT.name, signs0=[], signs1=[]).get, C)
    stages = [
        stitch.Stage("dup", "dup", PE * 6, PE * 6, dup.write(2, PE * 6, tmp, "dup"), out_more=[PE * 6]),
        stitch.Stage("half", "half", PE * 6, PE * 5, shift_requant.write(sr, tmp, "half")),
        stitch.Stage("adder", "adder", PE * 5, PE * 7, arith.write(add, tmp, "adder"), in_more=[PE * 6]),
    ]
    edges = [stitch.Edge(None, (0, 0), 2), stitch.Edge((0, 0), (1, 0), 2), stitch.Edge((1, 0), (2, 0), 2),
             stitch.Edge((0, 1), (2, 1), skip_depth), stitch.Edge((2, 0), None, 2)]
    return stages, edges


def _golden(x):
    return np.clip(np.round(x / 2.0), -16, 15) + x


@pytest.mark.parametrize("stall", [0.0, 0.35])
def test_fork_and_join_match_numpy_under_stalls(tmp_path, stall):
    x = np.random.default_rng(1).integers(-32, 32, size=(5, TOKENS * C))
    x[0, :2] = [-32, 31]
    stages, edges = _graph(tmp_path, 2)
    res = simulate(stages, x, IDT, PE, ODT, PE, TOKENS * C, tmp_path / "run", edges=edges,
                   stall_in=stall, stall_out=stall, seed=3)
    assert np.array_equal(res.outputs, _golden(x))
    assert len(res.fifo_hwm) == len(edges)


def test_wrong_join_is_caught(tmp_path):
    """The same graph with the join's inputs swapped in the golden model's eyes: a subtraction instead."""
    x = np.random.default_rng(2).integers(-32, 32, size=(3, TOKENS * C))
    stages, edges = _graph(tmp_path, 2)
    res = simulate(stages, x, IDT, PE, ODT, PE, TOKENS * C, tmp_path / "run", edges=edges, stall_in=0.3, stall_out=0.3)
    assert not np.array_equal(res.outputs, np.clip(np.round(x / 2.0), -16, 15) - x)


def test_unconnected_port_is_refused(tmp_path):
    stages, edges = _graph(tmp_path, 2)
    with pytest.raises(ValueError, match="adder port 1"):
        stitch.write_top(stages, edges[:3] + edges[4:], tmp_path / "top.sv")


@pytest.mark.parametrize("style", ["block", "distributed"])
def test_fifo_memory_style_reaches_the_rtl(tmp_path, style):
    """The memory a FIFO's placement chose (``Edge.ram_style``, from ``build_flows.build.fifos.place_fifos``) is the
    one synthesis builds: a 1,100-deep skip FIFO in block RAM, or in LUTs as distributed RAM. The FIFO stores the
    skip stream's 12 bits, not the 16 its bus carries with the byte padding."""
    from build_flows.synth.yosys import synth_stitched

    stages, edges = _graph(tmp_path, 1100)
    edges = [stitch.Edge(e.src, e.dst, e.depth, style if e.depth == 1100 else "distributed") for e in edges]
    stitch.write_top(stages, edges, tmp_path / "top.sv", hwm=False)
    top = (tmp_path / "top.sv").read_text()
    assert top.count(f'.DEPTH(1100), .DATA_WIDTH({PE * 6}), .RAM_STYLE("{style}")') == 1
    counts = synth_stitched(stages, edges, set(), tmp_path / "synth")
    assert (counts["BRAM18"] >= 1) == (style == "block")
    assert (counts["LUTRAM"] >= PE * 6 * 1100 // 64) == (style == "distributed")
