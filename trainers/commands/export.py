"""`theseus-tf export`: a trained model as a TF Serving SavedModel or TFLite file.

Examples:

```bash
# TF Serving: writes serving/models/sst2/<next version>/
theseus-tf export --format saved_model --model-dir runs/sst2-student \
    --output-dir serving/models --model-name sst2 --task sst2

# TFLite, raw text in, dynamic-range quantized
theseus-tf export --format tflite --model-dir runs/sst2-student \
    --output-dir dist --inputs text --quantize dynamic --task sst2

# TFLite int8, calibrated on 200 SST-2 training sentences
theseus-tf export --format tflite --model-dir runs/sst2-student \
    --output-dir dist --quantize int8 --task sst2 --data-dir ../shared/data/glue
```
"""

import argparse
import os
import pathlib
import re
import sys

FORMATS = ("saved_model", "tflite")
# Mirrors theseus_tf.export.tflite_export (not imported here, so that
# `theseus-tf --help` does not load TensorFlow).
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
INPUT_KINDS = ("ids", "text")


def add_export_parser(subparsers):
  """Registers the `export` subcommand on an argparse `subparsers` object.

  Args:
    subparsers: the result of `parser.add_subparsers()`.

  Returns:
    The `export` parser; its `func` default is `run_export`, which returns
    the process exit code.
  """
  parser = subparsers.add_parser(
      "export",
      help="export a trained model for TF Serving (SavedModel) or TFLite",
      description=(
          "Export a fine-tuned (compressed) classifier. saved_model writes "
          "<output-dir>/<model-name>/<version>/ for TF Serving, with a "
          "raw-text signature (tokenization in the graph) and a token-id "
          "signature. tflite writes one .tflite file, token ids or raw text "
          "in, optionally quantized."),
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument(
      "--model-dir", required=True,
      help="the trained model: a Hugging Face folder (config.json + "
      "model.safetensors, as save_pretrained writes) or a .keras file")
  parser.add_argument("--format", required=True, choices=FORMATS,
                      help="what to write")
  parser.add_argument(
      "--output-dir", required=True,
      help="saved_model: the TF Serving base path; tflite: the folder of the "
      ".tflite file")
  parser.add_argument(
      "--model-name", default=None,
      help="served model name / file stem (default: the model folder's name)")
  parser.add_argument(
      "--version", type=int, default=None,
      help="saved_model version (default: the next free integer)")
  parser.add_argument(
      "--tokenizer-dir", default=None,
      help="folder with vocab.txt or tokenizer.json (default: --model-dir)")
  parser.add_argument("--max-seq-length", type=int, default=128,
                      help="tokens per example, special tokens included")
  parser.add_argument(
      "--task", default=None,
      help="GLUE task (e.g. sst2, mrpc): pair tasks get text_a/text_b "
      "inputs; int8 calibrates on its training data")
  parser.add_argument(
      "--text-pair", action="store_true",
      help="raw-text inputs are sentence pairs (text_a, text_b) without --task")
  parser.add_argument(
      "--data-dir", default=None,
      help="local GLUE folder for int8 calibration (default: "
      "tensorflow-datasets)")
  parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                      help="tflite weight/activation quantization")
  parser.add_argument(
      "--inputs", choices=INPUT_KINDS, default="ids",
      help="tflite inputs: token ids (builtin ops only) or raw text "
      "(tensorflow-text custom ops)")
  parser.add_argument("--num-calibration-examples", type=int, default=200,
                      help="int8 calibration examples drawn from --task")
  parser.add_argument("--output-file", default=None,
                      help="tflite file name (default: "
                      "<model-name>.<inputs>.<quantize>.tflite)")
  parser.add_argument(
      "--strip", action="store_true",
      help="export the successor of a Theseus model (strip_successor) "
      "instead of refusing it")
  parser.add_argument(
      "--allow-untrained", action="store_true",
      help="export even if the classification head looks never trained")
  parser.add_argument("--overwrite", action="store_true",
                      help="tflite: replace an existing file")
  parser.set_defaults(func=run_export)
  return parser


class ExportUsageError(ValueError):
  """A flag combination that cannot work; reported without a traceback."""


