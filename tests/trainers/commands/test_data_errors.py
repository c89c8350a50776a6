"""Bad own-data input on the command line: one line naming file, line or
column and the fix, exit status 2, before training, output folder untouched."""

import os
import signal
import subprocess
import time

import pytest

from tests.trainers.cli_helpers import cli_command, cli_env, run_subprocess
from tests.trainers.commands.test_errors import _assert_one_line_error

@pytest.fixture(autouse=True)
def _token_cache(tmp_path, monkeypatch):
  """Token cache entries go to the test's folder, not ~/.cache."""
  monkeypatch.setenv("THESEUS_TF_TOKEN_CACHE", str(tmp_path / "token-cache"))



def _good_rows(count=12):
  return "text,label\n" + "".join(
      f"sentence number {i},{'pos' if i % 2 else 'neg'}\n"
      for i in range(count))


@pytest.fixture
def finetune(run_cli, tiny_model_dir, tmp_path):
  good = tmp_path / "good.csv"
  good.write_text(_good_rows(), encoding="utf-8")

  def run(train=None, dev=None, *extra):
    return run_cli("finetune", "--model", tiny_model_dir, "--reinit-head",
                   "--train-file", train or good, "--validation-file",
                   dev or good, "--output-dir", tmp_path / "run",
                   "--max-steps", "1", "--no-progress-bar", *extra)

  return run


def _file(tmp_path, name, content):
  path = tmp_path / name
  if isinstance(content, bytes):
    path.write_bytes(content)
  else:
    path.write_text(content, encoding="utf-8")
  return path


@pytest.mark.parametrize("name,content,extra,fragments", [
    ("missing.csv", None, (), ("missing.csv: no such file",)),
    ("data.txt", "text,label\na,b\n", (), ("unknown extension '.txt'",
                                           "--file-format")),
    ("cols.csv", "body,label\na,pos\n", (),
     ("no 'text'", "['body', 'label']", "--text-columns")),
    ("cols2.csv", _good_rows(), ("--label-column", "queue"),
     ("no column 'queue'", "['text', 'label']", "--label-column")),
    ("empty.csv", "", (), ("empty.csv: the file is empty",)),
    ("header.csv", "text,label\n", (), ("header row but no data rows",)),
    ("blank.csv", "text,label\na,pos\n \t,neg\n", (),
     ("blank.csv:3: empty text in column 'text'",)),
    ("reg.csv", "text,label\na,1.5\nb,high\n", ("--problem-type",
                                                "regression"),
     ("reg.csv:3: label 'high'", "not a number")),
    ("bad.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b" "label"}\n',
     (), ("bad.jsonl:2: malformed JSON",)),
    ("latin1.csv", b"text,label\na,pos\nna\xefve,neg\n", (),
     ("latin1.csv:3: byte 0xef at byte offset 19", "UTF-8")),
    ("ragged.csv", "text,label\na,pos\nb,c,neg\n", (),
     ("ragged.csv:3: 3 fields, the header has 2",)),
    ("ids.csv", "text,label\n" + "".join(f"t{i},{i}\n" for i in range(8)),
     (), ("8 distinct labels in 8 rows", "--force-labels")),
])
def test_bad_training_file(finetune, tmp_path, name, content, extra,
                           fragments):
  path = tmp_path / name if content is None else _file(tmp_path, name,
                                                        content)
  result = finetune(path, None, *extra)
  _assert_one_line_error(result, name, *fragments)
  assert not (tmp_path / "run").exists()


def test_validation_label_never_seen_in_training(finetune, tmp_path):
  dev = _file(tmp_path, "dev.csv", "text,label\na,pos\nb,neutral\n")
  result = finetune(None, dev)
  _assert_one_line_error(result, "dev.csv:3: label 'neutral'",
                         "training file", "--labels")
  assert not (tmp_path / "run").exists()


