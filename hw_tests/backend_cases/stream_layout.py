"""StreamLayout_rtl: a heads transpose with PE=2 (element gather, a buffer copy per lane), a heads split
with PE=4 (whole beats), an identity layout, and selections (the patch tokens after a class token, the class
token alone, a transposed slice: fewer beats out than in), INT5 extremes and negatives under random stalls,
several images through the ping-pong buffer, the gather ROM and the buffers in block RAM for every other layout
and in LUTs for the rest; mutant: the second frame read at the first frame's addresses."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.stream_layout import codegen as stream_layout
from build_flows.sim import stitch
from build_flows.sim.run import simulate

# (name, input shape, the layout as a numpy function of one image, PE, RTL mode): tokens [T, heads*d] <->
# [heads, d, T] and friends, then selections
LAYOUTS = [("sl_el", (6, 2, 4), lambda x: x.transpose(1, 2, 0), 2, stream_layout.ELEMENTS),
           ("sl_bt", (5, 3, 8), lambda x: x.transpose(1, 0, 2), 4, stream_layout.BEATS),
           ("sl_id", (3, 4), lambda x: x, 2, stream_layout.IDENTITY),
           ("sl_patches", (5, 8), lambda x: x[1:], 4, stream_layout.BEATS),
           ("sl_cls", (5, 8), lambda x: x[0], 4, stream_layout.BEATS),
           ("sl_tslice", (4, 6), lambda x: x[:, 2:].T, 2, stream_layout.ELEMENTS)]
DT = "INT5"


def _attrs(shape, fn, pe, style="distributed"):
    x = np.arange(int(np.prod(shape))).reshape(shape)
    return dict(gather=[int(i) for i in fn(x).reshape(-1)], PE=pe, in_shape=[1, *shape],
                out_shape=[1, *fn(x).shape], inputDataType=DT, outputDataType=DT, ram_style=style, rom_style=style)


def _stream_layout_lint(tmp):
    name, shape, fn, pe, _ = LAYOUTS[0]
    return stream_layout.write(stream_layout.params_from(_attrs(shape, fn, pe).get), tmp, name), name


def _stream_layout_simulate(tmp, source=None):
    """Five images per layout under stalls; golden: the numpy function on each image (not the gather)."""
    rng = np.random.default_rng(5)
    got, want = [], []
    for k, (name, shape, fn, pe, mode) in enumerate(LAYOUTS):
        style = ("block", "distributed")[k % 2]
        p = stream_layout.params_from(_attrs(shape, fn, pe, style).get)
        assert p.mode == mode and p.block == (style == "block")
        assert p.rom_block == (style == "block" and mode != stream_layout.IDENTITY)
        files = stream_layout.write(p, tmp / name, name)
        if source is not None:
            files = [source, *files[1:]]
        x = rng.integers(-16, 16, size=(5, *shape))
        x[0].flat[:4] = [-16, 15, -1, 0]
        stage = stitch.Stage(name, name, p.bits, p.bits, files)
        res = simulate([stage], x.reshape(5, -1), p.dt, pe, p.dt, pe, fn(x[0]).size, tmp / name, stall_in=0.3,
                       stall_out=0.4, seed=4)
        got.append(res.outputs)
        want.append(np.stack([fn(img).reshape(-1) for img in x]))
    return np.concatenate(got, axis=1), np.concatenate(want, axis=1)


CASES = {
    "StreamLayout_rtl": BackendCase(_stream_layout_lint, _stream_layout_simulate, stream_layout.SOURCE,
                                    (".raddr(f1 ? MAW'(NB) + MAW'(a1) : MAW'(a1))", ".raddr(MAW'(a1))")),
}
