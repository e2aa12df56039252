"""``qvit_stream_softmax.sv`` and its code generator (:mod:`build_flows.rtl.stream_softmax.codegen`)."""
