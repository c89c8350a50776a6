"""The formats a benchmark runs each model in (pure Python: the flags use it)."""

# Format name -> TFLite quantization (None: not TFLite).
FORMATS = {
    "keras": None,
    "saved_model": None,
    "tflite-fp32": "none",
    "tflite-fp16": "float16",
    "tflite-dynamic": "dynamic",
    "tflite-int8": "int8",
}
DEFAULT_FORMATS = ("keras", "saved_model", "tflite-fp32", "tflite-dynamic",
                   "tflite-int8")
