"""`trainers.prediction`: predicting a file with a stand-in model."""

import json

import numpy as np
import pytest

from trainers import prediction
from trainers.errors import UsageError


class _Constant:
  """A two-label 'model': the same logits for every row."""
  problem_type = "single_label_classification"
  labels = ["neg", "pos"]

  def logits(self, texts_a, texts_b=None):
    del texts_b
    return np.tile([[0.0, 1.0]], (len(texts_a), 1))


def _json_lines(path, rows):
  path.write_text("".join(json.dumps(row) + "\n" for row in rows),
                  encoding="utf-8")
  return path


def test_csv_header_holds_every_json_lines_key(tmp_path):
  data = _json_lines(tmp_path / "in.jsonl", [
      {"text": "a", "id": 1}, {"text": "b"}, {"text": "c", "note": "x"}])
  columns, text_columns = prediction.check_input(data, all_keys=True)
  assert columns == ["text", "id", "note"]
  out = tmp_path / "out.csv"
  prediction.predict_file(_Constant(), data, out, text_columns=text_columns,
                          out_format="csv", progress=False, columns=columns)
  lines = out.read_text("utf-8").splitlines()
  assert lines[0] == "text,id,note,predicted_label,predicted_score"
  assert lines[1:] == ["a,1,,pos,0.7310585786300049",
                       "b,,,pos,0.7310585786300049",
                       "c,,x,pos,0.7310585786300049"]


def test_csv_without_the_keys_refuses_a_new_key_in_one_line(tmp_path):
  data = _json_lines(tmp_path / "in.jsonl", [
      {"text": "a"}, {"text": "b", "note": "x"}])
  out = tmp_path / "out.csv"
  with pytest.raises(UsageError) as error:
    prediction.predict_file(_Constant(), data, out, text_columns=("text",),
                            out_format="csv", progress=False)
  message = str(error.value)
  assert "\n" not in message
  assert "in.jsonl:2: key 'note' is not in the CSV header" in message
  assert "--output-file x.jsonl" in message
  assert "give every row the same keys" in message
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_all_keys_finds_a_malformed_line_before_predicting(tmp_path):
  data = tmp_path / "in.jsonl"
  data.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
  prediction.check_input(data)  # The first row only.
  with pytest.raises(UsageError, match="in.jsonl:2: malformed JSON"):
    prediction.check_input(data, all_keys=True)


def test_a_later_predicted_key_clashes(tmp_path):
  data = _json_lines(tmp_path / "in.jsonl", [
      {"text": "a"}, {"text": "b", "predicted_label": "x"}])
  with pytest.raises(UsageError, match="'predicted_label' would clash"):
    prediction.check_input(data, all_keys=True)


def test_a_later_predicted_key_clashes_in_json_lines_output(tmp_path):
  """JSON Lines output reads only the first row's keys first: the row with
  the key is found while predicting, and nothing is written."""
  data = _json_lines(tmp_path / "in.jsonl", [
      {"text": "a"}, {"text": "b"}, {"text": "c", "predicted_score": 1}])
  columns, text_columns = prediction.check_input(data)
  assert columns == ["text"]
  with pytest.raises(UsageError) as error:
    prediction.predict_file(_Constant(), data, tmp_path / "out.jsonl",
                            text_columns=text_columns, out_format="jsonl",
                            progress=False, batch_size=2)
  assert str(error.value) == (
      f"{data}:3: column 'predicted_score' would clash with the predictions "
      "(predicted_*); rename it, or predict from a file without it")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
