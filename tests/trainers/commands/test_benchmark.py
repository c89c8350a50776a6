"""`theseus-tf benchmark`, on tiny BERTs (2 layers -> 1, hidden 32).

One benchmark run (every part: exports, timing, scores, training, report)
is shared by most tests; the error tests stop before any export.
"""

import contextlib
import io
import json

import pytest

from tests.trainers.cli_helpers import REPO_ROOT
from trainers import cli
from trainers.benchmarking import report, training
from trainers.benchmarking.formats import torch_available

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")

FORMATS = ("keras", "saved_model", "saved_model-text", "tflite-fp32",
           "tflite-int8") + (("pytorch",) if torch_available() else ())
# Formats that take raw text: timed, not scored (the dev sets are token ids).
TEXT_FORMATS = ("saved_model-text",)
VARIANTS = ("predecessor", "successor", "plain")
def _main(argv):
  """Runs `theseus-tf` here; returns (exit code, stdout, stderr)."""
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:
      code = exit_.code
  return code, out.getvalue(), err.getvalue()


def _small_flags(output_dir):
  return ["--max-seq-length", 32, "--batch-sizes", "1,4", "--runs", 2,
          "--warmup", 1, "--train-batch-size", 2, "--train-steps", 1,
          "--num-calibration-examples", 8, "--output-dir", output_dir]


@pytest.fixture(scope="module")
def bench(tiny_dirs, glue_dir, tmp_path_factory):
  """One full benchmark run with SST-2 dev scores; returns its outputs."""
  output_dir = tmp_path_factory.mktemp("benchmark") / "out"
  code, stdout, stderr = _main(
      ["benchmark", "--model", tiny_dirs["predecessor"],
       "--successor", tiny_dirs["successor"], "--formats", ",".join(FORMATS),
       "--task", "sst2", "--data-dir", glue_dir, "--max-eval-examples", 16,
       "--training-in-process"] + _small_flags(output_dir))
  assert code == 0, stderr
  result = json.loads((output_dir / report.JSON_FILE).read_text("utf-8"))
  return {"dir": output_dir, "stdout": stdout, "result": result,
          "rows": {(r["model"], r["format"]): r for r in result["inference"]}}


def test_json_has_every_model_and_format(bench):
  result, rows = bench["result"], bench["rows"]
  assert sorted(rows) == sorted((v, f) for v in VARIANTS for f in FORMATS)
  assert [m["name"] for m in result["models"]] == list(VARIANTS)
  assert [m["num_layers"] for m in result["models"]] == [2, 1, 1]
  for row in rows.values():
    assert row["size_bytes"] > 0
    for b in ("1", "4"):
      assert row["ms"][b] > 0 and row["examples_per_second"][b] > 0
      assert row["speedup_vs_predecessor_keras"][b] > 0
      assert row["speedup_vs_predecessor_same_format"][b] > 0
    assert row["device"].startswith("CPU")
  # The TFLite runner took batches of 4 after batches of 1.
  assert rows[("successor", "tflite-fp32")]["examples_per_second"]["4"] > 0
  assert result["settings"]["batch_sizes"] == [1, 4]
  machine = result["machine"]
  assert machine["cpu_cores"] >= 1 and machine["versions"]["tensorflow"]
  assert "load_average_at_end" in machine


def test_plain_model_matches_the_successor_in_size(bench):
  rows = bench["rows"]
  assert (rows[("plain", "keras")]["size_bytes"] ==
          rows[("successor", "keras")]["size_bytes"])
  for fmt in FORMATS[1:]:
    plain = rows[("plain", fmt)]["size_bytes"]
    successor = rows[("successor", fmt)]["size_bytes"]
    # Exported files differ only in layer and tensor names.
    assert abs(plain / successor - 1) < 0.02, fmt
  # The raw-text signature is in the same SavedModel as the ids one.
  for name in VARIANTS:
    assert (rows[(name, "saved_model-text")]["size_bytes"] ==
            rows[(name, "saved_model")]["size_bytes"])
  assert (rows[("successor", "tflite-int8")]["size_bytes"] <
          rows[("successor", "tflite-fp32")]["size_bytes"])


def test_scores_of_every_format(bench):
  rows = bench["rows"]
  for (name, fmt), row in rows.items():
    if fmt in TEXT_FORMATS:
      assert row["score"] is None and "raw-text" in row["score_note"]
      continue
    assert 0.0 <= row["score"] <= 1.0, (name, fmt)
    assert row["eval_examples"] == {"dev": 16}
  for name in ("predecessor", "successor"):
    assert (rows[(name, "tflite-fp32")]["score"] ==
            rows[(name, "keras")]["score"] ==
            rows[(name, "saved_model")]["score"])
    if "pytorch" in FORMATS:  # save_pretrained -> transformers on PyTorch.
      assert rows[(name, "pytorch")]["score"] == rows[(name, "keras")]["score"]
  for fmt in set(FORMATS) - set(TEXT_FORMATS):
    plain, successor = rows[("plain", fmt)], rows[("successor", fmt)]
    assert plain["score"] == successor["score"]
    assert plain["score_from"] == "successor"
    assert "not re-evaluated" in plain["score_note"]
  assert bench["result"]["settings"]["calibration"] == (
      "8 SST-2 training examples")


