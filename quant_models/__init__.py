"""Quantized Vision Transformers in Brevitas: layers, model registry, op counting and QONNX export."""

from quant_models.registry import UnknownModelError, create_model, list_models, load_checkpoint, register_model

__all__ = ["UnknownModelError", "create_model", "list_models", "load_checkpoint", "register_model"]
