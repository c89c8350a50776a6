"""`theseus-tf predict`: label names and scores for every row of a file."""

import pathlib

from trainers import model_record
from trainers.commands import flags
from trainers.errors import UsageError

NAME = "predict"
REQUIRED = ("model", "input_file", "output_file")
WHEN_INTERRUPTED = "no output file was written"


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME, "predict the labels of every row of a file",
      flags.paragraph(
          "Run a saved classifier over a CSV, TSV or JSON Lines file and "
          "write, for each row, its columns plus the predicted label name "
          "and score (multi-label: the label names and every probability; "
          "regression: the value), as JSON Lines or CSV. Rows stream through "
          "in batches; the output appears only when complete."),
      epilog="example:\n  theseus-tf predict --model runs/theseus-tickets/"
      "best_model --input-file new_tickets.csv --text-columns body "
      "--output-file predictions.jsonl")
  group = parser.add_argument_group("model")
  flags.add_model(
      group, "a Hugging Face folder (best_model/, final_model/), a .keras "
      "file, or a SavedModel version folder of 'theseus-tf export'. "
      "Required.", metavar="PATH")
  flags.add_tokenizer(group)
  group = parser.add_argument_group("input")
  group.add_argument(
      "--input-file", metavar="FILE",
      help="the rows to predict: CSV, TSV or JSON Lines (a label column, if "
      "any, is copied like any other). Required.")
  flags.add_text_column_flags(group)
  flags.add_max_seq_length(group, default=None)
  flags.add_eval_batch_size(group)
  group = parser.add_argument_group("output")
  flags.add_output_file(
      group, "where the predictions go: .jsonl or .csv. Written to a "
      "temporary file and renamed when complete. Required.")
  group.add_argument(
      "--output-format", choices=("jsonl", "csv"),
      help="format of --output-file (default: from its extension).")
  group.add_argument(
      "--all-scores", action="store_true",
      help="single-label models: also write the probability of every label.")
  group.add_argument(
      "--overwrite", action="store_true",
      help="replace an existing --output-file.")
  flags.add_no_progress_bar(group)
  return parser


def check(args):
  output = pathlib.Path(args.output_file)
  if output.exists() and not args.overwrite:
    raise UsageError(f"--output-file {output} already exists: pass "
                     "--overwrite to replace it")
  if not output.parent.is_dir():
    raise UsageError(f"--output-file {output}: no folder {output.parent}; "
                     "create it first")
  if model_record.is_saved_model(args.model):
    # The SavedModel tokenizes in its graph, at the length it was exported
    # with: these flags would be silently ignored.
    for dest in ("tokenizer", "max_seq_length"):
      if flags.flag_given(args, dest):
        raise UsageError(
            f"{flags.flag_name(dest)} does not apply to a SavedModel --model "
            f"({args.model}): it carries its own tokenizer and length; drop "
            f"{flags.flag_name(dest)}, or pass the Hugging Face model folder")
    model_record.text_saved_model_metadata(args.model)
  elif args.max_seq_length is None:
    args.max_seq_length = model_record.trained_max_seq_length(
        args.model, default=flags.DEFAULT_MAX_SEQ_LENGTH)


def run(args, parser):  # pylint: disable=unused-argument
  """Writes the predictions; returns the number of rows."""
  # pylint: disable=import-outside-toplevel
  from trainers import prediction
  out_format = prediction.output_format(args.output_file, args.output_format)
  # The input is checked before the model loads.
  # CSV output needs every input key for its header (JSON Lines rows may
  # differ in keys).
  columns, text_columns = prediction.check_input(
      args.input_file, args.file_format, args.text_columns,
      all_keys=out_format == "csv")
  if model_record.is_saved_model(args.model):
    predictor = prediction.SavedModelPredictor(args.model)
  else:
    from trainers.model_io import (check_max_seq_length, load_model_file,
                                   load_task_tokenizer)
    check_max_seq_length(args.model, args.max_seq_length)
    model = load_model_file(args.model)
    check_max_seq_length(args.model, args.max_seq_length, model)
    predictor = prediction.KerasPredictor(
        model,
        load_task_tokenizer("--tokenizer" if args.tokenizer else "--model",
                            args.tokenizer or
                            model_record.model_folder(args.model)),
        args.max_seq_length)
  count = prediction.predict_file(
      predictor, args.input_file, args.output_file,
      text_columns=text_columns, file_format=args.file_format,
      out_format=out_format, batch_size=args.eval_batch_size,
      all_scores=args.all_scores, progress=not args.no_progress_bar,
      columns=columns)
  print(f"predict: {count} rows -> {args.output_file}")
  return count

