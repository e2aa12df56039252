"""``qvit_mvau.sv`` and its code generator (:mod:`build_flows.rtl.mvau.codegen`)."""
