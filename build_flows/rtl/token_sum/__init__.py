"""``qvit_token_sum.sv`` and its code generator (:mod:`build_flows.rtl.token_sum.codegen`)."""
