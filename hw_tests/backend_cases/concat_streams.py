"""ConcatStreams_rtl: channels of INT4 and UINT3 joined (INT5 out, runs of 2 and 3 beats), tokens of two BIPOLAR
streams joined (runs of 3 tokens and 1 token), and BIPOLAR with INT3 channels (INT3 out): several images per case
under random stalls on both inputs and the output; mutant: input 1 read as signed."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.concat_streams import codegen
from build_flows.sim import stitch
from build_flows.sim.run import HostInput, simulate

IMAGES = 3
#: (input 0 dtype, input 1 dtype, output dtype, shape 0, shape 1, axis, PE)
SHAPES = (("INT4", "UINT3", "INT5", (2, 3, 4), (2, 3, 6), 3, 2),
          ("BIPOLAR", "BIPOLAR", "BIPOLAR", (3, 8), (1, 8), 1, 4),
          ("BIPOLAR", "INT3", "INT3", (4, 2), (4, 3), 2, 1))


def _draw(rng, dt: str, shape):
    if dt == "BIPOLAR":
        return rng.choice([-1, 1], size=shape)
    from qonnx.core.datatype import DataType

    d = DataType[dt]
    v = rng.integers(int(d.min()), int(d.max()) + 1, size=shape)
    v.reshape(-1)[:2] = [d.min(), d.max()]  # the extremes, where a wrong widening shows
    return v


def _params(a, b, o, sa, sb, axis, pe):
    get = dict(PE=pe, inputDataType=a, inputDataType1=b, outputDataType=o, axis=axis).get
    return codegen.params_from(get, (1, *sa), (1, *sb))


def _lint(tmp):
    return codegen.write(_params(*SHAPES[0]), tmp, "cat_dut"), "cat_dut"


def _simulate(tmp, source=None):
    """Golden: numpy's concatenate of each image's two inputs."""
    rng = np.random.default_rng(11)
    got, want = [], []
    for k, (a, b, o, sa, sb, axis, pe) in enumerate(SHAPES):
        p = _params(a, b, o, sa, sb, axis, pe)
        files = codegen.write(p, tmp / str(k), "cat_dut")
        if source is not None:
            files = [source, *files[1:]]
        x, y = _draw(rng, a, (IMAGES, *sa)), _draw(rng, b, (IMAGES, *sb))
        a_w, b_w, o_w = p.widths
        stage = stitch.Stage("dut", "cat_dut", a_w, o_w, files, in_more=[b_w])
        edges = [stitch.Edge(None, (0, 0)), stitch.Edge(None, (0, 1)), stitch.Edge((0, 0), None)]
        out = np.concatenate([x, y], axis=axis)
        res = simulate([stage], x.reshape(IMAGES, -1), p.adt, pe, p.odt, pe, out[0].size, tmp / str(k), edges=edges,
                       more_inputs=[HostInput(y.reshape(IMAGES, -1), p.bdt, pe)], stall_in=0.3, stall_out=0.4, seed=k)
        got.append(res.outputs.reshape(-1))
        want.append(out.reshape(-1))
    return np.concatenate(got), np.concatenate(want)


CASES = {
    "ConcatStreams_rtl": BackendCase(_lint, _simulate, codegen.SOURCE,
                                     ("BKIND == 1 ? OBITS'($signed(rb))", "1 == 1 ? OBITS'($signed(rb))")),
}
