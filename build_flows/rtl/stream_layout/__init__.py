"""``qvit_stream_layout.sv`` and its code generator (:mod:`build_flows.rtl.stream_layout.codegen`)."""
