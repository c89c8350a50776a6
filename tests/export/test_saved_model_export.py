"""SavedModels for TF Serving: layout, signatures, atomicity, bad input."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops for loading)

from theseus_tf.export import export_saved_model, next_version
from theseus_tf.export import saved_model_export
from theseus_tf.export.signatures import saved_variable_bytes
from tests.export.export_helpers import MAX_SEQ_LENGTH, TEXTS, hf_features


def _export(model, tiny_dir, base, **kwargs):
  kwargs.setdefault("max_seq_length", MAX_SEQ_LENGTH)
  return export_saved_model(model, tiny_dir, base, "tiny", **kwargs)


def _tree(path):
  return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fixtures_dir):
  """One single-sentence export of the (trained) tiny model, loaded."""
  from theseus_tf.utils.transformers import from_pretrained
  tiny_dir = fixtures_dir / "tiny-bert-classifier"
  model = from_pretrained(str(tiny_dir))
  model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  model.id2label = {0: "negative", 1: "neutral", 2: "positive"}
  base = tmp_path_factory.mktemp("serving")
  path = _export(model, tiny_dir, base)
  return model, path, tf.saved_model.load(str(path))


def test_layout_metadata_and_variables(exported):
  model, path, _ = exported
  assert path.name == "1" and path.parent.name == "tiny"
  assert sorted(p.name for p in path.parent.iterdir()) == ["1"]  # No temp dir.
  for name in ("saved_model.pb", "variables", "assets.extra"):
    assert (path / name).exists()
  metadata = json.loads(
      (path / "assets.extra" / "theseus_tf_export.json").read_text())
  assert metadata["labels"] == ["negative", "neutral", "positive"]
  assert metadata["signatures"] == {
      "serving_default": ["text"],
      "predict_ids": ["input_ids", "attention_mask", "token_type_ids"]}
  count, size = saved_variable_bytes(path)
  assert count == len(model.weights)  # Each weight stored once.
  assert size == sum(int(np.prod(w.shape)) * 4 for w in model.weights)


def test_text_signature_matches_keras_on_hf_tokens(exported, hf_tiny_tokenizer):
  model, _, loaded = exported
  outputs = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
  assert set(outputs) == {"logits", "probabilities", "label", "label_name"}
  want = model(hf_features(hf_tiny_tokenizer, TEXTS), training=False)
  np.testing.assert_allclose(outputs["logits"], want, atol=1e-5)
  np.testing.assert_allclose(outputs["probabilities"],
                             tf.nn.softmax(want), atol=1e-5)
  labels = np.argmax(want, -1)
  np.testing.assert_array_equal(outputs["label"], labels)
  names = np.array([b"negative", b"neutral", b"positive"])
  np.testing.assert_array_equal(outputs["label_name"], names[labels])


def test_ids_signature_and_bad_requests(exported, hf_tiny_tokenizer):
  model, _, loaded = exported
  predict = loaded.signatures["predict_ids"]
  features = hf_features(hf_tiny_tokenizer, TEXTS)
  np.testing.assert_allclose(predict(**features)["logits"],
                             model(features, training=False), atol=1e-5)
  # Wrong dtype and rank are rejected by the signature itself.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="expected to be a int32 tensor but is a int64"):
    predict(**{k: tf.constant(v, tf.int64) for k, v in features.items()})
  with pytest.raises(TypeError, match="Can not cast TensorSpec"):
    predict(**{k: v[0] for k, v in features.items()})
  # Inconsistent shapes and out-of-range ids are named by in-graph checks.
  short = dict(features, attention_mask=features["attention_mask"][:, :-1])
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="attention_mask must have the shape of input_ids"):
    predict(**short)
  big = dict(features, input_ids=features["input_ids"] + 40000)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"input_ids must be < 30522"):
    predict(**big)
  long = {k: np.tile(v, (1, 10)) for k, v in features.items()}
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="sequences must be at most 128 tokens"):
    predict(**long)


def test_empty_and_long_texts(exported, hf_tiny_tokenizer):
  model, _, loaded = exported
  texts = ["", "   ", "a very long review " * 500]
  outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
  # Truncated to MAX_SEQ_LENGTH exactly as Hugging Face truncates.
  want = model(hf_features(hf_tiny_tokenizer, texts), training=False)
  np.testing.assert_allclose(outputs["logits"], want, atol=1e-5)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="text must be a 1-D batch of strings"):
    loaded.signatures["serving_default"](text=tf.constant([["a", "b"]]))


def test_warmup_requests_run_on_the_signatures(exported):
  _, path, loaded = exported
  from tensorflow_serving.apis import prediction_log_pb2
  records = list(tf.data.TFRecordDataset(
      str(path / "assets.extra" / "tf_serving_warmup_requests")))
  assert len(records) == 2
  seen = set()
  for record in records:
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    request = log.predict_log.request
    assert request.model_spec.name == "tiny"
    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    outputs = loaded.signatures[request.model_spec.signature_name](**inputs)
    assert np.all(np.isfinite(outputs["logits"]))
    seen.add(request.model_spec.signature_name)
  assert seen == {"serving_default", "predict_ids"}


def test_saved_model_cli_shows_the_signatures(exported):
  _, path, _ = exported
  result = subprocess.run(
      [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show",
       "--dir", str(path), "--all"],
      capture_output=True, text=True, timeout=300,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert result.returncode == 0, result.stderr[-2000:]
  out = result.stdout
  assert "signature_def['serving_default']" in out
  assert "signature_def['predict_ids']" in out
  assert "inputs['text'] tensor_info:" in out
  assert "dtype: DT_STRING" in out and "dtype: DT_INT32" in out
  for output in ("logits", "probabilities", "label", "label_name"):
    assert f"outputs['{output}']" in out


def test_versions_are_never_overwritten(tmp_path, tiny_dir, trained_tiny_model):
  first = _export(trained_tiny_model, tiny_dir, tmp_path)
  second = _export(trained_tiny_model, tiny_dir, tmp_path)
  assert (first.name, second.name) == ("1", "2")
  assert next_version(tmp_path / "tiny") == 3
  before = _tree(tmp_path)
  stamp = (first / "saved_model.pb").stat().st_mtime_ns
  with pytest.raises(FileExistsError, match="already exists.*next one \\(3\\)"):
    _export(trained_tiny_model, tiny_dir, tmp_path, version=1)
  assert _tree(tmp_path) == before
  assert (first / "saved_model.pb").stat().st_mtime_ns == stamp
  assert _export(trained_tiny_model, tiny_dir, tmp_path, version=7).name == "7"


def test_export_is_readable_by_other_users(tmp_path, tiny_dir,
                                           trained_tiny_model):
  # TF Serving often runs as another user: folders 0755, files 0644 under
  # umask 022, as after `cp -r` (the version folder was mkdtemp's 0700).
  previous = os.umask(0o022)
  try:
    path = _export(trained_tiny_model, tiny_dir, tmp_path)
  finally:
    os.umask(previous)
  entries = [path, path.parent, *path.rglob("*")]
  assert len(entries) > 5
  for entry in entries:
    want = 0o755 if entry.is_dir() else 0o644
    assert stat.S_IMODE(entry.stat().st_mode) == want, entry


def test_pair_signature(tmp_path, tiny_dir, trained_tiny_model,
                        hf_tiny_tokenizer):
  path = _export(trained_tiny_model, tiny_dir, tmp_path, text_pair=True)
  loaded = tf.saved_model.load(str(path))
  text_b = TEXTS[::-1]
  outputs = loaded.signatures["serving_default"](text_a=tf.constant(TEXTS),
                                                 text_b=tf.constant(text_b))
  want = trained_tiny_model(hf_features(hf_tiny_tokenizer, TEXTS, text_b),
                            training=False)
  np.testing.assert_allclose(outputs["logits"], want, atol=1e-5)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="text_b and text_a must have the same batch size"):
    loaded.signatures["serving_default"](text_a=tf.constant(TEXTS),
                                         text_b=tf.constant(TEXTS[:2]))


def test_theseus_model_needs_strip_and_keeps_no_predecessor(
    tmp_path, tiny_dir, trained_tiny_model, hf_tiny_tokenizer):
  from theseus_tf import strip_successor
  from theseus_tf.models.theseus_classifier import build_theseus_classifier
  theseus = build_theseus_classifier(trained_tiny_model, num_modules=2)
  with pytest.raises(ValueError, match="ModuleReplacing.*--strip"):
    _export(theseus, tiny_dir, tmp_path)
  assert not tmp_path.joinpath("tiny").exists()

  path = _export(theseus, tiny_dir, tmp_path, strip=True)
  student = strip_successor(theseus)
  count, size = saved_variable_bytes(path)
  student_bytes = sum(int(np.prod(w.shape)) * 4 for w in student.weights)
  teacher_bytes = sum(int(np.prod(w.shape)) * 4
                      for w in trained_tiny_model.weights)
  assert size == student_bytes < teacher_bytes
  assert count == len(student.weights)
  loaded = tf.saved_model.load(str(path))
  np.testing.assert_allclose(
      loaded.signatures["serving_default"](text=tf.constant(TEXTS))["logits"],
      student(hf_features(hf_tiny_tokenizer, TEXTS), training=False),
      atol=1e-5)


def test_untrained_head_is_refused(tmp_path, tiny_dir, tiny_model):
  with pytest.raises(ValueError, match="looks untrained.*--allow-untrained"):
    _export(tiny_model, tiny_dir, tmp_path)
  assert list(tmp_path.iterdir()) == []
  assert _export(tiny_model, tiny_dir, tmp_path, allow_untrained=True).is_dir()


def test_regression_outputs_score(tmp_path, tiny_dir, trained_tiny_model):
  from theseus_tf.models import build_bert_classifier
  backbone = trained_tiny_model.backbone
  regressor = build_bert_classifier(backbone.embeddings,
                                    backbone.transformer_layers,
                                    backbone.pooler, head=1,
                                    problem_type="regression")
  regressor.output_dense.bias.assign([0.5])
  loaded = tf.saved_model.load(str(_export(regressor, tiny_dir, tmp_path)))
  outputs = loaded.signatures["serving_default"](text=tf.constant(TEXTS[:2]))
  assert set(outputs) == {"logits", "score"}
  assert outputs["score"].shape == (2,)


def test_bad_arguments_write_nothing(tmp_path, tiny_dir, trained_tiny_model):
  empty = tmp_path / "no-vocab"
  empty.mkdir()
  base = tmp_path / "base"
  with pytest.raises(FileNotFoundError, match="No vocabulary"):
    _export(trained_tiny_model, empty, base)
  with pytest.raises(ValueError, match="position embeddings"):
    _export(trained_tiny_model, tiny_dir, base, max_seq_length=4096)
  with pytest.raises(ValueError, match="positive integer"):
    _export(trained_tiny_model, tiny_dir, base, version=0)
  with pytest.raises(ValueError, match="Invalid model name"):
    export_saved_model(trained_tiny_model, tiny_dir, base, "../escape")
  assert not base.exists()


def test_failure_while_writing_cleans_up(tmp_path, tiny_dir, trained_tiny_model,
                                         monkeypatch):
  def fail(*args, **kwargs):
    raise RuntimeError("disk full")
  monkeypatch.setattr(saved_model_export, "write_warmup_requests", fail)
  base = tmp_path / "base"
  with pytest.raises(RuntimeError, match="disk full"):
    _export(trained_tiny_model, tiny_dir, base)
  assert not base.exists()  # Temp version and the folders it created: gone.
  (base / "tiny" / "1").mkdir(parents=True)
  with pytest.raises(RuntimeError, match="disk full"):
    _export(trained_tiny_model, tiny_dir, base)
  assert _tree(base) == ["tiny", "tiny/1"]


# Loads a SavedModel into a TF1 `Session` over its MetaGraph, as TF Serving's
# `SavedModelBundle` does (not as a TF2 object), runs `predict_ids` on the
# features in argv[2] (.npz) and saves the logits to argv[3].
_SERVING_SESSION = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_text
tf1 = tf.compat.v1
features = dict(np.load(sys.argv[2]))
with tf.Graph().as_default(), tf1.Session() as session:
  meta_graph = tf1.saved_model.loader.load(session, ["serve"], sys.argv[1])
  signature = meta_graph.signature_def["predict_ids"]
  feeds = {signature.inputs[k].name: v for k, v in features.items()}
  np.save(sys.argv[3], session.run(signature.outputs["logits"].name, feeds))
"""


