"""`theseus-tf export`: a trained model as a TF Serving SavedModel or TFLite file.

Examples:

```bash
# TF Serving: writes serving/models/sst2/<next version>/
theseus-tf export --format saved_model --model runs/sst2-student \
    --output-dir serving/models --model-name sst2 --task sst2

# TFLite, raw text in, dynamic-range quantized
theseus-tf export --format tflite --model runs/sst2-student \
    --output-dir dist --inputs text --quantize dynamic --task sst2

# TFLite int8, calibrated on 200 SST-2 training sentences
theseus-tf export --format tflite --model runs/sst2-student \
    --output-dir dist --quantize int8 --task sst2 --data-dir ../shared/data/glue
```
"""

import os
import pathlib
import re
import sys

from trainers import model_record
from trainers.atomic_io import make_readable
from trainers.commands import flags
from trainers.errors import UsageError, one_line

NAME = "export"
REQUIRED = ("model", "format", "output_dir")
FORMATS = ("saved_model", "tflite")


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME,
      "export a trained model for TF Serving (SavedModel) or TFLite",
      flags.paragraph(
          "Export a fine-tuned (compressed) classifier. saved_model writes "
          "<output-dir>/<model-name>/<version>/ for TF Serving, with a "
          "raw-text signature (tokenization in the graph) and a token-id "
          "signature. tflite writes one .tflite file, token ids or raw text "
          "in, optionally quantized."),
      epilog="examples:\n"
      "  theseus-tf export --format saved_model --model runs/x/best_model \\\n"
      "      --output-dir serving/models --model-name sst2 --task sst2\n"
      "  theseus-tf export --format tflite --model runs/x/best_model \\\n"
      "      --output-dir dist --quantize dynamic --task sst2")
  group = parser.add_argument_group("model")
  flags.add_model(
      group, "the trained model: a Hugging Face folder (config.json + "
      "model.safetensors, as save_pretrained writes) or a .keras file. "
      "Required.", metavar="PATH")
  flags.add_tokenizer(group)
  group.add_argument(
      "--strip", action="store_true",
      help="export the successor of a Theseus model (strip_successor) "
      "instead of refusing it.")
  group.add_argument(
      "--allow-untrained", action="store_true",
      help="export even if the classification head looks never trained.")
  group = parser.add_argument_group("inputs")
  flags.add_max_seq_length(group, default=None)
  flags.add_task(
      group, "GLUE task (e.g. sst2, mrpc): pair tasks get text_a/text_b "
      "inputs; int8 calibrates on its training data.")
  group.add_argument(
      "--text-pair", action="store_true",
      help="raw-text inputs are sentence pairs (text_a, text_b), without "
      "--task.")
  flags.add_data_dir(
      group, "local GLUE folder for int8 calibration (default: "
      "tensorflow-datasets).")
  group.add_argument(
      "--train-file", metavar="FILE",
      help="your training data (CSV, TSV or JSON Lines), instead of --task: "
      "int8 calibrates on its --text-columns; two columns make the raw-text "
      "inputs sentence pairs.")
  flags.add_text_column_flags(group)
  group = parser.add_argument_group("output")
  group.add_argument(
      "--format", choices=FORMATS,
      help="what to write: saved_model or tflite. Required.")
  flags.add_output_dir(
      group, "saved_model: the TF Serving base path; tflite: the folder of "
      "the .tflite file. Required.")
  group.add_argument(
      "--model-name", metavar="NAME",
      help="served model name / file stem (default: the model folder's "
      "name).")
  group.add_argument(
      "--version", type=flags.non_negative_int, metavar="N",
      help="saved_model version (default: the next free integer).")
  group.add_argument(
      "--jit-compile", action="store_true",
      help="saved_model: compile the encoder with XLA (lower latency at "
      "small batches on a CPU; compiled once per input shape). TF Serving "
      "then needs --xla_cpu_compilation_enabled=true.")
  group.add_argument(
      "--quantize", choices=flags.QUANTIZATIONS, default="none",
      help="tflite weight/activation quantization (default: none).")
  group.add_argument(
      "--inputs", choices=flags.INPUT_KINDS, default="ids",
      help="tflite inputs: token ids (builtin ops only) or raw text, which "
      "needs tensorflow-text custom ops (default: ids).")
  flags.add_num_calibration_examples(group, default=200)
  flags.add_output_file(
      group, "tflite file name in --output-dir (default: "
      "<model-name>.<inputs>.<quantize>.tflite).")
  group.add_argument(
      "--overwrite", action="store_true",
      help="tflite: replace an existing file.")
  return parser


def check(args):
  """Flag combinations that cannot work, before anything is loaded."""
  if args.format == "saved_model":
    for dest, default in (("quantize", "none"), ("inputs", "ids"),
                          ("output_file", None), ("overwrite", False)):
      if getattr(args, dest) != default:
        raise UsageError(
            f"{flags.flag_name(dest)} applies to --format tflite only.")
  else:
    for dest, default in (("version", None), ("jit_compile", False)):
      if getattr(args, dest) != default:
        raise UsageError(
            f"{flags.flag_name(dest)} applies to --format saved_model only.")
  if args.task and args.train_file:
    raise UsageError("--task and --train-file conflict: calibrate on a GLUE "
                     "task or on your own file, not both")
  for dest in ("file_format", "text_columns"):
    if getattr(args, dest) and not args.train_file:
      raise UsageError(f"{flags.flag_name(dest)} only applies to "
                       "--train-file: add it or drop the flag")
  if args.quantize == "int8" and not (args.task or args.train_file):
    raise UsageError(
        "--quantize int8 calibrates on training data: pass --task (and "
        "--data-dir for a local GLUE folder) or --train-file.")
  if args.max_seq_length is None:
    args.max_seq_length = model_record.trained_max_seq_length(
        args.model, default=flags.DEFAULT_MAX_SEQ_LENGTH)


