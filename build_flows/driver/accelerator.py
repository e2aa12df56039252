"""The host's view of one accelerator: what it takes and gives (``accelerator.json`` of a deployment package, in
FINN's shape conventions), the pre-processing of images, the steps the host runs around it, and a backend that
moves packed bytes through it (a PYNQ board, or the Verilator model of the same design). Board-side: numpy only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import host_steps, packing
from .datatypes import stream_type

DESCRIPTION = "accelerator.json"


class DriverError(ValueError):
    """Input the accelerator cannot take, or a package that does not describe one; the message says how to fix it."""


class Accelerator:
    """One accelerator behind a backend (``backends.open_backend``).

    ``desc`` (``accelerator.json``) holds FINN's io shape dictionary (``idt``/``odt``, ``ishape_normal``,
    ``ishape_folded``, ``ishape_packed`` and the output's), the host steps before and after the accelerator, the
    pre-processing of raw images and the dataset's class names. Batch size is dimension 0 everywhere.
    """

    def __init__(self, desc: dict, backend):
        self.desc, self.backend = desc, backend
        self.idt, self.odt = stream_type(desc["idt"][0]), stream_type(desc["odt"][0])
        self.ishape_normal = tuple(desc["ishape_normal"][0])
        self.ishape_folded = tuple(desc["ishape_folded"][0])
        self.oshape_normal = tuple(desc["oshape_normal"][0])
        self.oshape_folded = tuple(desc["oshape_folded"][0])
        self.model_input_shape = tuple(desc["model_input_shape"])

    @classmethod
    def from_package(cls, package: str | Path, backend: str = "pynq", **backend_args) -> Accelerator:
        """The accelerator of a deployment package directory, on ``backend`` ("pynq" or "sim")."""
        from .backends import open_backend

        package = Path(package)
        path = package / DESCRIPTION
        if not path.exists():
            raise DriverError(f"{package} holds no {DESCRIPTION}: give the directory `qvit deploy` wrote")
        desc = json.loads(path.read_text())
        return cls(desc, open_backend(backend, package, desc, **backend_args))

    # ---------------------------------------------------------------- input and output of the model
    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """Raw 8-bit images [n, H, W, C] (uint8, as the dataset stores them) -> the model's input [n, C, H, W],
        exactly as training fed the model: x / 255 and the dataset's standardisation in float32 ("float"
        accelerators), or the pixels as they are ("uint8" accelerators, whose first layer does it)."""
        images = np.asarray(images)
        pre = self.desc["preprocess"]
        c, h, w = self.model_input_shape[1:]
        if images.dtype != np.uint8:
            raise DriverError(f"images must be uint8 pixels [n, {h}, {w}, {c}], got {images.dtype}: pass the dataset's "
                              "raw images (execute() takes already pre-processed inputs)")
        if images.ndim == 3 and c == 1:
            images = images[..., None]
        if images.shape[1:] != (h, w, c):
            raise DriverError(f"images must be [n, {h}, {w}, {c}] (height, width, channels), got {list(images.shape)}")
        x = images.transpose(0, 3, 1, 2)
        if pre["kind"] == "uint8":
            return x.astype(np.float32)
        x = x.astype(np.float32) / np.float32(255.0)
        mean = np.asarray(pre["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(pre["std"], dtype=np.float32).reshape(1, -1, 1, 1)
        return ((x - mean) / std).astype(np.float32)

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        want = self.model_input_shape[1:]
        if x.ndim == len(want):
            x = x[None]
        if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
            raise DriverError(f"input must be [batch, {', '.join(map(str, want))}] (the model's input), got "
                              f"{list(x.shape)}; raw uint8 images go through preprocess() or classify()")
        if len(x) == 0:
            raise DriverError("an empty batch: give at least one input")
        if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
            raise DriverError(f"input dtype {x.dtype} is not numeric")
        return x

    # ---------------------------------------------------------------- FINN's steps
    def fold_input(self, x: np.ndarray) -> np.ndarray:
        return packing.fold(x, self.ishape_folded)

    def pack_input(self, folded: np.ndarray) -> np.ndarray:
        try:
            return packing.pack(folded, self.idt)
        except ValueError as e:
            raise DriverError(f"the accelerator takes {self.idt.name} values: {e}") from None

    def unpack_output(self, packed: np.ndarray) -> np.ndarray:
        return packing.unpack(packed, self.odt, self.oshape_folded[-1])

    def unfold_output(self, folded: np.ndarray) -> np.ndarray:
        return packing.unfold(folded, self.oshape_normal)

    def execute(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs for inputs ``x`` [n, *model input shape] (any batch size): host steps before,
        fold, pack, the accelerator, unpack, unfold, host steps after."""
        x = self._check_input(x)
        for step in self.desc["host_before"]:
            x = host_steps.apply(step, x)
        packed = self.pack_input(self.fold_input(x.reshape(len(x), *self.ishape_normal[1:])))
        out = self.unfold_output(self.unpack_output(self.backend.run(packed)))
        out = out.reshape(len(out), -1)
        for step in self.desc["host_after"]:
            out = host_steps.apply(step, out)
        return out.reshape(len(out), -1)

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-1 labels [n] and scores [n, classes] of raw uint8 images [n, H, W, C]."""
        scores = self.execute(self.preprocess(images))
        if self.desc.get("outputs") == "labels":  # the graph ends in a label selection
            return scores[:, 0].astype(np.int64), scores
        return scores.argmax(axis=1), scores

    def throughput_test(self, batch_size: int = 100) -> dict:
        """Runs a batch of zero inputs through the backend and gives FINN's throughput figures (runtime, images/s,
        data rates, and the host's fold/pack/unpack times); the sim backend adds the simulated cycles."""
        if batch_size < 1:
            raise DriverError(f"batch size {batch_size} must be at least 1")
        x = np.zeros((batch_size, *self.ishape_normal[1:]), dtype=np.float32)
        if self.idt.min > 0 or self.idt.name == "BIPOLAR":
            x[:] = self.idt.max
        t0 = time.perf_counter()
        packed = self.pack_input(self.fold_input(x))
        t1 = time.perf_counter()
        out = self.backend.run(packed)
        t2 = time.perf_counter()
        self.unfold_output(self.unpack_output(out))
        t3 = time.perf_counter()
        runtime = t2 - t1
        res = {"backend": self.backend.name, "batch_size": batch_size, "runtime_s": runtime,
               "throughput_images_per_s": batch_size / runtime,
               "DRAM_in_bandwidth_MBps": packed.nbytes / runtime / 1e6,
               "DRAM_out_bandwidth_MBps": out.nbytes / runtime / 1e6,
               "fold_and_pack_input_s": t1 - t0, "unpack_and_unfold_output_s": t3 - t2}
        res.update(self.backend.last_stats())
        return res
