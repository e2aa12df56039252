"""``qvit_upsample.sv`` and its code generator (:mod:`build_flows.rtl.upsample.codegen`)."""
