"""`trainers.data_source`: the labels a trained model records."""

import json
import shutil

from trainers import data_source


def _named_copy(source, folder, id2label, problem_type=None):
  shutil.copytree(source, folder)
  config = json.loads((folder / "config.json").read_text("utf-8"))
  config["id2label"] = id2label
  if problem_type:
    config["problem_type"] = problem_type
  (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
  return folder


def test_keras_file_labels_are_its_own(tiny_model_dir, tmp_path):
  from theseus_tf.utils.transformers import from_pretrained
  named = _named_copy(tiny_model_dir, tmp_path / "named",
                      {"0": "a", "1": "b", "2": "c"})
  assert data_source.model_labels(named) == (["a", "b", "c"], None)
  # The .keras file sits in another model's folder: its config.json (other
  # labels, another problem type) must not be read for the .keras file.
  other = _named_copy(tiny_model_dir, tmp_path / "other",
                      {"0": "x", "1": "y", "2": "z"},
                      "multi_label_classification")
  keras_file = other / "model.keras"
  from_pretrained(named).save(keras_file)
  assert data_source.model_labels(keras_file) == (
      ["a", "b", "c"], "single_label_classification")
  assert data_source.model_labels(other) == (
      ["x", "y", "z"], "multi_label_classification")


def test_unreadable_keras_file_has_no_labels(tmp_path):
  bad = tmp_path / "bad.keras"
  bad.write_text("not a zip", encoding="utf-8")
  (tmp_path / "config.json").write_text(
      json.dumps({"id2label": {"0": "x", "1": "y"}}), encoding="utf-8")
  assert data_source.model_labels(bad) == (None, None)
  assert data_source.model_labels(tmp_path / "missing.keras") == (None, None)
