"""``qvit_grid_pool_sum.sv`` and its code generator (:mod:`build_flows.rtl.grid_pool_sum.codegen`)."""
