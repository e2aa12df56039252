"""FINN's reference networks: Brevitas' BNN-PYNQ examples (``brevitas_examples.bnn_pynq``: the CNV CIFAR-10 CNN
and the TFC/SFC/LFC MNIST MLPs in W1A1, W1A2 and W2A2) exported to QONNX as FINN users export them, for builds,
tests and the FINN parity benchmark. They are Brevitas' models, not registered here: they have fixed input sizes
and no config of ours."""

from __future__ import annotations

from pathlib import Path

import torch

NETWORKS = ("cnv_1w1a", "cnv_1w2a", "cnv_2w2a", "tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a",
            "sfc_2w2a", "lfc_1w1a", "lfc_1w2a")


def input_shape(network: str) -> tuple[int, int, int, int]:
    """[1, C, H, W]: CIFAR-10 images for CNV, MNIST images for the MLPs."""
    return (1, 3, 32, 32) if network.startswith("cnv") else (1, 1, 28, 28)


def export_bnn_pynq(network: str, path: str | Path, seed: int = 0) -> Path:
    """Brevitas' BNN-PYNQ ``network`` (one of :data:`NETWORKS`) with weights drawn from ``seed`` (the trained ones
    are downloaded from GitHub by Brevitas, unreachable here), exported with ``export_qonnx`` to ``path``."""
    from brevitas.export import export_qonnx
    from brevitas_examples import bnn_pynq

    if network not in NETWORKS:
        raise ValueError(f"unknown BNN-PYNQ network {network!r}; choose one of {', '.join(NETWORKS)}")
    torch.manual_seed(seed)
    model = getattr(bnn_pynq, network)(pretrained=False).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(model, torch.rand(input_shape(network)), str(path))
    return path
