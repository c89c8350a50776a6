"""`theseus-tf benchmark`, on tiny BERTs (2 layers -> 1, hidden 32).

One benchmark run (every part: exports, timing, scores, training, report)
is shared by most tests; the error tests stop before any export.
"""

import argparse
import contextlib
import io
import json

import numpy as np
import pytest

from tests.trainers.cli_helpers import REPO_ROOT
from trainers import cli
from trainers.benchmarking import inference, models, report, training

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")

FORMATS = ("keras", "saved_model", "tflite-fp32", "tflite-int8")
VARIANTS = ("predecessor", "successor", "plain")
# WordPiece over single characters covers any lower-case text.
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = list(dict.fromkeys(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + _CHARS +
    ["##" + c for c in _CHARS] + list(".,!?'-") +
    "the and of to is it film movie this that with but not".split()))


def _save(model, folder):
  """A Hugging Face folder with the tiny vocabulary as its tokenizer."""
  from theseus_tf.models import save_pretrained
  save_pretrained(model, folder)
  (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  (folder / "tokenizer_config.json").write_text(json.dumps(
      {"do_lower_case": True, "tokenizer_class": "BertTokenizer"}),
                                                encoding="utf-8")
  return folder


def _tiny_classifier(hidden=32, layers=2, seed=0):
  """A 'fine-tuned' tiny classifier: its head spreads the logits."""
  from theseus_tf.backend import keras
  from theseus_tf.models import BertBackbone, BertClassifier
  keras.utils.set_random_seed(seed)
  backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=layers,
                          num_heads=2, hidden_dim=hidden,
                          intermediate_dim=2 * hidden, max_sequence_length=64)
  model = BertClassifier(backbone, num_classes=2, name="bert_classifier")
  model(models.example_features(2, 8, len(VOCAB)))
  kernel, _ = model.output_dense.get_weights()
  model.output_dense.set_weights([kernel * 100, np.array([0.1, -0.1],
                                                         np.float32)])
  return model


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
  """Folders: predecessor (2 layers), successor (1), narrow, headless."""
  from theseus_tf import strip_successor
  from theseus_tf.models import build_theseus_classifier, save_pretrained
  root = tmp_path_factory.mktemp("benchmark-models")
  predecessor = _tiny_classifier()
  dirs = {"predecessor": _save(predecessor, root / "predecessor")}
  dirs["successor"] = _save(
      strip_successor(build_theseus_classifier(predecessor, num_modules=1)),
      root / "successor")
  dirs["narrow"] = _save(_tiny_classifier(hidden=16, layers=1),
                         root / "narrow")
  headless = root / "headless"
  save_pretrained(predecessor.backbone, headless)
  for name in ("vocab.txt", "tokenizer_config.json"):
    (headless / name).write_bytes((dirs["predecessor"] / name).read_bytes())
  dirs["headless"] = headless
  return dirs


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
  return ["--seq-length", 32, "--batch-sizes", "1,4", "--runs", 2,
          "--warmup", 1, "--train-batch-size", 2, "--train-steps", 1,
          "--num-calibration-examples", 8, "--output-dir", output_dir]


