"""The formats a benchmark runs each model in (pure Python: the flags use it)."""

import importlib.util

# Format name -> TFLite quantization (None: not TFLite).
FORMATS = {
    "keras": None,
    "saved_model": None,
    # The SavedModel's raw-text `serving_default` signature: tokenization in
    # the graph included, as a TF Serving client calls it.
    "saved_model-text": None,
    # `saved_model` exported with `--jit-compile`: the encoder compiled by XLA.
    "saved_model-xla": None,
    "tflite-fp32": "none",
    "tflite-fp16": "float16",
    "tflite-dynamic": "dynamic",
    "tflite-int8": "int8",
    # The PyTorch reference: the model saved by `save_pretrained`, loaded by
    # Hugging Face transformers on torch, run eagerly (dynamic: int8 Linear
    # layers, torch's dynamic quantization).
    "pytorch": None,
    "pytorch-dynamic": None,
}
TORCH_FORMATS = ("pytorch", "pytorch-dynamic")
DEFAULT_FORMATS = ("keras", "saved_model", "tflite-fp32", "tflite-dynamic",
                   "tflite-int8")


def torch_available():
  return importlib.util.find_spec("torch") is not None


def default_formats():
  """`DEFAULT_FORMATS`, and the PyTorch reference where torch is installed."""
  return DEFAULT_FORMATS + (TORCH_FORMATS if torch_available() else ())