def run(args, parser):  # pylint: disable=unused-argument
  """Exports; prints and returns the path written.

  Expected failures (missing files, an existing version, an unstripped or
  untrained model, bad calibration data) are `UsageError`s; nothing is left
  half-written.
  """
  from theseus_tf.data import GlueDataError  # pylint: disable=import-outside-toplevel
  try:
    path = _export(args)
  except (ValueError, FileExistsError, FileNotFoundError, NotADirectoryError,
          NotImplementedError, GlueDataError) as error:
    raise UsageError(one_line(error)) from None
  make_readable(path)
  print(path)
  return path


def _export(args):
  text_pair = _text_pair(args)
  model_name = args.model_name or _default_model_name(args.model)
  tokenizer = args.tokenizer or model_record.model_folder(args.model)
  # Cheap checks first: loading a large model only to fail is slow.
  from theseus_tf import export  # pylint: disable=import-outside-toplevel
  from theseus_tf.export import preprocessor_loader  # pylint: disable=import-outside-toplevel
  _check_model_path(args.model)
  needs_tokenizer = (args.format == "saved_model" or args.inputs == "text" or
                     args.quantize == "int8")
  if needs_tokenizer:
    family, _ = preprocessor_loader.tokenizer_family(tokenizer)
    if (args.format == "tflite" and args.inputs == "text" and
        family == preprocessor_loader.BYTE_PAIR):
      raise NotImplementedError(preprocessor_loader.BPE_TFLITE_ERROR)
  else:
    tokenizer = None  # A token-id TFLite model needs no tokenizer.
  output = pathlib.Path(args.output_dir) / (
      args.output_file or f"{model_name}.{args.inputs}.{args.quantize}.tflite")
  if args.format == "saved_model" and args.version is not None:
    existing = pathlib.Path(args.output_dir) / model_name / str(args.version)
    if existing.exists():
      raise FileExistsError(
          f"{existing} already exists. Versions are immutable once TF Serving "
          "may have loaded them: omit --version to write the next one.")
  if args.format == "tflite" and output.exists() and not args.overwrite:
    raise FileExistsError(f"{output} already exists: pass --overwrite.")

  # pylint: disable-next=import-outside-toplevel
  from trainers.model_io import check_max_seq_length, load_model_file
  check_max_seq_length(args.model, args.max_seq_length)
  model = load_model_file(args.model)
  check_max_seq_length(args.model, args.max_seq_length, model)
  if args.format == "saved_model":
    return export.export_saved_model(
        model, tokenizer, args.output_dir, model_name,
        version=args.version, max_seq_length=args.max_seq_length,
        strip=args.strip, text_pair=text_pair,
        allow_untrained=args.allow_untrained, jit_compile=args.jit_compile)

  representative_texts = None
  if args.quantize == "int8" and args.train_file:
    from theseus_tf.data.file_task import sample_texts  # pylint: disable=g-import-not-at-top
    representative_texts = sample_texts(
        args.train_file, args.num_calibration_examples,
        file_format=args.file_format, text_columns=args.text_columns)
  elif args.quantize == "int8":
    representative_texts = export.representative_texts_from_task(
        args.task, args.data_dir, num_examples=args.num_calibration_examples)
  path = export.export_tflite(
      model, output, quantize=args.quantize, inputs=args.inputs,
      tokenizer=tokenizer, max_seq_length=args.max_seq_length,
      text_pair=text_pair, representative_texts=representative_texts,
      strip=args.strip, allow_untrained=args.allow_untrained,
      overwrite=args.overwrite)
  print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB", file=sys.stderr)
  return path


def _text_pair(args):
  if args.train_file:
    # pylint: disable=g-import-not-at-top
    from theseus_tf.data.file_task import default_text_columns
    from theseus_tf.data.text_files import RowReader
    columns = args.text_columns or default_text_columns(
        RowReader(args.train_file, args.file_format))
    is_pair = len(columns) == 2
    if args.text_pair and not is_pair:
      raise UsageError("--text-pair contradicts the text column "
                       f"{columns[0]!r} of --train-file, a single column.")
    return is_pair
  if not args.task:
    return args.text_pair
  from theseus_tf.data import get_task  # pylint: disable=g-import-not-at-top
  is_pair = get_task(args.task).is_pair
  if args.text_pair and not is_pair:
    raise UsageError(
        f"--text-pair contradicts --task {args.task}, a single-sentence task.")
  return is_pair


def _default_model_name(model):
  stem = pathlib.Path(model).name
  stem = stem[:-len(".keras")] if stem.endswith(".keras") else stem
  name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")
  if not name:
    raise UsageError(
        f"Cannot derive a model name from {model!r}: pass --model-name.")
  return name


def _check_model_path(model):
  path = pathlib.Path(model)
  if path.suffix == ".keras":
    if not path.is_file():
      raise FileNotFoundError(f"No model file {path}.")
  elif not path.is_dir():
    raise FileNotFoundError(
        f"No model folder {path}: pass the folder save_pretrained wrote "
        "(config.json + model.safetensors) or a .keras file.")

