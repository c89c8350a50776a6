"""Loads the models and tokenizers named by flags, checked against the task."""

import json
import os
import pathlib

from theseus_tf.backend import keras
from theseus_tf.utils.transformers import (build_classifier, from_pretrained,
                                          load_tokenizer, resolve_model_dir)
from theseus_tf.utils.transformers.hf_config import read_hf_config
from theseus_tf.utils.transformers.preset_loader import (get_converter,
                                                        max_tokens_of_config)
from theseus_tf.utils.transformers.safetensor_utils import (WEIGHTS_INDEX_NAME,
                                                            WEIGHTS_NAME)
from trainers.errors import UsageError

# What from_pretrained / load_tokenizer raise for a bad checkpoint.
_LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError)


def _resolve(flag, path):
  try:
    return resolve_model_dir(path)
  except _LOAD_ERRORS as error:
    raise UsageError(f"{flag} {path}: {error}") from None


def head_labels(folder):
  """Outputs of the classifier head of a Hugging Face checkpoint folder.

  Reads only `config.json` (the `model_type` names the head's output
  tensor, e.g. `classifier.weight` for BERT, `classifier.out_proj.weight`
  for RoBERTa) and the safetensors headers.

  Returns:
    The number of labels, or None if the checkpoint has no classifier head
    (or no readable config or weights, which `from_pretrained` then
    reports).
  """
  from safetensors import safe_open  # pylint: disable=import-outside-toplevel
  folder = pathlib.Path(folder)
  try:
    head_output = get_converter(read_hf_config(folder)).HEAD_NAMES[0]
  except (OSError, ValueError):
    return None
  weights = folder / WEIGHTS_NAME
  if not weights.is_file():
    try:
      index = json.loads((folder / WEIGHTS_INDEX_NAME).read_text("utf-8"))
      weights = folder / index["weight_map"][head_output]
    except (OSError, ValueError, KeyError, TypeError):
      return None
  try:
    with safe_open(os.fspath(weights), framework="np") as f:
      if head_output in f.keys():
        return int(f.get_slice(head_output).get_shape()[0])
  except Exception:  # pylint: disable=broad-except
    return None
  return None


def check_max_seq_length(path, max_seq_length, model=None, flag="--model"):
  """Refuses a `--max-seq-length` beyond the model's position embeddings.

  Before loading (`model` None), the limit comes from the config.json of
  the folder `path` (cheap); a .keras file or a hub id is checked once
  loaded (`model` given). RoBERTa's usable length is its position table
  less its padding offset (514 rows: 512 tokens).

  Args:
    path: The model as the flag names it.
    max_seq_length: Tokens per example.
    model: The loaded model, or None to read `path`'s config.json.
    flag: The flag that named the model, for messages.

  Raises:
    UsageError: `max_seq_length` exceeds the limit.
  """
  # pylint: disable=import-outside-toplevel
  from theseus_tf.export.signatures import max_tokens
  if model is not None:
    limit = max_tokens(model)
  else:
    folder = pathlib.Path(os.fspath(path)).expanduser()
    if not (folder / "config.json").is_file():
      return
    try:
      limit = max_tokens_of_config(read_hf_config(folder))
    except (OSError, ValueError, KeyError, TypeError):
      return  # Loading the model reports a bad config.
  if limit is not None and max_seq_length > limit:
    raise UsageError(
        f"--max-seq-length {max_seq_length} exceeds what {flag} {path} can "
        f"take: {limit} tokens (its position embeddings); pass "
        f"--max-seq-length {limit} or less")


def _finetune_hint(path, task):
  return (f"fine-tune it on {task.name} first: theseus-tf finetune --model "
          f"{path} --task {task.name} --output-dir <dir>, then pass "
          "<dir>/best_model")


def load_task_classifier(flag, path, task, dtype=None, allow_new_head=False,
                         reinit_head=False):
  """Loads a Hugging Face checkpoint (any supported `model_type`) as a classifier for `task`.

  Args:
    flag: The flag that named the checkpoint, for messages.
    path: Folder or hub id.
    task: The `GlueTask`; the head must have `task.num_labels` outputs.
    dtype: Dtype policy name (mixed precision) or None.
    allow_new_head: A checkpoint without a head gets a new one (fine-tuning
      a pretrained model); otherwise that is an error.
    reinit_head: A head of the wrong size is replaced by a new one.

  Returns:
    A `BertClassifier`.

  Raises:
    UsageError: Not found, not a supported checkpoint, or not a classifier
      for the task's label count.
  """
  folder = _resolve(flag, path)
  labels = head_labels(folder)
  wanted = task.num_labels
  kind = "regressor (1 output)" if wanted == 1 else f"{wanted}-label classifier"
  try:
    if labels is None and not allow_new_head:
      raise UsageError(
          f"{flag} {path} is not a classifier (no classifier head), but "
          f"{task.name} needs a {kind}: {_finetune_hint(path, task)}")
    if labels is not None and labels != wanted:
      if not reinit_head:
        fix = ("pass --reinit-head to replace its head by a new one" if
               allow_new_head else _finetune_hint(path, task))
        raise UsageError(
            f"{flag} {path} is a classifier with {labels} output(s), but "
            f"{task.name} needs a {kind}: {fix}")
      backbone = from_pretrained(folder, task="backbone", dtype=dtype)
      return build_classifier(backbone, num_classes=wanted,
                              name="bert_classifier")
    return from_pretrained(folder, num_labels=wanted, dtype=dtype)
  except _LOAD_ERRORS as error:
    raise UsageError(f"{flag} {path}: {error}") from None


def load_model_file(path):
  """Loads `--model`: a Hugging Face folder or a `.keras` file, as saved.

  Raises:
    UsageError: Missing or unreadable.
  """
  if str(path).endswith(".keras"):
    if not pathlib.Path(path).is_file():
      raise UsageError(f"--model {path}: no such .keras file")
    import theseus_tf.models  # pylint: disable=g-import-not-at-top,unused-import  (registers the layers)
    try:
      return keras.models.load_model(os.fspath(path), compile=False)
    except Exception as error:  # pylint: disable=broad-except
      raise UsageError(f"--model {path} could not be loaded: {error}") from None
  try:
    return from_pretrained(os.fspath(path))
  except _LOAD_ERRORS as error:
    raise UsageError(f"--model {path}: {error}") from None


def load_saved_classifier(path, task):
  """Loads a Hugging Face folder or a `.keras` file for evaluation.

  Raises:
    UsageError: Missing, unreadable, or not a classifier for the task.
  """
  if str(path).endswith(".keras"):
    model = load_model_file(path)
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    if outputs != task.num_labels:
      raise UsageError(
          f"--model {path} has {outputs} output(s), but {task.name} needs "
          f"{task.num_labels}: evaluate it on a task with that many labels")
    return model
  return load_task_classifier("--model", path, task)


def load_task_tokenizer(flag, path):
  """The Hugging Face tokenizer in `path` (folder or hub id)."""
  try:
    return load_tokenizer(path)
  except _LOAD_ERRORS as error:
    raise UsageError(f"{flag} {path}: {error}") from None