def test_repeated_labels(finetune, tmp_path):
  path = _file(tmp_path, "train.csv", _good_rows())
  result = finetune(path, None, "--labels", "pos,neg,pos")
  _assert_one_line_error(result, "--labels: label names repeat",
                         "list each label once")
  assert not (tmp_path / "run").exists()


def test_label_delimiter_needs_multi_label(finetune):
  result = finetune(None, None, "--label-delimiter", ";")
  _assert_one_line_error(result, "--label-delimiter only applies to "
                         "--problem-type multi_label_classification",
                         "single_label_classification", "drop it")


def test_force_labels_accepts_the_column(finetune, tmp_path):
  rows = "text,label\n" + "".join(f"t{i},{i}\n" for i in range(8))
  path = _file(tmp_path, "ids.csv", rows)
  result = finetune(path, path, "--force-labels")
  assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("argv,fragments", [
    (("finetune", "--model", "m", "--output-dir", "o", "--task", "sst2",
      "--train-file", "t.csv", "--validation-file", "d.csv"),
     ("--task and --train-file conflict",)),
    (("finetune", "--model", "m", "--output-dir", "o", "--train-file",
      "t.csv"), ("--validation-file is required",)),
    (("finetune", "--model", "m", "--output-dir", "o"),
     ("--task is required (a GLUE task), or --train-file and "
      "--validation-file for your own data",)),
    (("compress", "--model", "m", "--output-dir", "o", "--task", "sst2",
      "--text-columns", "a"), ("--text-columns only applies to",)),
    (("evaluate", "--model", "m", "--validation-file", "d.csv",
      "--data-dir", "glue"), ("--data-dir only applies to --task",)),
    (("benchmark", "--model", "m", "--output-dir", "o", "--task", "sst2",
      "--validation-file", "d.csv"), ("--task and --validation-file conflict",)),
    (("benchmark", "--model", "m", "--output-dir", "o", "--text-columns",
      "a"), ("--task is required", "--validation-file")),
    (("export", "--model", "m", "--format", "tflite", "--output-dir", "o",
      "--task", "sst2", "--train-file", "t.csv"),
     ("--task and --train-file conflict",)),
    (("export", "--model", "m", "--format", "tflite", "--output-dir", "o",
      "--text-columns", "a"), ("--text-columns only applies to --train-file",)),
    (("predict", "--model", "m", "--input-file", "i.csv"),
     ("--output-file is required",)),
])
def test_conflicting_data_flags_fail_before_tensorflow(argv, fragments):
  # A subprocess: the flag checks run before TensorFlow is imported.
  result = run_subprocess(*argv, timeout=60)
  _assert_one_line_error(result, *fragments)


# -- predict -------------------------------------------------------------------


def test_predict_refuses_to_overwrite(run_cli, tiny_model_dir, tmp_path):
  data = _file(tmp_path, "in.csv", _good_rows(4))
  out = _file(tmp_path, "out.jsonl", "precious\n")
  result = run_cli("predict", "--model", tiny_model_dir, "--input-file", data,
                   "--output-file", out)
  _assert_one_line_error(result, "out.jsonl already exists", "--overwrite")
  assert out.read_text() == "precious\n"


