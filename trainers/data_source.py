"""Which data a command reads: a GLUE `--task`, or the user's own files.

`check_data_flags` runs with the other flag checks (pure Python, before
TensorFlow loads); `resolve_data_task` reads and checks the files (before any
model loads or output folder is written) and returns the task that the
GLUE code paths take: a `GlueTask`, or a `FileTask` for `--train-file` /
`--validation-file`.
"""

import json
import pathlib
import re
import zipfile

from trainers.commands.flags import (DEFAULT_LABEL_DELIMITER, flag_given,
                                     flag_name)
from trainers.errors import UsageError

FILE_FLAGS = ("train_file", "validation_file", "tfds_name")
# Flags that describe the files: meaningless with --task.
FILE_OPTIONS = ("file_format", "text_columns", "label_column", "labels",
                "problem_type", "label_delimiter", "metric_for_best",
                "force_labels", "token_cache_dir", "tfds_data_dir")
_DEFAULT_LABEL_NAME = re.compile(r"LABEL_\d+")


def check_data_flags(args, needs=("train_file", "validation_file")):
  """Checks that `args` names one data source, completely.

  Args:
    args: The parsed flags.
    needs: The file flags the command needs when it reads files.

  Raises:
    UsageError: Both --task and file flags; neither; a needed file flag
      missing; file options without files.
  """
  files = [dest for dest in FILE_FLAGS if flag_given(args, dest)]
  if flag_given(args, "task") and files:
    raise UsageError(
        f"--task and {flag_name(files[0])} conflict: use --task (with "
        "--data-dir) for a GLUE task, or --train-file/--validation-file for "
        "your own data, not both")
  if not flag_given(args, "task") and not files:
    wanted = " and ".join(flag_name(dest) for dest in needs)
    raise UsageError(f"--task is required (a GLUE task), or {wanted} for "
                     "your own data")
  if "tfds_name" in files and len(files) > 1:
    raise UsageError(
        f"--tfds-name and {flag_name(files[0])} conflict: use a "
        "tensorflow-datasets set or your own files, not both")
  if flag_given(args, "tfds_data_dir") and "tfds_name" not in files:
    raise UsageError("--tfds-data-dir only applies to --tfds-name: add it "
                     "or drop the flag")
  if files == ["tfds_name"]:
    if flag_given(args, "data_dir"):
      raise UsageError("--data-dir only applies to --task: drop it (use "
                       "--tfds-data-dir for the TFDS folder)")
  elif files:
    if flag_given(args, "data_dir"):
      raise UsageError("--data-dir only applies to --task: drop it (the "
                       "files are given by --train-file/--validation-file)")
    for dest in needs:
      if not flag_given(args, dest):
        raise UsageError(f"{flag_name(dest)} is required with your own data "
                         f"(you gave {flag_name(files[0])})")
  else:
    for dest in FILE_OPTIONS:
      if flag_given(args, dest):
        raise UsageError(
            f"{flag_name(dest)} only applies to --train-file/"
            "--validation-file: drop it, or use your own data files")


def _keras_file_config(path):
  """The model config inside a `.keras` archive, read without loading it.

  A `.keras` file is a zip whose `config.json` holds the serialized model;
  a `BertClassifier`'s config has `id2label` and `problem_type`.
  """
  try:
    with zipfile.ZipFile(path) as archive:
      serialized = json.loads(archive.read("config.json").decode("utf-8"))
  except (OSError, KeyError, ValueError, zipfile.BadZipFile):
    return None
  return serialized.get("config") if isinstance(serialized, dict) else None


