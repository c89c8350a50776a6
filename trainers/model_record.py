"""What a saved model folder records about its training, for later commands.

`finetune` and `compress` write `training_settings.json` into best_model/ and
final_model/ (beside the Hugging Face files, which it leaves alone);
`compress`, `evaluate`, `export` and `benchmark` read the sequence length
from it, so that a model is used at the length it was trained at.
"""

import pathlib

from trainers.atomic_io import atomic_write_json, read_json

RECORD_FILE = "training_settings.json"


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