def test_predict_bad_input_leaves_no_output(run_cli, tiny_model_dir,
                                            tmp_path):
  rows = _good_rows(100) + " ,pos\n"
  data = _file(tmp_path, "in.csv", rows)
  result = run_cli("predict", "--model", tiny_model_dir, "--input-file", data,
                   "--output-file", tmp_path / "out.csv", "--eval-batch-size", "8",
                   "--no-progress-bar")
  _assert_one_line_error(result, "in.csv:102: empty text in column 'text'")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_predict_all_scores_csv(run_cli, tiny_model_dir, tmp_path):
  data = _file(tmp_path, "in.tsv", "id\tbody\n7\tfine\n8\tawful\n")
  result = run_cli("predict", "--model", tiny_model_dir, "--input-file", data,
                   "--text-columns", "body", "--output-file",
                   tmp_path / "out.csv", "--all-scores", "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  lines = (tmp_path / "out.csv").read_text("utf-8").splitlines()
  header = lines[0].split(",")
  assert header[:4] == ["id", "body", "predicted_label", "predicted_score"]
  # One column per label of the tiny classifier, prefixed like the others.
  assert len(header) == 4 + 3
  assert all(c.startswith("predicted_probability_") for c in header[4:])
  assert len(lines) == 3


def test_predict_csv_from_json_lines_with_differing_keys(run_cli,
                                                        tiny_model_dir,
                                                        tmp_path):
  import csv
  import json
  rows = [{"id": 1, "text": "fine"}, {"text": "awful", "source": "web"},
          {"id": 3, "text": "so so"}]
  data = _file(tmp_path, "in.jsonl",
               "".join(json.dumps(row) + "\n" for row in rows))
  out = tmp_path / "out.csv"
  result = run_cli("predict", "--model", tiny_model_dir, "--input-file", data,
                   "--output-file", out, "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  with open(out, encoding="utf-8", newline="") as f:
    reader = csv.DictReader(f)
    written = list(reader)
  # Every key of any row, in the order they first appear; missing: empty.
  assert reader.fieldnames[:5] == ["id", "text", "source", "predicted_label",
                                   "predicted_score"]
  assert [(r["id"], r["text"], r["source"]) for r in written] == [
      ("1", "fine", ""), ("", "awful", "web"), ("3", "so so", "")]
  assert all(r["predicted_label"] for r in written)


@pytest.fixture(scope="module")
def ids_saved_model(tiny_model_dir, tmp_path_factory):
  """A token-id SavedModel of the tiny classifier (exported without a
  tokenizer: serving_default takes input_ids, ...)."""
  from theseus_tf.export import export_saved_model
  from theseus_tf.utils.transformers import from_pretrained
  return export_saved_model(
      from_pretrained(tiny_model_dir), None,
      tmp_path_factory.mktemp("serving"), "ids", max_seq_length=16,
      allow_untrained=True)


def _predict_saved_model(run_cli, model, tmp_path, *extra):
  data = _file(tmp_path, "in.csv", _good_rows(4))
  return run_cli("predict", "--model", model, "--input-file", data,
                 "--output-file", tmp_path / "out.jsonl", "--no-progress-bar",
                 *extra)


def test_predict_refuses_a_token_id_saved_model(run_cli, ids_saved_model,
                                                 tmp_path):
  result = _predict_saved_model(run_cli, ids_saved_model, tmp_path)
  _assert_one_line_error(result, "is a token-id SavedModel",
                         "exported without a tokenizer", "'theseus-tf export",
                         "Hugging Face model folder")
  assert not (tmp_path / "out.jsonl").exists()


def test_predict_refuses_a_saved_model_without_metadata(run_cli,
                                                        ids_saved_model,
                                                        tmp_path):
  import shutil
  foreign = tmp_path / "foreign"
  shutil.copytree(ids_saved_model, foreign)
  (foreign / "assets.extra" / "theseus_tf_export.json").unlink()
  result = _predict_saved_model(run_cli, foreign, tmp_path)
  _assert_one_line_error(result, "without theseus_tf's metadata",
                         "assets.extra/theseus_tf_export.json",
                         "'theseus-tf export", "Hugging Face model folder")


def test_predict_reads_a_text_saved_model(run_cli, tiny_model_dir, tmp_path):
  pytest.importorskip("tensorflow_text")
  import json
  from theseus_tf.export import export_saved_model
  from theseus_tf.utils.transformers import from_pretrained
  version = export_saved_model(from_pretrained(tiny_model_dir),
                               tiny_model_dir, tmp_path / "serving", "text",
                               max_seq_length=16, allow_untrained=True)
  result = _predict_saved_model(run_cli, version, tmp_path)
  assert result.returncode == 0, result.stderr
  rows = [json.loads(line) for line in
          (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
  assert len(rows) == 4 and all("predicted_label" in row for row in rows)


@pytest.mark.parametrize("extra,flag", [
    (("--tokenizer", "t"), "--tokenizer"),
    (("--max-seq-length", "64"), "--max-seq-length")])
def test_predict_saved_model_refuses_tokenizer_flags(run_cli, tmp_path, extra,
                                                     flag):
  # Refused from the flags alone, before the SavedModel is read.
  model = tmp_path / "1"
  model.mkdir()
  (model / "saved_model.pb").write_bytes(b"")
  result = _predict_saved_model(run_cli, model, tmp_path, *extra)
  _assert_one_line_error(result, f"{flag} does not apply to a SavedModel",
                         "its own tokenizer and length", f"drop {flag}")


def test_predict_ctrl_c_leaves_no_output(tiny_model_dir, tmp_path):
  data = _file(tmp_path, "in.csv", _good_rows(200_000))
  out = tmp_path / "out.jsonl"
  process = subprocess.Popen(
      cli_command("predict", "--model", tiny_model_dir, "--input-file", data,
                  "--output-file", out, "--eval-batch-size", "4",
                  "--max-seq-length", "16"),
      env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      # Ctrl-C as in a terminal, even when pytest runs as a background job
      # (which ignores SIGINT, and its children inherit that).
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  deadline = time.time() + 120
  # Interrupt once predictions are being written to the temporary file.
  while time.time() < deadline and not any(
      p.name.startswith(".out.jsonl.partial") and p.stat().st_size > 0
      for p in tmp_path.iterdir()):
    assert process.poll() is None, process.communicate()
    time.sleep(0.2)
  os.kill(process.pid, signal.SIGINT)
  _, stderr = process.communicate(timeout=60)
  assert process.returncode == 130, stderr
  assert "interrupted; no output file was written" in stderr
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_tfds_offline_fails_at_once(run_cli, tiny_model_dir, tmp_path):
  pytest.importorskip("tensorflow_datasets")
  began = time.time()
  result = run_cli("finetune", "--model", tiny_model_dir, "--tfds-name",
                   "imdb_reviews", "--tfds-data-dir", tmp_path / "tfds",
                   "--output-dir", tmp_path / "run", "--max-steps", "1")
  assert time.time() - began < 60
  _assert_one_line_error(result, "imdb_reviews is not prepared",
                         "does not download", "--train-file")
  assert not (tmp_path / "run").exists()


def test_tfds_and_files_conflict():
  result = run_subprocess("finetune", "--model", "m", "--output-dir", "o",
                          "--tfds-name", "imdb_reviews", "--train-file",
                          "t.csv", timeout=60)
  _assert_one_line_error(result, "--tfds-name and --train-file conflict")


def test_labels_must_match_the_models(run_cli, tiny_model_dir, tmp_path):
  import json
  import shutil
  model = tmp_path / "named"
  shutil.copytree(tiny_model_dir, model)
  config = json.loads((model / "config.json").read_text("utf-8"))
  config["id2label"] = {"0": "a", "1": "b", "2": "c"}
  (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
  data = _file(tmp_path, "dev.csv", "text,label\nx,a\ny,b\nz,c\n")
  result = run_cli("evaluate", "--model", model, "--validation-file", data,
                   "--labels", "c,b,a")
  _assert_one_line_error(result, "--labels c,b,a differ", "a,b,c",
                         "drop --labels")
  unknown = _file(tmp_path, "dev2.csv", "text,label\nx,a\ny,d\n")
  result = run_cli("evaluate", "--model", model, "--validation-file", unknown)
  _assert_one_line_error(result, "dev2.csv:3: label 'd'",
                         "config.json id2label")
  result = run_cli("evaluate", "--model", model, "--validation-file", data)
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout)["labels"] == ["a", "b", "c"]