def _run_in_serving_session(path, features, workdir):
  """Logits of `predict_ids` and the names of the XLA modules compiled."""
  np.savez(workdir / "features.npz", **features)
  dump = workdir / "xla_dump"
  env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={dump}",
             TF_CPP_MIN_LOG_LEVEL="2")
  subprocess.run(
      [sys.executable, "-c", _SERVING_SESSION, str(path),
       str(workdir / "features.npz"), str(workdir / "logits.npy")],
      check=True, env=env, capture_output=True)
  compiled = sorted(p.name for p in dump.glob("*")) if dump.exists() else []
  return np.load(workdir / "logits.npy"), compiled


def test_jit_compiled_export_runs_xla_in_the_serving_runtime(
    trained_tiny_model, tiny_dir, tmp_path, hf_tiny_tokenizer):
  model = trained_tiny_model
  features = {k: np.asarray(v)
              for k, v in hf_features(hf_tiny_tokenizer, TEXTS).items()}
  want = model(features, training=False)
  plain = _export(model, tiny_dir, tmp_path / "plain")
  compiled = _export(model, tiny_dir, tmp_path / "xla", jit_compile=True)
  metadata = json.loads(
      (compiled / "assets.extra" / "theseus_tf_export.json").read_text())
  assert metadata["jit_compile"] is True

  # XLA dumps every module it compiles: the encoder's function, and only
  # for the compiled export.
  (tmp_path / "run-xla").mkdir()
  logits, modules = _run_in_serving_session(compiled, features,
                                            tmp_path / "run-xla")
  np.testing.assert_allclose(logits, want, atol=1e-5)
  assert any("logits_of" in name for name in modules), modules
  (tmp_path / "run-plain").mkdir()
  logits, modules = _run_in_serving_session(plain, features,
                                            tmp_path / "run-plain")
  np.testing.assert_allclose(logits, want, atol=1e-5)
  assert not modules

  # The TF2 loader (what the benchmark and Python clients use) runs it too,
  # raw text included.
  loaded = tf.saved_model.load(str(compiled))
  np.testing.assert_allclose(
      loaded.signatures["predict_ids"](**features)["logits"], want, atol=1e-5)
  np.testing.assert_allclose(
      loaded.signatures["serving_default"](text=tf.constant(TEXTS))["logits"],
      want, atol=1e-5)
