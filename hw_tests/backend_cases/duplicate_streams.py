"""DuplicateStreams_rtl: each output of a three-way fork (the others draining freely) equals the input under
random stalls, and a fork that drops a pending output is caught."""

import numpy as np
from qonnx.core.datatype import DataType

from backend_cases.base import BackendCase
from build_flows.rtl.duplicate_streams import codegen
from build_flows.sim import stitch
from build_flows.sim.run import simulate

N, PE, DT = 3, 2, DataType["INT5"]


def _lint(tmp):
    return codegen.write(N, PE * DT.bitwidth(), tmp, "dup_dut"), "dup_dut"


def _simulate(tmp, source=None):
    files = codegen.write(N, PE * DT.bitwidth(), tmp, "dup_dut")
    if source is not None:
        files = [source, *files[1:]]
    x = np.random.default_rng(8).integers(-16, 16, size=(4, 30))
    got = []
    for port in range(N):
        view = codegen.write_port_view(N, PE * DT.bitwidth(), port, tmp, "dup_dut")
        stage = stitch.Stage("dut", view.stem, PE * DT.bitwidth(), PE * DT.bitwidth(), [*files, view])
        got.append(simulate([stage], x, DT, PE, DT, PE, x.shape[1], tmp / f"p{port}", stall_in=0.3, stall_out=0.4,
                            seed=port).outputs)
    return np.stack(got), np.stack([x] * N)


CASES = {
    # an output that is not ready loses the beat
    "DuplicateStreams_rtl": BackendCase(_lint, _simulate, codegen.SOURCE,
                                        ("pending <= pending & ~out_ready;", "pending <= '0;")),
}
