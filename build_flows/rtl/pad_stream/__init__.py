"""``qvit_pad_stream.sv`` and its code generator (:mod:`build_flows.rtl.pad_stream.codegen`)."""