def run_export(args):
  """Runs `theseus-tf export` for parsed `args`; returns the exit code.

  Expected failures (bad flags, missing files, an existing version, an
  unstripped or untrained model) print one line `theseus-tf export: error:
  ...` and return 2; nothing is left half-written.
  """
  from theseus_tf.data import GlueDataError  # pylint: disable=g-import-not-at-top
  try:
    path = _export(args)
  except (ExportUsageError, ValueError, FileExistsError, FileNotFoundError,
          NotADirectoryError, NotImplementedError, GlueDataError) as error:
    print(f"theseus-tf export: error: {error}", file=sys.stderr)
    return 2
  print(path)
  return 0


def _export(args):
  text_pair = _text_pair(args)
  model_name = args.model_name or _default_model_name(args.model_dir)
  tokenizer_dir = args.tokenizer_dir or _tokenizer_dir(args.model_dir)
  if args.format == "saved_model":
    for flag, default in (("quantize", "none"), ("inputs", "ids"),
                          ("output_file", None), ("overwrite", False)):
      if getattr(args, flag) != default:
        raise ExportUsageError(
            f"--{flag.replace('_', '-')} applies to --format tflite only.")
  elif args.version is not None:
    raise ExportUsageError("--version applies to --format saved_model only.")
  if args.quantize == "int8" and not args.task:
    raise ExportUsageError(
        "--quantize int8 calibrates on training data: pass --task (and "
        "--data-dir for a local GLUE folder).")

  # Cheap checks first: loading a large model only to fail is slow.
  from theseus_tf import export  # pylint: disable=g-import-not-at-top
  from theseus_tf.export.text_preprocessor import read_tokenizer_options  # pylint: disable=g-import-not-at-top
  _check_model_path(args.model_dir)
  read_tokenizer_options(tokenizer_dir)
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

  model = _load_model(args.model_dir)
  if args.format == "saved_model":
    return export.export_saved_model(
        model, tokenizer_dir, args.output_dir, model_name,
        version=args.version, max_seq_length=args.max_seq_length,
        strip=args.strip, text_pair=text_pair,
        allow_untrained=args.allow_untrained)

  representative_texts = None
  if args.quantize == "int8":
    representative_texts = export.representative_texts_from_task(
        args.task, args.data_dir, num_examples=args.num_calibration_examples)
  path = export.export_tflite(
      model, output, quantize=args.quantize, inputs=args.inputs,
      tokenizer=tokenizer_dir, max_seq_length=args.max_seq_length,
      text_pair=text_pair, representative_texts=representative_texts,
      strip=args.strip, allow_untrained=args.allow_untrained,
      overwrite=args.overwrite)
  print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MiB", file=sys.stderr)
  return path


def _text_pair(args):
  if not args.task:
    return args.text_pair
  from theseus_tf.data import get_task  # pylint: disable=g-import-not-at-top
  is_pair = get_task(args.task).is_pair
  if args.text_pair and not is_pair:
    raise ExportUsageError(
        f"--text-pair contradicts --task {args.task}, a single-sentence task.")
  return is_pair


def _default_model_name(model_dir):
  stem = pathlib.Path(model_dir).name
  stem = stem[:-len(".keras")] if stem.endswith(".keras") else stem
  name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")
  if not name:
    raise ExportUsageError(
        f"Cannot derive a model name from {model_dir!r}: pass --model-name.")
  return name


def _tokenizer_dir(model_dir):
  path = pathlib.Path(model_dir)
  return path.parent if path.suffix == ".keras" else path


def _check_model_path(model_dir):
  path = pathlib.Path(model_dir)
  if path.suffix == ".keras":
    if not path.is_file():
      raise FileNotFoundError(f"No model file {path}.")
  elif not path.is_dir():
    raise FileNotFoundError(
        f"No model folder {path}: pass the folder save_pretrained wrote "
        "(config.json + model.safetensors) or a .keras file.")


def _load_model(model_dir):
  path = pathlib.Path(model_dir)
  if path.suffix == ".keras":
    import theseus_tf.models  # pylint: disable=g-import-not-at-top,unused-import  (registers the layers)
    from theseus_tf.backend import keras  # pylint: disable=g-import-not-at-top
    return keras.models.load_model(os.fspath(path), compile=False)
  from theseus_tf.models import from_pretrained  # pylint: disable=g-import-not-at-top
  return from_pretrained(os.fspath(path))


def main(argv=None):
  """Runs the subcommand on its own (the `theseus-tf` CLI wires it in)."""
  parser = argparse.ArgumentParser(prog="theseus-tf")
  add_export_parser(parser.add_subparsers(dest="command", required=True))
  args = parser.parse_args(argv)
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
