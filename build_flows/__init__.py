"""qvit-fpga build flows: FINN steps, hardware layers with their RTL, the simulation harness and the
`qvit` command line."""

from qonnx.custom_op.registry import add_domain_alias

# Our hardware layers (build_flows.layers) live in an ONNX domain under FINN's dataflow domain, so
# that FINN's partitioning, folding analysis and estimates take them as dataflow layers.
add_domain_alias("finn.custom_op.fpgadataflow.qvit", "build_flows.layers")
# Our RTL backends join FINN's RTL domain (FINN's is_rtl_node compares the domain name): the domain
# resolves to build_flows.layers.rtl, whose registry is FINN's with ours added.
add_domain_alias("finn.custom_op.fpgadataflow.rtl", "build_flows.layers.rtl")
