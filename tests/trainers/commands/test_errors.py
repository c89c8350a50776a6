"""Bad input: one line on stderr, exit status 2, no traceback, no files."""

import shutil

import pytest

from tests.trainers.cli_helpers import run_subprocess


def _assert_one_line_error(result, *fragments):
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr
  lines = result.error_lines
  assert len(lines) == 1, lines
  assert lines[0].startswith("theseus-tf: error: ")
  for fragment in fragments:
    assert fragment in lines[0]


@pytest.fixture
def compress_flags(sst2_predecessor, tmp_path):
  return ["compress", "--model", sst2_predecessor, "--output-dir",
          tmp_path / "run", "--max-steps", "2", "--max-train-examples", "16",
          "--max-eval-examples", "8", "--no-progress-bar"]


def test_unknown_task(run_cli, compress_flags, glue_dir, tmp_path):
  result = run_cli(*compress_flags, "--task", "sst3", "--data-dir", glue_dir)
  _assert_one_line_error(result, "unknown GLUE task 'sst3'", "SST-2")
  assert not (tmp_path / "run").exists()


def test_missing_data_dir(run_cli, compress_flags, tmp_path):
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir",
                   tmp_path / "no-glue")
  _assert_one_line_error(result, "does not exist")
  assert not (tmp_path / "run").exists()


def test_data_dir_without_the_task(run_cli, compress_flags, glue_dir, tmp_path):
  # A GLUE folder with RTE and MRPC only.
  glue = tmp_path / "glue"
  for task in ("RTE", "MRPC"):
    shutil.copytree(glue_dir / task, glue / task)
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir", glue)
  _assert_one_line_error(result, "no SST-2 data", "--data-dir")


def test_missing_data_file(run_cli, compress_flags, glue_dir, tmp_path):
  (tmp_path / "glue" / "SST-2").mkdir(parents=True)
  shutil.copy(glue_dir / "SST-2" / "dev.tsv", tmp_path / "glue" / "SST-2")
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir",
                   tmp_path / "glue")
  _assert_one_line_error(result, "missing train file", "train.tsv")


def test_malformed_data_file(run_cli, compress_flags, glue_dir, tmp_path):
  folder = tmp_path / "glue" / "SST-2"
  folder.mkdir(parents=True)
  shutil.copy(glue_dir / "SST-2" / "dev.tsv", folder)
  (folder / "train.tsv").write_text(
      "sentence\tlabel\na fine film\t1\na dull one\tpositive\n")
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir",
                   tmp_path / "glue")
  _assert_one_line_error(result, "line 3", "bad SST-2 label 'positive'")


def test_checkpoint_with_the_wrong_label_count(run_cli, tiny_model_dir,
                                               compress_flags, glue_dir):
  flags = list(compress_flags)
  flags[flags.index("--model") + 1] = tiny_model_dir  # 3 labels.
  result = run_cli(*flags, "--task", "sst2", "--data-dir", glue_dir)
  _assert_one_line_error(result, "classifier with 3 output(s)",
                         "SST-2 needs a 2-label classifier",
                         "theseus-tf finetune")


def test_finetune_suggests_reinit_head(run_cli, tiny_model_dir, glue_dir,
                                       tmp_path):
  result = run_cli("finetune", "--model", tiny_model_dir, "--task", "rte",
                   "--data-dir", glue_dir, "--output-dir", tmp_path / "run",
                   "--max-train-examples", "16", "--max-eval-examples", "8")
  _assert_one_line_error(result, "3 output(s)", "--reinit-head")


def test_checkpoint_that_is_not_a_classifier(run_cli, minilm_dir,
                                             compress_flags, glue_dir):
  flags = list(compress_flags)
  flags[flags.index("--model") + 1] = minilm_dir  # A bare encoder.
  result = run_cli(*flags, "--task", "sst2", "--data-dir", glue_dir)
  _assert_one_line_error(result, "is not a classifier", "fine-tune it")


def test_missing_checkpoint(run_cli, compress_flags, glue_dir, tmp_path):
  flags = list(compress_flags)
  flags[flags.index("--model") + 1] = tmp_path / "nothing-here"
  result = run_cli(*flags, "--task", "sst2", "--data-dir", glue_dir)
  _assert_one_line_error(result, "--model", "No folder")


