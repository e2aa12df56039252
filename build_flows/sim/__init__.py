"""Cycle-accurate simulation of qvit-fpga hardware in Verilator: single nodes and stitched accelerators."""