@pytest.fixture(scope="module")
def bench(tiny_dirs, glue_dir, tmp_path_factory):
  """One full benchmark run with SST-2 dev scores; returns its outputs."""
  output_dir = tmp_path_factory.mktemp("benchmark") / "out"
  code, stdout, stderr = _main(
      ["benchmark", "--predecessor", tiny_dirs["predecessor"],
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
  assert (rows[("successor", "tflite-int8")]["size_bytes"] <
          rows[("successor", "tflite-fp32")]["size_bytes"])


def test_scores_of_every_format(bench):
  rows = bench["rows"]
  for (name, fmt), row in rows.items():
    assert 0.0 <= row["score"] <= 1.0, (name, fmt)
    assert row["eval_examples"] == {"dev": 16}
  for name in ("predecessor", "successor"):
    assert (rows[(name, "tflite-fp32")]["score"] ==
            rows[(name, "keras")]["score"] ==
            rows[(name, "saved_model")]["score"])
  for fmt in FORMATS:
    plain, successor = rows[("plain", fmt)], rows[("successor", fmt)]
    assert plain["score"] == successor["score"]
    assert plain["score_from"] == "successor"
    assert "not re-evaluated" in plain["score_note"]
  assert bench["result"]["settings"]["calibration"] == (
      "8 SST-2 training examples")


def test_training_rows(bench):
  rows = bench["result"]["training"]
  assert [r["name"] for r in rows] == [
      "fine-tuning", "theseus p=0", "theseus p=0.5", "theseus p=1"]
  assert rows[0]["ratio_to_finetuning"] == 1.0
  for row in rows:
    assert row["step_ms"] > 0 and row["ratio_to_finetuning"] > 0
    assert row["memory"] == training.MEMORY_NONE
  # Theseus trains the successor layer only.
  assert all(r["trainable_parameters"] < rows[0]["trainable_parameters"] / 2
             for r in rows[1:])


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


@pytest.mark.slow  # A new Python process: about 10 s.
def test_training_subprocess_reports_its_peak_memory(tiny_dirs):
  spec = models.PredecessorSpec(str(tiny_dirs["predecessor"]), None, 2)
  row = training.run_subprocess(
      spec, training.configurations([0.5])[1],
      {"depth": 1, "batch_size": 2, "seq_length": 16, "steps": 1,
       "warmup": 1})
  assert row["name"] == "theseus p=0.5" and row["step_ms"] > 0
  assert row["memory"] == training.MEMORY_RSS
  assert row["peak_memory_mib"] >= row["baseline_memory_mib"] > 50


@pytest.mark.parametrize("case", [
    "missing_predecessor", "unknown_format", "narrow_successor",
    "no_task_data", "bad_model_flag", "eval_without_task", "bad_rate",
    "unknown_architecture", "successor_and_num_layers", "too_long"])
def test_bad_input_is_one_line_and_writes_nothing(case, tiny_dirs, tmp_path):
  output_dir = tmp_path / "out"
  base = ["benchmark", "--predecessor", tiny_dirs["predecessor"],
          "--seq-length", 32, "--output-dir", output_dir]
  argv, expected = {
      "missing_predecessor": (
          ["benchmark", "--predecessor", tmp_path / "nope", "--output-dir",
           output_dir], "--predecessor"),
      "unknown_format": (base + ["--formats", "keras,onnx"],
                         "'onnx' is not a format"),
      "narrow_successor": (base + ["--successor", tiny_dirs["narrow"]],
                           "hidden size 16, the predecessor 32"),
      "no_task_data": (base + ["--task", "sst2", "--data-dir", tmp_path],
                       "no SST-2 data"),
      "bad_model_flag": (base + ["--model", "just-a-path"], "NAME=PATH"),
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
      "too_long": (base + ["--seq-length", 65],
                   "only 64 position embeddings"),
  }[case]
  code, stdout, stderr = _main(argv)
  assert code == 2, stderr
  errors = [line for line in stderr.splitlines()
            if line.startswith("theseus-tf benchmark: error: ")]
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
      ["benchmark", "--predecessor", tiny_dirs["predecessor"],
       "--skip-inference", "--seq-length", 32, "--output-dir", output_dir])
  assert code == 1
  assert "theseus-tf benchmark: error: the training benchmark failed" in stderr
  assert [p.name for p in output_dir.iterdir()] == [report.JSON_FILE]
  assert (output_dir / report.JSON_FILE).read_text("utf-8") == "old"


def _args(**flags):
  defaults = {"predecessor": None, "architecture": None, "successor": None,
              "num_layers": None, "model": []}
  return argparse.Namespace(**dict(defaults, **flags))


def test_fresh_heads_are_not_scored(tiny_dirs):
  from trainers.inputs import resolve_task
  loaded = models.load_variants(
      _args(predecessor=str(tiny_dirs["headless"]),
            model=[f"other={tiny_dirs['successor']}"]), resolve_task("sst2"))
  names = [v.name for v in loaded.variants]
  assert names == ["predecessor", "successor", "plain", "other"]
  trained = {v.name: v.trained_head for v in loaded.variants}
  assert trained == {"predecessor": False, "successor": False,
                     "plain": False, "other": True}
  assert loaded["plain"].score_from == "successor"
  assert loaded.successor_depth == 1
  assert models.weight_bytes(loaded["plain"].model) == models.weight_bytes(
      loaded["successor"].model)


def test_random_architecture_from_a_config_folder(tiny_dirs, tmp_path):
  folder = tmp_path / "arch"
  folder.mkdir()
  config = json.loads((tiny_dirs["predecessor"] / "config.json").read_text())
  config["num_hidden_layers"] = 4
  (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
  (folder / "vocab.txt").write_bytes(
      (tiny_dirs["predecessor"] / "vocab.txt").read_bytes())
  loaded = models.load_variants(_args(architecture=str(folder)), None)
  predecessor = loaded["predecessor"]
  assert predecessor.num_layers == 4 and not predecessor.trained_head
  assert predecessor.tokenizer_dir == folder
  assert loaded.predecessor_spec.folder is None
  assert loaded.predecessor_spec.config["num_hidden_layers"] == 4
  assert loaded["successor"].num_layers == 2
  assert models.architecture_config("bert-base") == {"model_type": "bert"}


def test_interleaved_timing_and_paired_speedup():
  calls = {"a": 0, "b": 0}

  def counter(key):
    def call():
      calls[key] += 1
    return call

  times = inference.time_interleaved(
      {"a": counter("a"), "b": counter("b")}, runs=5, warmup=2)
  assert calls == {"a": 7, "b": 7}
  assert all(len(t) == 5 for t in times.values())
  assert inference.paired_speedup([2.0, 4.0, 6.0], [1.0, 1.0, 3.0]) == 2.0
  assert models.equal_grouping(12, 5) == [3, 3, 2, 2, 2]


def test_docs_and_help_describe_the_command():
  parser = cli.build_parser()
  assert "benchmark" in parser.subcommands
  docs = (REPO_ROOT / "docs" / "CLI.md").read_text("utf-8")
  assert "## `theseus-tf benchmark`" in docs
  assert "theseus-tf benchmark --architecture bert-base" in docs
