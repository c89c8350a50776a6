"""The user's own files: GLUE parity, label order, problem types, bad input."""

import json
import random

import numpy as np
import pytest

from theseus_tf.data import (LabelVocabulary, TextFileError, encode_examples,
                             load_examples, make_file_task)
from theseus_tf.metrics import compute_glue_metrics
from tests.data.glue_files import (LABEL_COLUMN, STRING_LABELS, TEXT_COLUMNS,
                                   derived_rows, glue_rows, write_rows)


def _file_task(tmp_path, glue_dir, task, suffix, max_examples=None):
  paths = {}
  for split in ("train", "dev"):
    rows, _ = glue_rows(glue_dir, task, split, max_examples)
    paths[split] = write_rows(tmp_path / f"{task}-{split}{suffix}", rows)
  labels = STRING_LABELS[task] if task == "cola" else None
  return make_file_task(paths["train"], paths["dev"],
                        text_columns=TEXT_COLUMNS[task],
                        label_column=LABEL_COLUMN, labels=labels)


@pytest.mark.parametrize("task", ["sst2", "mrpc", "cola"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_glue_written_as_files_reads_back_exactly(glue_dir, tmp_path, task,
                                                  suffix):
  """Whole real splits: same examples, same label ids, same subsets."""
  file_task = _file_task(tmp_path, glue_dir, task, suffix)
  for split in ("train", "dev"):
    glue = load_examples(task, split, glue_dir)
    assert load_examples(file_task, split) == glue
  assert load_examples(file_task, "dev", max_examples=50, seed=3) == (
      load_examples(task, "dev", glue_dir, max_examples=50, seed=3))
  assert file_task.num_labels == 2
  assert file_task.labels == STRING_LABELS[task]


@pytest.mark.parametrize("task", ["sst2", "mrpc", "cola"])
def test_glue_parity_of_tokens_and_metrics(glue_dir, tmp_path, tiny_tokenizer,
                                           task):
  file_task = _file_task(tmp_path, glue_dir, task, ".tsv")
  glue = encode_examples(task, load_examples(task, "dev", glue_dir),
                         tiny_tokenizer, 64)
  mine = encode_examples(file_task, load_examples(file_task, "dev"),
                         tiny_tokenizer, 64)
  for name, values in glue.features.items():
    np.testing.assert_array_equal(values.to_tensor().numpy(),
                                  mine.features[name].to_tensor().numpy())
  np.testing.assert_array_equal(glue.labels, mine.labels)
  logits = np.random.default_rng(0).normal(size=(len(glue), 2))
  glue_metrics = compute_glue_metrics(task, logits, glue.labels)
  file_metrics = compute_glue_metrics(file_task, logits, mine.labels)
  for name, value in glue_metrics.items():
    if name != "score":
      assert file_metrics[name] == value, name


@pytest.fixture(scope="module")
def tiny_tokenizer(fixtures_dir):
  from theseus_tf.utils.transformers import load_tokenizer
  return load_tokenizer(fixtures_dir / "tiny-bert-classifier")


def test_label_order_is_documented_and_stable(tmp_path):
  assert LabelVocabulary.from_labels(["10", "2", "0", "2"]).names == (
      "0", "2", "10")
  assert LabelVocabulary.from_labels(["pos", "neg", "mixed"]).names == (
      "mixed", "neg", "pos")
  rows = [{"text": f"row {i}", "label": label}
          for i, label in enumerate(["b", "c", "a"] * 4)]
  orders = set()
  for seed in range(3):
    random.Random(seed).shuffle(rows)
    path = write_rows(tmp_path / f"train{seed}.csv", rows)
    orders.add(make_file_task(path, path).labels)
  assert orders == {("a", "b", "c")}
  explicit = make_file_task(path, path, labels=["c", "a", "b"])
  assert explicit.labels == ("c", "a", "b")
  assert load_examples(explicit, "train")[0].label == ["c", "a", "b"].index(
      rows[0]["label"])


def test_json_numbers_and_csv_strings_give_the_same_labels(tmp_path):
  rows = [{"text": f"row {i}", "label": i % 3} for i in range(9)]
  as_json = write_rows(tmp_path / "t.jsonl", rows)
  as_csv = write_rows(tmp_path / "t.csv", rows)
  assert make_file_task(as_json).labels == make_file_task(as_csv).labels == (
      "0", "1", "2")
  assert ([e.label for e in load_examples(make_file_task(as_json), "train")]
          == [i % 3 for i in range(9)])


def test_regression_targets(glue_dir, tmp_path):
  rows = derived_rows(glue_dir, "dev", "regression", max_examples=20)
  path = write_rows(tmp_path / "dev.jsonl", rows)
  task = make_file_task(validation_file=path, problem_type="regression")
  assert task.is_regression and task.num_labels == 1
  assert task.score_metrics == ("pearson",)
  examples = load_examples(task, "validation")
  assert [e.label for e in examples] == [r["label"] for r in rows]
  assert examples[0].label == len(examples[0].text_a.split()) / 10


@pytest.mark.parametrize("as_type", [list, str])
def test_multi_label_targets(glue_dir, tmp_path, as_type):
  rows = derived_rows(glue_dir, "train", "multi", max_examples=40,
                      multi_label_as=as_type)
  path = write_rows(tmp_path / ("t.jsonl" if as_type is list else "t.csv"),
                    rows)
  task = make_file_task(path, path, problem_type="multi_label_classification")
  assert task.labels == ("long", "negative", "positive")
  assert task.problem_type == "multi_label_classification"
  # One name for the concept: the field is `problem_type`, no `kind`.
  assert not hasattr(task, "kind")
  assert task.is_multi_label and not task.is_regression
  examples = load_examples(task, "train")
  for row, example in zip(rows, examples):
    names = row["label"] if as_type is list else row["label"].split(",")
    assert example.label == tuple(
        float(n in names) for n in task.labels)
  encoded = encode_examples(task, examples, _tokenizer(), 32)
  assert encoded.labels.shape == (40, 3) and encoded.labels.dtype == np.float32


def _tokenizer():
  from tests.conftest import FIXTURES_DIR
  from theseus_tf.utils.transformers import load_tokenizer
  return load_tokenizer(FIXTURES_DIR / "tiny-bert-classifier")


def test_metric_for_best(tmp_path):
  path = write_rows(tmp_path / "t.csv", [
      {"text": f"row {i}", "label": i % 2} for i in range(8)])
  task = make_file_task(path, path, metric_for_best="matthews_correlation")
  assert task.score_metrics == ("matthews_correlation",)
  assert "f1" in task.metric_names
  with pytest.raises(TextFileError, match="does not apply to regression"):
    make_file_task(path, path, problem_type="regression",
                   metric_for_best="accuracy")


# -- bad input: one line naming file, line or column, and the fix -----------


def _check(error, *fragments):
  message = str(error.value)
  assert "\n" not in message
  for fragment in fragments:
    assert fragment in message, message


def _write(path, text, mode="w"):
  if mode == "wb":
    path.write_bytes(text)
  else:
    path.write_text(text, encoding="utf-8")
  return path


def test_missing_file_and_unknown_extension(tmp_path):
  with pytest.raises(TextFileError) as error:
    make_file_task(tmp_path / "nope.csv")
  _check(error, "nope.csv", "no such file")
  path = _write(tmp_path / "data.txt", "text,label\na,b\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "data.txt", "unknown extension '.txt'", "--file-format")
  assert make_file_task(path, file_format="csv", force_labels=True,
                        labels=["b", "c"]).labels == ("b", "c")


def test_missing_column_lists_the_columns(tmp_path):
  path = _write(tmp_path / "t.csv", "body,queue\nhello,a\nbye,b\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path, text_columns=["text"], label_column="queue")
  _check(error, "t.csv", "no column 'text'", "['body', 'queue']",
         "--text-columns")
  with pytest.raises(TextFileError) as error:
    make_file_task(path, text_columns=["body"])
  _check(error, "no column 'label'", "--label-column")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "no 'text'", "['body', 'queue']", "--text-columns")


def test_empty_and_header_only_files(tmp_path):
  with pytest.raises(TextFileError) as error:
    make_file_task(_write(tmp_path / "e.csv", ""))
  _check(error, "e.csv", "empty")
  with pytest.raises(TextFileError) as error:
    make_file_task(_write(tmp_path / "h.csv", "text,label\n"))
  _check(error, "h.csv", "header row but no data rows")
  with pytest.raises(TextFileError) as error:
    make_file_task(_write(tmp_path / "e.jsonl", "\n\n"))
  _check(error, "e.jsonl", "empty")


def test_empty_text_names_the_line(tmp_path):
  path = _write(tmp_path / "t.csv", "text,label\ngood,a\n  ,b\nfine,a\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "t.csv:3:", "empty text in column 'text'")


def test_validation_label_never_seen_in_training(tmp_path):
  train = _write(tmp_path / "train.csv", "text,label\na,x\nb,y\nc,x\nd,y\n")
  dev = _write(tmp_path / "dev.csv", "text,label\na,x\nb,z\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(train, dev)
  _check(error, "dev.csv:3:", "label 'z'", "training file", "--labels")


def test_non_numeric_regression_label(tmp_path):
  path = _write(tmp_path / "t.tsv", "text\tlabel\na\t1.5\nb\tfour\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path, problem_type="regression")
  _check(error, "t.tsv:3:", "'four'", "not a number")


def test_malformed_json_names_the_line(tmp_path):
  path = _write(tmp_path / "t.jsonl",
                '{"text": "a", "label": "x"}\n{"text": "b", "label": }\n')
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "t.jsonl:2:", "malformed JSON")


def test_non_utf8_bytes_name_line_and_offset(tmp_path):
  data = b"text,label\na,x\ncaf\xe9,y\n"
  path = _write(tmp_path / "t.csv", data, mode="wb")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  offset = data.index(b"\xe9")
  _check(error, "t.csv:3:", f"byte offset {offset}", "0xe9", "UTF-8")


def test_ragged_csv_row(tmp_path):
  path = _write(tmp_path / "t.csv", "text,label\na,x\nb, c,y\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "t.csv:3:", "3 fields, the header has 2", "quote")


def test_label_column_with_too_many_values(tmp_path):
  rows = [{"text": f"text {i}", "id": str(i), "label": i % 2}
          for i in range(10)]
  path = write_rows(tmp_path / "t.csv", rows)
  with pytest.raises(TextFileError) as error:
    make_file_task(path, path, label_column="id")
  _check(error, "t.csv", "column 'id' has 10 distinct labels in 10 rows",
         "--force-labels")
  assert len(make_file_task(path, path, label_column="id",
                            force_labels=True).labels) == 10


def test_bom_and_quoted_line_breaks(tmp_path):
  path = _write(tmp_path / "t.csv",
                "\ufefftext,label\n\"two\nlines\",a\nplain,b\n")
  task = make_file_task(path, labels=["a", "b"])
  assert [e.text_a for e in load_examples(task, "train")] == [
      "two\nlines", "plain"]


def test_jsonl_object_per_line(tmp_path):
  path = _write(tmp_path / "t.jsonl", json.dumps(["a", "b"]) + "\n")
  with pytest.raises(TextFileError) as error:
    make_file_task(path)
  _check(error, "t.jsonl:1:", "not an object")