def test_inconsistent_schedule_flags(run_cli, compress_flags, glue_dir):
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir", glue_dir,
                   "--schedule", "constant", "--slope", "0.001")
  _assert_one_line_error(result, "--slope only applies to --schedule linear")


def test_grouping_that_does_not_fit_the_predecessor(run_cli, compress_flags,
                                                    glue_dir):
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir", glue_dir,
                   "--grouping", "2,1")  # The predecessor has 4 layers.
  _assert_one_line_error(result, "--model has 4 layers", "sum to")


def test_resuming_with_other_settings(run_cli, compress_flags, glue_dir,
                                      tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  (run / "config.json").write_text('{"command": "finetune"}')
  result = run_cli(*compress_flags, "--task", "sst2", "--data-dir", glue_dir)
  _assert_one_line_error(result, "holds a run with other settings",
                         "--overwrite-output-dir")


def test_evaluate_a_missing_keras_file(run_cli, glue_dir, tmp_path):
  result = run_cli("evaluate", "--model", tmp_path / "model.keras", "--task",
                   "sst2", "--data-dir", glue_dir)
  _assert_one_line_error(result, "no such .keras file")


def test_real_stderr_is_one_line(sst2_predecessor, glue_dir, tmp_path):
  """In a fresh process, TensorFlow's start-up chatter is kept out too."""
  result = run_subprocess(
      "compress", "--model", sst2_predecessor, "--task", "qqp",
      "--data-dir", glue_dir, "--output-dir", tmp_path / "run")
  _assert_one_line_error(result, "no QQP data in")
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["finetune", "compress", "evaluate",
                                     "predict", "export"])
def test_max_seq_length_beyond_the_positions(run_cli, tiny_model_dir,
                                             glue_dir, tmp_path, monkeypatch,
                                             command):
  # The tiny BERT has 128 position embeddings; config.json says so, and the
  # check reads it before any model loads.
  from trainers import model_io

  def no_loading(*args, **kwargs):
    raise AssertionError("the model was loaded before the check")

  monkeypatch.setattr(model_io, "from_pretrained", no_loading)
  if command == "predict":
    data = tmp_path / "in.csv"
    data.write_text("text\nfine\n", encoding="utf-8")
    argv = ["--input-file", data, "--output-file", tmp_path / "out.jsonl"]
  elif command == "export":
    argv = ["--format", "saved_model", "--output-dir", tmp_path / "export"]
  else:
    argv = ["--task", "sst2", "--data-dir", glue_dir]
    if command != "evaluate":
      argv += ["--output-dir", tmp_path / "run"]
  result = run_cli(command, "--model", tiny_model_dir, *argv,
                   "--max-seq-length", "129")
  _assert_one_line_error(result, "--max-seq-length 129 exceeds",
                         "128 tokens (its position embeddings)",
                         "pass --max-seq-length 128 or less")
  assert sorted(p.name for p in tmp_path.iterdir()) == (
      ["in.csv"] if command == "predict" else [])


def test_roberta_positions_less_its_padding_offset(fixtures_dir):
  # 50 position rows, pad_token_id 1: positions count from 2, 48 usable.
  from theseus_tf.export.signatures import max_tokens
  from theseus_tf.utils.transformers import from_pretrained
  from trainers.errors import UsageError
  from trainers.model_io import check_max_seq_length
  roberta = fixtures_dir / "families" / "tiny-roberta-classifier"
  check_max_seq_length(roberta, 48)
  with pytest.raises(UsageError, match="49 exceeds .* 48 tokens"):
    check_max_seq_length(roberta, 49)
  # The same limit once loaded (a .keras file, a hub id).
  model = from_pretrained(roberta)
  assert max_tokens(model) == 48
  check_max_seq_length("model.keras", 48, model)
  with pytest.raises(UsageError, match="49 exceeds .* 48 tokens"):
    check_max_seq_length("model.keras", 49, model)
  # Nothing to read: the check waits for the loaded model.
  check_max_seq_length("some/hub-id", 10_000)
