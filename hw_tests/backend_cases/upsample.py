"""UpsampleNearestNeighbour_rtl: INT5 3x2 pixels of 4 channels (SIMD 2) upsampled x2 rows, x3 columns, and BIPOLAR
2x3 pixels of 3 channels (SIMD 3) x3 rows, x1 column; several images under random stalls; mutant: a pixel's
repetitions read the next pixel."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.upsample import codegen
from build_flows.sim import stitch
from build_flows.sim.run import simulate

IMAGES = 3
#: (dtype, HI, WI, channels, SIMD, row factor, column factor)
SHAPES = (("INT5", 3, 2, 4, 2, 2, 3), ("BIPOLAR", 2, 3, 3, 3, 3, 1))


def _params(dt, hi, wi, c, simd, sh, sw):
    get = dict(inputDataType=dt, HI=hi, WI=wi, HO=hi * sh, WO=wi * sw, NumChannels=c, SIMD=simd).get
    return codegen.params_from(get)


def _lint(tmp):
    return codegen.write(_params(*SHAPES[0]), tmp, "up_dut"), "up_dut"


def _simulate(tmp, source=None):
    """Golden: numpy's repeat of rows and columns."""
    rng = np.random.default_rng(12)
    got, want = [], []
    for k, (dt, hi, wi, c, simd, sh, sw) in enumerate(SHAPES):
        p = _params(dt, hi, wi, c, simd, sh, sw)
        files = codegen.write(p, tmp / str(k), "up_dut")
        if source is not None:
            files = [source, *files[1:]]
        shape = (IMAGES, hi, wi, c)
        x = rng.choice([-1, 1], size=shape) if dt == "BIPOLAR" else rng.integers(-16, 16, size=shape)
        out = np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)
        stage = stitch.Stage("dut", "up_dut", p.bits, p.bits, files)
        res = simulate([stage], x.reshape(IMAGES, -1), p.dt, simd, p.dt, simd, out[0].size, tmp / str(k),
                       stall_in=0.3, stall_out=0.4, seed=k)
        got.append(res.outputs.reshape(-1))
        want.append(out.reshape(-1))
    return np.concatenate(got), np.concatenate(want)


CASES = {
    "UpsampleNearestNeighbour_rtl": BackendCase(_lint, _simulate, codegen.SOURCE,
                                                ("int'(x) * CF + int'(f)", "(int'(x) + int'(rw != 0)) % WI * CF + int'(f)")),
}
