"""Resolving a checkpoint to a local folder: local paths and Hub ids.

A Hub id is downloaded with `huggingface_hub.snapshot_download` (safetensors,
config and tokenizer files only), or taken from the local Hub cache when Hub
access is off (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE). A pickle file passed
directly is refused with the way to convert it.
"""

import os
import pathlib

import huggingface_hub
import huggingface_hub.constants
from huggingface_hub.utils import validate_repo_id

from theseus_tf.utils.transformers.hf_config import CONFIG_NAME
from theseus_tf.utils.transformers.safetensor_utils import PICKLE_SUFFIXES
from theseus_tf.utils.transformers.safetensor_utils import WEIGHTS_INDEX_NAME
from theseus_tf.utils.transformers.safetensor_utils import WEIGHTS_NAME
from theseus_tf.utils.transformers.safetensor_utils import pickle_refusal

# Every file a Hugging Face tokenizer may be saved as.
TOKENIZER_FILE_NAMES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                        "vocab.json", "merges.txt", "sentencepiece.bpe.model",
                        "special_tokens_map.json", "added_tokens.json")

# What a model download fetches: the config, the safetensors weights (single
# or sharded) and the tokenizer files.
HUB_ALLOW_PATTERNS = [CONFIG_NAME, "model*.safetensors", WEIGHTS_INDEX_NAME,
                      *TOKENIZER_FILE_NAMES]

_TRUE_VALUES = ("1", "ON", "YES", "TRUE")


def hub_offline():
  """Whether Hub access is off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
  for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    if os.environ.get(variable, "").strip().upper() in _TRUE_VALUES:
      return True
  return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def is_hub_id(name):
  """Whether `name` reads as a Hub id ("model" or "org/model"), not a path."""
  if name.startswith((".", "/", "~")) or os.sep in name.replace("/", "", 1):
    return False
  try:
    validate_repo_id(name)
  except ValueError:  # huggingface_hub's HFValidationError.
    return False
  return True


def resolve_model_dir(path_or_hub_id, revision=None, cache_dir=None,
                      allow_patterns=None):
  """Returns the local folder of a checkpoint, downloading Hub ids if online.

  Args:
    path_or_hub_id: a local folder, or a Hugging Face Hub model id such as
      "sentence-transformers/all-MiniLM-L6-v2".
    revision: optional Hub revision (branch, tag or commit).
    cache_dir: optional Hub cache folder.
    allow_patterns: the files to download; `HUB_ALLOW_PATTERNS` by default.

  Returns:
    A `pathlib.Path` to an existing folder.

  Raises:
    FileNotFoundError: `path_or_hub_id` is neither a folder nor a Hub id.
    NotADirectoryError: it is a file, not a folder.
    ValueError: it is a pickle checkpoint file.
    OSError: the Hub id could not be downloaded (offline, network error,
      unknown id) and is not in the local cache.

  Example:

  ```python
  folder = resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2")
  ```
  """
  path = pathlib.Path(os.path.expanduser(os.fspath(path_or_hub_id)))
  if path.is_dir():
    return path
  if path.exists():
    if path.name.endswith(PICKLE_SUFFIXES):
      raise ValueError(pickle_refusal(path.parent, [path.name]))
    raise NotADirectoryError(
        f"{path} is a file: pass the folder that holds it (a Hugging Face "
        f"model folder with {CONFIG_NAME} and {WEIGHTS_NAME}).")
  name = os.fspath(path_or_hub_id)
  if not is_hub_id(name):
    raise FileNotFoundError(
        f"No folder {path}: pass an existing local model folder (with "
        f"{CONFIG_NAME} and {WEIGHTS_NAME}) or a Hugging Face Hub id such as "
        "'org/model-name'.")

  offline = hub_offline()
  try:
    folder = huggingface_hub.snapshot_download(
        name,
        revision=revision,
        cache_dir=cache_dir,
        allow_patterns=allow_patterns or HUB_ALLOW_PATTERNS,
        local_files_only=offline)
  except Exception as error:  # pylint: disable=broad-except
    how_to_fix = (
        f"Download it where the Hub is reachable (for example `hf download "
        f"{name} --local-dir ./{name.split('/')[-1]}`), copy the folder here "
        "and pass its local path instead of the Hub id.")
    if offline:
      raise OSError(
          f"'{name}' is not a local folder, and it is not in the Hugging Face "
          "cache while Hub access is off (HF_HUB_OFFLINE / "
          f"TRANSFORMERS_OFFLINE). {how_to_fix}") from error
    raise OSError(
        f"'{name}' is not a local folder and could not be downloaded from the "
        f"Hugging Face Hub ({type(error).__name__}: {error}). If this machine "
        f"is offline or the id is wrong: {how_to_fix}") from error
  return pathlib.Path(folder)
