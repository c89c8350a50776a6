"""TFLite export: parity with Keras, quantization, custom ops, bad input."""

import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.export import export_tflite
from theseus_tf.export import tflite_export
from tests.export.export_helpers import MAX_SEQ_LENGTH, TEXTS, hf_features

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


def _runner(path):
  import tensorflow_text as tf_text
  from ai_edge_litert import interpreter
  tflite = interpreter.InterpreterWithCustomOps(
      model_path=str(path),
      custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
  return tflite.get_signature_runner("serving_default")


def _export(model, path, preprocessor, **kwargs):
  kwargs.setdefault("max_seq_length", MAX_SEQ_LENGTH)
  return export_tflite(model, path, tokenizer=preprocessor, **kwargs)


@pytest.fixture(scope="module")
def float_ids_model(tmp_path_factory, fixtures_dir):
  from theseus_tf.utils.transformers import from_pretrained
  model = from_pretrained(str(fixtures_dir / "tiny-bert-classifier"))
  model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  path = tmp_path_factory.mktemp("tflite") / "tiny.ids.none.tflite"
  export_tflite(model, path, max_seq_length=MAX_SEQ_LENGTH)
  return model, path


def test_token_ids_model_matches_keras(float_ids_model, hf_tiny_tokenizer):
  model, path = float_ids_model
  run = _runner(path)
  features = hf_features(hf_tiny_tokenizer, TEXTS, pad_to=MAX_SEQ_LENGTH)
  outputs = run(**features)
  assert set(outputs) == {"logits", "probabilities", "label"}
  want = model(features, training=False).numpy()
  np.testing.assert_allclose(outputs["logits"], want, atol=1e-4)
  np.testing.assert_array_equal(outputs["label"], want.argmax(-1))
  one = run(**{k: v[:1] for k, v in features.items()})  # Batch 1 as well.
  np.testing.assert_allclose(one["logits"], want[:1], atol=1e-4)
  assert b"Flex" not in path.read_bytes()


def test_text_pair_model_matches_keras(tmp_path, trained_tiny_model,
                                       tiny_fixed_preprocessor,
                                       hf_tiny_tokenizer):
  path = _export(trained_tiny_model, tmp_path / "pair.tflite",
                 tiny_fixed_preprocessor, inputs="text", text_pair=True)
  data = path.read_bytes()
  assert b"Flex" not in data  # No SELECT_TF_OPS: tensorflow-text ops only.
  assert b"FastWordpieceTokenize" in data and b"FastBertNormalize" in data
  text_b = TEXTS[::-1]
  outputs = _runner(path)(text_a=np.array(TEXTS), text_b=np.array(text_b))
  want = trained_tiny_model(hf_features(hf_tiny_tokenizer, TEXTS, text_b),
                            training=False).numpy()
  np.testing.assert_allclose(outputs["logits"], want, atol=1e-4)


@pytest.mark.parametrize("quantize", ["float16", "dynamic", "int8"])
def test_quantized_token_ids_models(tmp_path, quantize, float_ids_model,
                                    tiny_fixed_preprocessor, hf_tiny_tokenizer):
  model, float_path = float_ids_model
  path = _export(model, tmp_path / f"{quantize}.tflite",
                 tiny_fixed_preprocessor, quantize=quantize,
                 representative_texts=TEXTS * 3, allow_untrained=True)
  size, float_size = path.stat().st_size, float_path.stat().st_size
  assert size < (0.55 if quantize == "float16" else 0.3) * float_size
  features = hf_features(hf_tiny_tokenizer, TEXTS, pad_to=MAX_SEQ_LENGTH)
  want = model(features, training=False).numpy()
  outputs = _runner(path)(**features)
  tolerance = {"float16": 1e-3, "dynamic": 0.02, "int8": 0.05}[quantize]
  np.testing.assert_allclose(outputs["logits"], want, atol=tolerance)


def test_int8_text_model_calibrates_with_custom_ops(tmp_path, trained_tiny_model,
                                                    tiny_fixed_preprocessor,
                                                    hf_tiny_tokenizer):
  path = _export(trained_tiny_model, tmp_path / "text.int8.tflite",
                 tiny_fixed_preprocessor, inputs="text", quantize="int8",
                 representative_texts=TEXTS * 3)
  texts = ["", "a very long review " * 300, "Héllo wörld"]
  outputs = _runner(path)(text=np.array(texts))
  want = trained_tiny_model(
      hf_features(hf_tiny_tokenizer, texts, pad_to=MAX_SEQ_LENGTH),
      training=False).numpy()
  np.testing.assert_allclose(outputs["logits"], want, atol=0.05)


def test_bad_arguments(tmp_path, trained_tiny_model, tiny_fixed_preprocessor):
  path = tmp_path / "model.tflite"
  with pytest.raises(ValueError, match="Unknown quantization 'int4'.*dynamic"):
    _export(trained_tiny_model, path, tiny_fixed_preprocessor, quantize="int4")
  with pytest.raises(ValueError, match="Unknown inputs"):
    _export(trained_tiny_model, path, tiny_fixed_preprocessor, inputs="audio")
  with pytest.raises(ValueError, match="tokenizer .* is required"):
    export_tflite(trained_tiny_model, path, inputs="text")
  with pytest.raises(ValueError, match="calibration texts"):
    _export(trained_tiny_model, path, tiny_fixed_preprocessor, quantize="int8")
  with pytest.raises(ValueError, match="pad_to_max_length"):
    _export(trained_tiny_model, path, tiny_fixed_preprocessor,
            max_seq_length=16, inputs="text")
  path.write_bytes(b"old")
  with pytest.raises(FileExistsError, match="overwrite=True") as error:
    _export(trained_tiny_model, path, tiny_fixed_preprocessor)
  # A library call: no command-line flag (`--output` never existed).
  assert "--" not in str(error.value)
  assert path.read_bytes() == b"old"


def test_the_file_is_readable_by_other_users(tmp_path, trained_tiny_model,
                                             monkeypatch):
  # A model server running as another user must read it (mkstemp: 0600).
  monkeypatch.setattr(tflite_export, "convert", lambda *args, **kwargs: b"TFL3")
  previous = os.umask(0o022)
  try:
    path = export_tflite(trained_tiny_model, tmp_path / "new" / "m.tflite")
  finally:
    os.umask(previous)
  assert path.read_bytes() == b"TFL3"
  assert stat.S_IMODE(path.stat().st_mode) == 0o644
  assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
  assert [p.name for p in path.parent.iterdir()] == ["m.tflite"]


def test_unstripped_and_untrained_models_are_refused(tmp_path, tiny_model):
  from theseus_tf.models.theseus_classifier import build_theseus_classifier
  tiny_model.output_dense.bias.assign([0.1, 0.2, 0.3])
  theseus = build_theseus_classifier(tiny_model, num_modules=2)
  with pytest.raises(ValueError, match="ModuleReplacing.*strip=True"):
    export_tflite(theseus, tmp_path / "a.tflite")
  tiny_model.output_dense.bias.assign([0.0, 0.0, 0.0])
  with pytest.raises(ValueError, match="looks untrained"):
    export_tflite(tiny_model, tmp_path / "a.tflite")
  assert list(tmp_path.iterdir()) == []


def test_failed_conversion_leaves_no_file(tmp_path, trained_tiny_model,
                                          monkeypatch):
  def fail(*args, **kwargs):
    raise RuntimeError("converter crashed")
  monkeypatch.setattr(tflite_export, "convert", fail)
  with pytest.raises(RuntimeError, match="converter crashed"):
    export_tflite(trained_tiny_model, tmp_path / "a.tflite")
  assert list(tmp_path.iterdir()) == []


def _graph(path):
  """The operators and tensor shapes of a builtin-ops TFLite file."""
  from ai_edge_litert import interpreter
  tflite = interpreter.Interpreter(model_path=str(path))
  ops = [op["op_name"] for op in tflite._get_ops_details()]  # pylint: disable=protected-access
  shapes = sorted(tuple(t["shape"]) for t in tflite.get_tensor_details())
  return ops, shapes


def test_stripped_successor_converts_to_a_plain_model(tmp_path,
                                                      trained_tiny_model,
                                                      hf_tiny_tokenizer):
  """Nothing of the predecessor or the switch survives in the file."""
  from theseus_tf import strip_successor
  from theseus_tf.models import BertClassifier
  from theseus_tf.models.theseus_classifier import build_theseus_classifier
  successor = strip_successor(
      build_theseus_classifier(trained_tiny_model, num_modules=2))
  plain = BertClassifier.from_config(successor.get_config())
  features = hf_features(hf_tiny_tokenizer, TEXTS, pad_to=MAX_SEQ_LENGTH)
  plain(features)
  plain.set_weights(successor.get_weights())
  paths = {name: export_tflite(model, tmp_path / f"{name}.tflite",
                               max_seq_length=MAX_SEQ_LENGTH)
           for name, model in (("successor", successor), ("plain", plain))}
  successor_graph, plain_graph = _graph(paths["successor"]), _graph(paths["plain"])
  assert "FULLY_CONNECTED" in successor_graph[0]
  assert successor_graph == plain_graph
  assert successor_graph[0].count("BATCH_MATMUL") < _graph(export_tflite(
      trained_tiny_model, tmp_path / "predecessor.tflite",
      max_seq_length=MAX_SEQ_LENGTH))[0].count("BATCH_MATMUL")
  sizes = [p.stat().st_size for p in paths.values()]
  assert abs(sizes[0] - sizes[1]) < 0.001 * sizes[1]
