"""The `config.json` of Hugging Face checkpoints: reading and writing."""

import json
import pathlib

from theseus_tf.utils.transformers.safetensor_utils import WEIGHTS_NAME

CONFIG_NAME = "config.json"


def read_hf_config(folder):
  """The `config.json` of a checkpoint folder, as a dict.

  Raises:
    FileNotFoundError: the folder has no `config.json`.
    ValueError: it is not valid JSON.
  """
  config_path = pathlib.Path(folder) / CONFIG_NAME
  if not config_path.is_file():
    raise FileNotFoundError(
        f"No {CONFIG_NAME} in {folder}: from_pretrained expects a Hugging Face "
        f"model folder ({CONFIG_NAME} + {WEIGHTS_NAME}), as written by "
        "transformers' save_pretrained.")
  try:
    return json.loads(config_path.read_text(encoding="utf-8"))
  except ValueError as error:
    raise ValueError(f"{config_path} is not valid JSON: {error}") from error


def write_hf_config(config, folder):
  """Writes `config` as `folder/config.json` (indented, keys sorted)."""
  path = pathlib.Path(folder) / CONFIG_NAME
  path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                  encoding="utf-8")
  return path
