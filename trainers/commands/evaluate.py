"""`theseus-tf evaluate`: the dev-set metrics of a saved model, as JSON."""

import json
import sys

from trainers import data_source, model_record
from trainers.atomic_io import atomic_write_json
from trainers.commands import flags

NAME = "evaluate"
REQUIRED = ("model",)


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME, "dev-set metrics of a saved model, as JSON",
      flags.paragraph(
          "Evaluate a saved classifier on a task's dev set(s) and print the "
          "metrics (and the paper's aggregate 'score') as JSON."),
      epilog="example:\n  theseus-tf evaluate --model runs/theseus-mrpc/"
      "final_model --task mrpc --data-dir glue_data --output-file eval.json")
  group = parser.add_argument_group("model")
  flags.add_model(
      group, "a Hugging Face folder (as written by save_pretrained: "
      "best_model/, final_model/) or a .keras file. Required.",
      metavar="PATH")
  flags.add_tokenizer(group)
  group = parser.add_argument_group("data")
  flags.add_task(group, help_text="GLUE task whose dev set(s) to score; "
                 "required unless --validation-file is given.")
  flags.add_data_dir(group)
  flags.add_data_file_flags(group, train_file=False)
  flags.add_max_seq_length(group, default=None)
  flags.add_eval_batch_size(group)
  flags.add_max_eval_examples(group)
  group = parser.add_argument_group("output")
  flags.add_output_file(
      group, "also write the JSON metrics to FILE (atomically).")
  return parser


def check(args):
  data_source.check_data_flags(args, needs=("validation_file",))
  if args.max_seq_length is None:
    args.max_seq_length = model_record.trained_max_seq_length(
        args.model, default=flags.DEFAULT_MAX_SEQ_LENGTH)


def run(args, parser):  # pylint: disable=unused-argument
  """Prints (and with --output-file writes) the metrics; returns them."""
  # pylint: disable=import-outside-toplevel
  from trainers.evaluation import (count_parameters, evaluate,
                                   make_predict_function)
  from trainers.inputs import load_eval_sets
  from theseus_tf.export.signatures import label_names as signatures_label_names
  from trainers.model_io import (check_max_seq_length, load_saved_classifier,
                                 load_task_tokenizer)
  task = data_source.resolve_data_task(args, model=args.model)
  check_max_seq_length(args.model, args.max_seq_length)
  model = data_source.apply_task_labels(
      load_saved_classifier(args.model, task), task)
  check_max_seq_length(args.model, args.max_seq_length, model)
  tokenizer = load_task_tokenizer(
      "--tokenizer" if args.tokenizer else "--model",
      args.tokenizer or model_record.model_folder(args.model))
  eval_sets = load_eval_sets(task, tokenizer, args.data_dir,
                             args.max_seq_length, args.eval_batch_size,
                             args.max_eval_examples,
                             cache_dir=args.token_cache_dir)
  metrics = evaluate(make_predict_function(model), task, eval_sets)
  result = {
      "model": str(args.model),
      "task": task.name,
      "problem_type": task.problem_type,
      "labels": signatures_label_names(model),
      "max_seq_length": args.max_seq_length,
      "eval_examples": {s: d.num_examples for s, d in eval_sets.items()},
      "num_parameters": count_parameters(model),
      "metrics": metrics,
  }
  if args.output_file:
    atomic_write_json(args.output_file, result)
  json.dump(result, sys.stdout, indent=2, sort_keys=True)
  print()
  return result

