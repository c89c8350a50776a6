"""Quantized TFLite accuracy of a fine-tuned successor on the real SST-2 dev set.

Needs a fine-tuned SST-2 checkpoint folder (Hugging Face layout, with its
tokenizer): set THESEUS_SST2_MODEL_DIR, or train one into runs/sst2-minilm-l3
(see benchmarks/export_benchmark.py). Skipped otherwise.
"""

import os
import pathlib

import pytest

from benchmarks.export_benchmark import quantized_accuracies

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")

DEFAULT_MODEL_DIR = (pathlib.Path(__file__).resolve().parents[2] / "runs" /
                     "sst2-minilm-l3")


@pytest.mark.slow
def test_quantized_models_within_one_point_of_float(glue_dir):
  model_dir = pathlib.Path(os.environ.get("THESEUS_SST2_MODEL_DIR",
                                          DEFAULT_MODEL_DIR))
  if not (model_dir / "config.json").is_file():
    pytest.skip(f"no fine-tuned SST-2 model in {model_dir}: set "
                "THESEUS_SST2_MODEL_DIR")
  results = quantized_accuracies(model_dir, glue_dir)
  float_accuracy = results["none"][0]
  assert abs(float_accuracy - results["keras"][0]) < 0.002
  assert float_accuracy > 0.75, "the model does not look fine-tuned on SST-2"
  for quantize in ("float16", "dynamic", "int8"):
    accuracy, size = results[quantize]
    assert float_accuracy - accuracy <= 0.01, (quantize, results)
    assert size < results["none"][1]
