"""InsertTokens_rtl: a class and a distillation token ahead of 5 tokens of INT6 (type ends among the constants)
and one token behind, and a BIPOLAR class token ahead of 3 tokens, several images under random stalls; mutant:
the constant after the input read from the first constant's row."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.insert_tokens import codegen as insert_tokens
from build_flows.sim import stitch
from build_flows.sim.run import simulate

C = 8


def _case(dt: str, tokens: int, n_before: int, n_after: int, pe: int, rng):
    lo, hi = (-1, 2) if dt == "BIPOLAR" else (-32, 32)
    draw = (lambda n: rng.choice([-1, 1], size=(n, C))) if dt == "BIPOLAR" else (lambda n: rng.integers(lo, hi, size=(n, C)))
    before, after = draw(n_before), draw(n_after)
    if dt != "BIPOLAR" and n_before:
        before[0, :2] = [-32, 31]
    get = dict(PE=pe, inputDataType=dt, outputDataType=dt, before=[int(v) for v in before.ravel()],
               after=[int(v) for v in after.ravel()]).get
    p = insert_tokens.params_from(get, (1, tokens, C), (1, n_before + tokens + n_after, C))
    return p, before, after, draw


def _insert_tokens_lint(tmp):
    p, *_ = _case("INT6", 5, 2, 1, 2, np.random.default_rng(0))
    return insert_tokens.write(p, tmp, "it_dut"), "it_dut"


def _insert_tokens_simulate(tmp, source=None):
    """4 images per case; golden: numpy's concatenate of the constant tokens and each image."""
    rng = np.random.default_rng(8)
    got, want = [], []
    for dt, tokens, nb, na, pe in (("INT6", 5, 2, 1, 2), ("BIPOLAR", 3, 1, 0, 4)):
        p, before, after, draw = _case(dt, tokens, nb, na, pe, rng)
        files = insert_tokens.write(p, tmp / dt, "it_dut")
        if source is not None:
            files = [source, *files[1:]]
        x = np.stack([draw(tokens) for _ in range(4)])
        stage = stitch.Stage("dut", "it_dut", p.bits, p.bits, files)
        res = simulate([stage], x.reshape(4, -1), p.dt, pe, p.dt, pe, (nb + tokens + na) * C, tmp / dt, stall_in=0.3,
                       stall_out=0.4, seed=3)
        got.append(res.outputs.reshape(-1))
        want.append(np.stack([np.concatenate([before, img, after]) for img in x]).reshape(-1))
    return np.concatenate(got), np.concatenate(want)


CASES = {
    "InsertTokens_rtl": BackendCase(_insert_tokens_lint, _insert_tokens_simulate, insert_tokens.SOURCE,
                                    ("PW'(int'(pos) - NI)", "PW'(0)")),
}
