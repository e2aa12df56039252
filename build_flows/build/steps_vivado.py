"""FINN's Vivado steps (IP generation, stitched IP, bitfile). Without Vivado each stops with a clear
error naming the step; everything before it stays valid."""

from __future__ import annotations

from build_flows.build.context import build_step
from build_flows.finn_env import require_vivado

VIVADO_STEPS = ["hw_ipgen", "create_stitched_ip", "synthesize_bitfile"]


def _vivado_step(name):
    def step(model, ctx):
        require_vivado(name)
        import finn.builder.build_dataflow_steps as finn_steps

        return getattr(finn_steps, f"step_{name}")(model, ctx.finn_cfg)

    step.__doc__ = f"FINN's step_{name} (needs Vivado)."
    return step


for _name in VIVADO_STEPS:
    build_step(_name)(_vivado_step(_name))
