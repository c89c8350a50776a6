"""What a saved model folder records about its training, for later commands.

`finetune` and `compress` write `training_settings.json` into best_model/ and
final_model/ (beside the Hugging Face files, which it leaves alone);
`compress`, `evaluate`, `export` and `benchmark` read the sequence length
from it, so that a model is used at the length it was trained at.

A SavedModel version of `theseus-tf export` records its labels, inputs and
tokenizer in `assets.extra/theseus_tf_export.json`, which `predict` reads.
Pure Python: the commands' flag checks use it before TensorFlow loads.
"""

import pathlib

from trainers.atomic_io import atomic_write_json, read_json
from trainers.errors import UsageError

RECORD_FILE = "training_settings.json"
# Mirrors of theseus_tf.export constants (tests/trainers/test_model_record.py
# checks that they match): importing it would load TensorFlow.
EXPORT_METADATA_FILE = ("assets.extra", "theseus_tf_export.json")
# The inputs of a raw-text `serving_default`: one text, or a pair.
TEXT_SIGNATURE_INPUTS = (["text"], ["text_a", "text_b"])


def write_record(folder, **settings):
  """Writes `settings` (JSON values) into the model folder `folder`."""
  return atomic_write_json(pathlib.Path(folder) / RECORD_FILE, settings)


def recorded(model, key):
  """`key` as recorded with `model` (a folder, or a .keras file's folder).

  Returns:
    The value, or None for a hub id, a folder without a record or a record
    without `key`.
  """
  if model is None:
    return None
  folder = pathlib.Path(model_folder(model)).expanduser()
  record = read_json(folder / RECORD_FILE) if folder.is_dir() else None
  return record.get(key) if isinstance(record, dict) else None


def model_folder(model):
  """The folder of `model`: itself, or for a .keras file the one it is in."""
  path = pathlib.Path(model)
  return path.parent if path.suffix == ".keras" else model


def trained_max_seq_length(*models, default):
  """The sequence length the first of `models` that records one trained at."""
  for model in models:
    length = recorded(model, "max_seq_length")
    if isinstance(length, int) and length > 0:
      return length
  return default


def is_saved_model(path):
  """Whether `path` is a SavedModel folder (it holds saved_model.pb)."""
  return (pathlib.Path(path) / "saved_model.pb").is_file()


def text_saved_model_metadata(folder, flag="--model"):
  """The export metadata of a raw-text SavedModel of `theseus-tf export`.

  Args:
    folder: A SavedModel version folder.
    flag: The flag that named it, for messages.

  Returns:
    The metadata dict (`labels`, `problem_type`, `text_pair`, ...).

  Raises:
    UsageError: No (readable) metadata, i.e. not written by theseus_tf; or
      an ids-only export, whose `serving_default` takes token ids.
  """
  path = pathlib.Path(folder).joinpath(*EXPORT_METADATA_FILE)
  fix = ("predict needs a raw-text SavedModel of 'theseus-tf export --format "
         "saved_model', or pass the Hugging Face model folder (best_model/) "
         "instead")
  try:
    metadata = read_json(path)
  except (OSError, ValueError):
    metadata = None
  if not isinstance(metadata, dict):
    raise UsageError(
        f"{flag} {folder} is a SavedModel without theseus_tf's metadata "
        f"({'/'.join(EXPORT_METADATA_FILE)}, with its labels and inputs): "
        f"{fix}")
  signatures = metadata.get("signatures")
  inputs = (signatures.get("serving_default")
            if isinstance(signatures, dict) else None)
  if inputs not in TEXT_SIGNATURE_INPUTS:
    raise UsageError(
        f"{flag} {folder} is a token-id SavedModel (exported without a "
        f"tokenizer: its serving_default takes {inputs}, not text): {fix}")
  return metadata
