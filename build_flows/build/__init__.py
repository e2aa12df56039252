"""``qvit build``: the runner (:mod:`.runner`, named steps in plain ordered lists), the step bodies by
phase (:mod:`.steps_frontend`, :mod:`.steps_dataflow`, :mod:`.steps_rtl`, :mod:`.steps_vivado`), folding and
performance (:mod:`.folding`) and the typed report (:mod:`.report`)."""

from build_flows.build.context import STEP_FUNCTIONS, BuildContext, BuildError, build_step
from build_flows.build.report import BuildReport, summary
from build_flows.build.runner import DEFAULT_STEPS, ESTIMATE_STEPS, RTL_STEPS, VIVADO_STEPS, build, default_until

__all__ = ["DEFAULT_STEPS", "ESTIMATE_STEPS", "RTL_STEPS", "STEP_FUNCTIONS", "VIVADO_STEPS", "BuildContext", "BuildError",
           "BuildReport", "build", "build_step", "default_until", "summary"]
