"""Resource counts without Vivado: yosys synthesis of layers and stitched accelerators."""