def model_labels(model):
  """`(id2label names, problem_type)` that the model records, or
  `(None, None)`.

  A Hugging Face folder records them in its config.json; a `.keras` file in
  its own model config (never the config.json beside it, which may be
  another model's).

  Default names (`LABEL_0`, ...) count as none: such a model (a GLUE run, a
  pretrained checkpoint) says nothing about the names of its labels.
  """
  if model is None:
    return None, None
  path = pathlib.Path(str(model)).expanduser()
  if path.suffix == ".keras":
    config = _keras_file_config(path)
  else:
    try:
      config = json.loads((path / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
      return None, None
  if not isinstance(config, dict):
    return None, None
  id2label = config.get("id2label") or {}
  try:
    names = [str(id2label[key]) for key in
             sorted(id2label, key=lambda key: int(key))]
  except (TypeError, ValueError):
    names = []
  if not names or all(_DEFAULT_LABEL_NAME.fullmatch(n) for n in names):
    names = None
  problem_type = config.get("problem_type")
  return names, problem_type if isinstance(problem_type, str) else None


def resolve_data_task(args, model=None):
  """The task of `args`: the GLUE task, or the files' `FileTask`.

  Reads every given file completely and checks it (columns, texts, labels,
  encoding, JSON, ragged rows); nothing else is loaded yet.

  Args:
    args: The checked flags.
    model: A trained model (folder) whose config.json gives the label names
      and problem type when the flags do not (compress, evaluate, predict,
      export); None for fine-tuning, whose labels come from the data.

  Raises:
    UsageError: Unknown task, or any bad file, as one line.
  """
  # pylint: disable=import-outside-toplevel
  from theseus_tf.data import GlueDataError, make_file_task
  from trainers.inputs import resolve_task
  if flag_given(args, "task"):
    return resolve_task(args.task)
  names, problem_type = model_labels(model)
  recorded_in = ("its id2label" if str(model).endswith(".keras") else
                 "its config.json id2label")
  given = getattr(args, "labels", None)
  if names and given and list(given) != names:
    # The head's rows are in the model's order: renaming them would
    # silently swap labels.
    raise UsageError(
        f"--labels {','.join(given)} differ from the labels of --model "
        f"{model} ({','.join(names)}, {recorded_in}): drop "
        "--labels")
  problem_type = getattr(args, "problem_type", None) or problem_type
  if (flag_given(args, "label_delimiter") and
      problem_type != "multi_label_classification"):
    raise UsageError(
        "--label-delimiter only applies to --problem-type "
        "multi_label_classification (this data is "
        f"{problem_type or 'single_label_classification'}): drop it, or "
        "pass --problem-type multi_label_classification")
  options = dict(
      text_columns=getattr(args, "text_columns", None),
      label_column=getattr(args, "label_column", None),
      labels=getattr(args, "labels", None),
      problem_type=problem_type,
      label_delimiter=(getattr(args, "label_delimiter", None) or
                       DEFAULT_LABEL_DELIMITER),
      metric_for_best=getattr(args, "metric_for_best", None),
      force_labels=getattr(args, "force_labels", False),
      known_labels=None if problem_type == "regression" else names,
      known_labels_source=f"the model {model} ({recorded_in})")
  try:
    if flag_given(args, "tfds_name"):
      # pylint: disable=import-outside-toplevel
      from theseus_tf.data.tfds_source import tfds_file_task
      from theseus_tf.data.token_cache import default_cache_dir
      return tfds_file_task(
          args.tfds_name, data_dir=getattr(args, "tfds_data_dir", None),
          cache_dir=getattr(args, "token_cache_dir", None) or
          default_cache_dir(), **options)
    return make_file_task(
        getattr(args, "train_file", None),
        getattr(args, "validation_file", None),
        file_format=getattr(args, "file_format", None), **options)
  except GlueDataError as error:
    raise UsageError(str(error)) from None


def apply_task_labels(model, task):
  """Gives `model` the problem type and label names of a `FileTask`.

  They are what `save_pretrained` writes into config.json (`problem_type`,
  `id2label`, `label2id`); they do not change the model's outputs. GLUE
  tasks leave the model as it is.
  """
  if not hasattr(task, "read_split"):
    return model
  model.problem_type = task.problem_type
  model.id2label = task.id2label
  return model
