"""Quantized Vision Transformers in Brevitas: layers, model registry, op counting and QONNX export."""

# Importing the model families runs their @register_model decorators (as timm's package does), so any
# import from quant_models, e.g. ``from quant_models.registry import create_model``, sees every model.
from quant_models import convnet, mmfree, vit  # noqa: F401
from quant_models.checkpoint import load_checkpoint, save_checkpoint
from quant_models.registry import UnknownModelError, create_model, list_models, register_model

__all__ = ["UnknownModelError", "create_model", "list_models", "load_checkpoint", "register_model", "save_checkpoint"]
