"""qvit-fpga build flows: FINN steps, custom ops, RTL, simulation harness and the `qvit` command line."""

from qonnx.custom_op.registry import add_domain_alias

# Our hardware layers live in build_flows.hw_ops; their ONNX domain sits under FINN's dataflow
# domain so that FINN's partitioning, folding analysis and estimates take them as dataflow layers.
add_domain_alias("finn.custom_op.fpgadataflow.qvit", "build_flows.hw_ops")
# Our RTL layers join FINN's RTL domain (FINN's is_rtl_node compares the domain name): the domain
# resolves to build_flows.rtl_ops, whose registry is FINN's with ours added.
add_domain_alias("finn.custom_op.fpgadataflow.rtl", "build_flows.rtl_ops")
