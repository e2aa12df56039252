"""``qvit_concat_streams.sv`` and its code generator (:mod:`build_flows.rtl.concat_streams.codegen`)."""
