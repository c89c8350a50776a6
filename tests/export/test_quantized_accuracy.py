"""Quantized TFLite accuracy of a fine-tuned successor on the real SST-2 dev set.

Measured as `theseus-tf benchmark --task sst2` measures it (the
`trainers.benchmarking` exports and dev scores), on a fine-tuned SST-2
checkpoint folder (Hugging Face layout, with its tokenizer): set
THESEUS_SST2_MODEL_DIR, or train one into runs/sst2-minilm-l3 (see the
"Exported models" section of docs/RESULTS.md). Skipped otherwise.
"""

import os
import pathlib

import pytest

from trainers.benchmarking import inference, scores
from trainers.benchmarking.models import Variant
from trainers.inputs import resolve_task

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")

DEFAULT_MODEL_DIR = (pathlib.Path(__file__).resolve().parents[2] / "runs" /
                     "sst2-minilm-l3")
SEQ_LENGTH = 128
FORMATS = ("keras", "tflite-fp32", "tflite-fp16", "tflite-dynamic",
           "tflite-int8")


@pytest.mark.slow
def test_quantized_models_within_one_point_of_float(glue_dir, tmp_path):
  model_dir = pathlib.Path(os.environ.get("THESEUS_SST2_MODEL_DIR",
                                          DEFAULT_MODEL_DIR))
  if not (model_dir / "config.json").is_file():
    pytest.skip(f"no fine-tuned SST-2 model in {model_dir}: set "
                "THESEUS_SST2_MODEL_DIR")
  from theseus_tf.utils.transformers import from_pretrained  # pylint: disable=import-outside-toplevel
  task = resolve_task("sst2")
  variants = [Variant("successor", from_pretrained(str(model_dir)),
                      str(model_dir), model_dir, trained_head=True)]
  dev_sets = scores.load_dev_sets(variants, task, glue_dir, SEQ_LENGTH,
                                  None)
  calibration, _ = scores.calibration_texts(task, glue_dir, 200)
  exported = inference.export_variants(
      variants, FORMATS, tmp_path, SEQ_LENGTH, threads=1,
      calibration_texts=calibration)
  results = scores.score_exports(variants, exported, task, dev_sets)
  accuracy = {fmt: results[("successor", fmt)]["score"] for fmt in FORMATS}
  size = {fmt: exported[("successor", fmt)].size_bytes for fmt in FORMATS}
  float_accuracy = accuracy["tflite-fp32"]
  assert abs(float_accuracy - accuracy["keras"]) < 0.002
  assert float_accuracy > 0.75, "the model does not look fine-tuned on SST-2"
  for fmt in ("tflite-fp16", "tflite-dynamic", "tflite-int8"):
    assert float_accuracy - accuracy[fmt] <= 0.01, (fmt, accuracy)
    assert size[fmt] < size["tflite-fp32"], (fmt, size)
