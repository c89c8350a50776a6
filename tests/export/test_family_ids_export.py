"""Token-id exports (TFLite, SavedModel `predict_ids`) of every encoder family
(the classifiers themselves; raw text: test_family_export.py)."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf import strip_successor
from theseus_tf.export import export_tflite
from theseus_tf.models import build_theseus_classifier

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")

FAMILIES = ("roberta", "xlm-roberta", "electra", "distilbert")
SEQ_LENGTH = 40  # The fixtures' padded length.


def _load(fixtures_dir, family):
  from theseus_tf.utils.transformers import from_pretrained
  folder = fixtures_dir / "families" / f"tiny-{family}-classifier"
  if not folder.is_dir():
    pytest.skip(f"{folder} not found")
  reference = np.load(fixtures_dir / "families" /
                      f"tiny_{family}_classifier_reference.npz")
  return from_pretrained(folder), reference


@pytest.mark.parametrize("family", FAMILIES)
def test_tflite_ids_model_matches_keras(fixtures_dir, family, tmp_path):
  from ai_edge_litert import interpreter
  model, reference = _load(fixtures_dir, family)
  successor = strip_successor(build_theseus_classifier(model, num_modules=2))
  path = export_tflite(successor, tmp_path / "ids.tflite",
                       max_seq_length=SEQ_LENGTH, allow_untrained=True)
  runner = interpreter.Interpreter(model_path=str(path)).get_signature_runner(
      "serving_default")
  names = successor.feature_names
  # Only the model's own inputs: no token_type_ids for RoBERTa, DistilBERT.
  assert sorted(runner.get_input_details()) == sorted(names)
  inputs = {name: reference[name].astype(np.int32) for name in names}
  logits = np.concatenate([
      runner(**{name: value[i:i + 1] for name, value in inputs.items()})[
          "logits"] for i in range(len(inputs["input_ids"]))])
  np.testing.assert_allclose(logits, successor(inputs), atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", ("roberta", "distilbert"))
def test_saved_model_ids_signature_without_token_types(fixtures_dir, family,
                                                       tmp_path):
  from theseus_tf.export import signatures
  model, reference = _load(fixtures_dir, family)
  archive = signatures.new_archive(model)
  signatures.add_endpoints(archive, model, None, text_pair=False, text=False)
  signatures.write_archive(archive, tmp_path / "saved")
  served = tf.saved_model.load(str(tmp_path / "saved"))
  function = served.signatures[signatures.SERVING_DEFAULT]
  assert sorted(function.structured_input_signature[1]) == [
      "attention_mask", "input_ids"]
  outputs = function(input_ids=tf.constant(reference["input_ids"], tf.int32),
                     attention_mask=tf.constant(reference["attention_mask"],
                                                tf.int32))
  np.testing.assert_allclose(outputs["logits"], reference["logits"], atol=1e-4)


def test_saved_model_without_tokenizer_serves_token_ids(fixtures_dir,
                                                        tmp_path):
  # RoBERTa's BPE has no in-graph tokenizer yet: a token-id SavedModel.
  from theseus_tf.export import export_saved_model
  model, reference = _load(fixtures_dir, "roberta")
  path = export_saved_model(model, None, tmp_path / "serving", "roberta",
                            max_seq_length=SEQ_LENGTH, allow_untrained=True)
  served = tf.saved_model.load(str(path))
  assert list(served.signatures) == ["serving_default"]
  outputs = served.signatures["serving_default"](
      input_ids=tf.constant(reference["input_ids"], tf.int32),
      attention_mask=tf.constant(reference["attention_mask"], tf.int32))
  np.testing.assert_allclose(outputs["logits"], reference["logits"], atol=1e-4)
  assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
