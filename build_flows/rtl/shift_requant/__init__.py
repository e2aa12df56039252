"""``qvit_shift_requant.sv`` and its code generator (:mod:`build_flows.rtl.shift_requant.codegen`)."""
