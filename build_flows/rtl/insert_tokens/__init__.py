"""``qvit_insert_tokens.sv`` and its code generator (:mod:`build_flows.rtl.insert_tokens.codegen`)."""
