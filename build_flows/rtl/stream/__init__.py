"""Stitching infrastructure: ``qvit_fifo.sv`` (FIFO with a high-water mark) and ``qvit_dwc.sv``
(data-width converter), used by the stitched top of :mod:`build_flows.sim.stitch`."""
