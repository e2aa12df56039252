"""The lowering's rules, one module per kind of node; importing them fills
:data:`build_flows.lowering.core.RULES` (each rule registers itself with ``@rule``)."""

import build_flows.lowering.rules.elementwise  # noqa: F401
import build_flows.lowering.rules.layout  # noqa: F401
import build_flows.lowering.rules.linear  # noqa: F401
import build_flows.lowering.rules.pooling  # noqa: F401
import build_flows.lowering.rules.quant  # noqa: F401
import build_flows.lowering.rules.transformer  # noqa: F401
