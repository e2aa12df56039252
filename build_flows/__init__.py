"""qvit-fpga build flows: FINN steps, custom ops, RTL, simulation harness and the `qvit` command line."""
