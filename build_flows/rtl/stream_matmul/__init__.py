"""``qvit_stream_matmul.sv`` and its code generator (:mod:`build_flows.rtl.stream_matmul.codegen`)."""
