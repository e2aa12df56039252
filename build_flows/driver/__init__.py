"""The host driver (board-side: numpy and, on a board, pynq; nothing from torch, FINN, QONNX or Brevitas).
``qvit deploy`` copies this package into a deployment package as ``qvit_driver``.

    from qvit_driver import Accelerator
    acc = Accelerator.from_package(".", backend="pynq")   # or "sim": the Verilator model of the same design
    top1, scores = acc.classify(images_uint8)             # [n, H, W, C] raw pixels
"""

from .accelerator import Accelerator, DriverError

__all__ = ["Accelerator", "DriverError"]
