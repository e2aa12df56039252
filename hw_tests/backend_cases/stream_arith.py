"""AddStreams_rtl and MulStreams_rtl: two independent streams under random stalls against numpy, with mutants."""

import numpy as np
from qonnx.core.datatype import DataType

from backend_cases.base import BackendCase
from build_flows.rtl.stream_arith import codegen
from build_flows.sim import stitch
from build_flows.sim.run import HostInput, simulate

CHANNELS, PE, IMAGES, TOKENS = 8, 4, 3, 5
ADD = dict(PE=PE, inputDataType="INT12", inputDataType1="INT8", outputDataType="INT13",
           signs0=[1, 1, -1, 1, 1, 1, 1, -1], signs1=[1, -1, -1, 1, -1, 1, 1, 1])
MUL = dict(PE=PE, inputDataType="UINT4", inputDataType1="INT8", outputDataType="INT12")


def _values(rng, dt: DataType, shape):
    """Random values of ``dt`` with its extremes planted at the start."""
    v = rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)
    v.reshape(-1)[:2] = [dt.min(), dt.max()]
    return v


def _run(op, attrs, golden, tmp, source):
    p = codegen.params_from(op, lambda k: attrs.get(k, []), CHANNELS)
    files = codegen.write(p, tmp, "arith_dut")
    if source is not None:
        files = [source, *files[1:]]
    rng = np.random.default_rng(5)
    a = _values(rng, p.adt, (IMAGES, TOKENS * CHANNELS))
    b = _values(rng, p.bdt, (IMAGES, TOKENS * CHANNELS))
    b.reshape(-1)[2:4] = [p.bdt.max(), p.bdt.min()]
    a_w, b_w, o_w = p.widths
    stage = stitch.Stage("dut", "arith_dut", a_w, o_w, files, in_more=[b_w])
    edges = [stitch.Edge(None, (0, 0)), stitch.Edge(None, (0, 1)), stitch.Edge((0, 0), None)]
    res = simulate([stage], a, p.adt, PE, p.odt, PE, TOKENS * CHANNELS, tmp, edges=edges,
                   more_inputs=[HostInput(b, p.bdt, PE)], stall_in=0.3, stall_out=0.4, seed=4)
    return res.outputs, golden(a.reshape(IMAGES, TOKENS, CHANNELS), b.reshape(IMAGES, TOKENS, CHANNELS)).reshape(IMAGES, -1)


def _add_simulate(tmp, source=None):
    return _run("AddStreams", ADD, lambda a, b: np.asarray(ADD["signs0"]) * a + np.asarray(ADD["signs1"]) * b, tmp, source)


def _mul_simulate(tmp, source=None):
    return _run("MulStreams", MUL, lambda a, b: a * b, tmp, source)


def _lint(op, attrs):
    def lint(tmp):
        return codegen.write(codegen.params_from(op, lambda k: attrs.get(k, []), CHANNELS), tmp, "arith_dut"), "arith_dut"
    return lint


CASES = {
    # input 1's sign ignored
    "AddStreams_rtl": BackendCase(_lint("AddStreams", ADD), _add_simulate, codegen.SOURCE,
                                  ("(neg[1] ? -b : b)", "b")),
    # the unsigned input read as signed
    "MulStreams_rtl": BackendCase(_lint("MulStreams", MUL), _mul_simulate, codegen.SOURCE,
                                  ("ASIGNED != 0 ? W'($signed(ra))", "1 != 0 ? W'($signed(ra))")),
}
