"""``qvit_channel_requant.sv`` and its code generator (:mod:`build_flows.rtl.channel_requant.codegen`)."""
