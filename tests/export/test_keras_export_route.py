"""The standard Keras route to TFLite works for a stripped Theseus BERT.

`model.export(path)` then `tf.lite.TFLiteConverter.from_saved_model(path)`,
with builtin ops only (no `SELECT_TF_OPS`), as Keras users convert models.
"""

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import theseus_tf
from theseus_tf.models import build_theseus_classifier
from tests.toy_layers import random_bert_inputs


def test_model_export_of_a_stripped_bert_converts_with_builtin_ops(
    tiny_model, tmp_path):
  theseus_model = build_theseus_classifier(tiny_model, num_modules=2)
  student = theseus_tf.strip_successor(theseus_model)
  student.export(str(tmp_path / "student"))

  converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "student"))
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  flatbuffer = converter.convert()

  runner = Interpreter(model_content=flatbuffer).get_signature_runner()
  inputs = random_bert_inputs(batch=3, length=9, padding=4)
  (logits,) = runner(**inputs).values()
  expected = theseus_model(inputs, training=False).numpy()
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