def test_training_rows(bench):
  rows = bench["result"]["training"]
  assert [r["name"] for r in rows] == [
      "fine-tuning", "fine-tuning plain 1-layer", "theseus p=0",
      "theseus p=0.5", "theseus p=1"]
  assert rows[0]["ratio_to_finetuning"] == 1.0
  assert rows[1]["ratio_to_plain"] == 1.0
  for row in rows:
    assert row["step_ms"] > 0 and row["ratio_to_finetuning"] > 0
    assert row["memory"] == training.MEMORY_NONE
  # Theseus trains the successor layer only; the plain model trains all.
  assert all(r["trainable_parameters"] < rows[0]["trainable_parameters"] / 2
             for r in rows[2:])
  assert rows[1]["trainable_parameters"] > rows[2]["trainable_parameters"]
  if torch_available():  # The PyTorch reference, beside each row.
    assert all(row["torch_step_ms"] > 0 and row["ratio_to_torch"] > 0
               for row in rows)


def test_markdown_and_png(bench):
  text = (bench["dir"] / report.MARKDOWN_FILE).read_text("utf-8")
  assert text.strip() == bench["stdout"].strip()  # Also printed.
  for name in VARIANTS:
    for fmt in FORMATS:
      assert f"| {name} | " in text and f" | {fmt} | " in text
  lines = [line for line in text.splitlines() if line.startswith("| ")]
  inference_rows = [line for line in lines
                    if any(f" | {fmt} | " in line for fmt in FORMATS)]
  assert len(inference_rows) == len(VARIANTS) * len(FORMATS)
  assert all("x / " in line for line in inference_rows)  # The ratios.
  assert "| predecessor | 2 | keras |" in text and "1.00x / 1.00x" in text
  for name in ("fine-tuning", "theseus p=0", "theseus p=0.5", "theseus p=1"):
    assert f"| {name} | " in text
  png = (bench["dir"] / report.PLOT_FILE).read_bytes()
  assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
  assert sorted(p.name for p in bench["dir"].iterdir()) == sorted(
      [report.JSON_FILE, report.MARKDOWN_FILE, report.PLOT_FILE])


@pytest.mark.parametrize("case", [
    "missing_predecessor", "unknown_format", "narrow_successor",
    "no_task_data", "bad_compare_flag", "eval_without_task", "bad_rate",
    "unknown_architecture", "successor_and_num_layers", "too_long"])
def test_bad_input_is_one_line_and_writes_nothing(case, tiny_dirs, tmp_path):
  output_dir = tmp_path / "out"
  base = ["benchmark", "--model", tiny_dirs["predecessor"],
          "--max-seq-length", 32, "--output-dir", output_dir]
  argv, expected = {
      "missing_predecessor": (
          ["benchmark", "--model", tmp_path / "nope", "--output-dir",
           output_dir], "--model"),
      "unknown_format": (base + ["--formats", "keras,onnx"],
                         "'onnx' is not a format"),
      "narrow_successor": (base + ["--successor", tiny_dirs["narrow"]],
                           "hidden size 16, the predecessor 32"),
      "no_task_data": (base + ["--task", "sst2", "--data-dir", tmp_path],
                       "no SST-2 data"),
      "bad_compare_flag": (base + ["--compare", "just-a-path"], "NAME=PATH"),
      "eval_without_task": (base + ["--max-eval-examples", 5],
                            "--max-eval-examples is only read with --task"),
      "bad_rate": (base + ["--replacement-rates", "0,1.5"],
                   "'1.5' is not a rate in [0, 1]"),
      "unknown_architecture": (
          ["benchmark", "--architecture", "bert-huge", "--output-dir",
           output_dir], "neither a preset"),
      "successor_and_num_layers": (
          base + ["--successor", tiny_dirs["successor"], "--num-layers", 1],
          "--num-layers"),
      "too_long": (base + ["--max-seq-length", 65],
                   "only 64 position embeddings"),
  }[case]
  code, stdout, stderr = _main(argv)
  assert code == 2, stderr
  errors = [line for line in stderr.splitlines()
            if line.startswith("theseus-tf: error: ")]
  assert len(errors) == 1 and expected in errors[0], stderr
  assert not output_dir.exists()
  assert not stdout


def test_failed_measurement_leaves_the_output_as_it_was(tiny_dirs, tmp_path,
                                                         monkeypatch):
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  (output_dir / report.JSON_FILE).write_text("old", encoding="utf-8")

  def fail(*args, **kwargs):
    raise training.MeasurementError("the training benchmark failed: boom")

  monkeypatch.setattr(training, "run_subprocess", fail)
  code, _, stderr = _main(
      ["benchmark", "--model", tiny_dirs["predecessor"],
       "--skip-inference", "--max-seq-length", 32, "--output-dir", output_dir])
  assert code == 1
  assert "theseus-tf: error: the training benchmark failed" in stderr
  assert [p.name for p in output_dir.iterdir()] == [report.JSON_FILE]
  assert (output_dir / report.JSON_FILE).read_text("utf-8") == "old"


def test_docs_and_help_describe_the_command():
  parser = cli.build_parser()
  assert "benchmark" in parser.subcommands
  docs = (REPO_ROOT / "docs" / "CLI.md").read_text("utf-8")
  assert "## `theseus-tf benchmark`" in docs
  assert "theseus-tf benchmark --architecture bert-base" in docs
