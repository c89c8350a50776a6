"""The files of a Hugging Face tokenizer folder that every family reads alike.

Each in-graph preprocessor reads its own vocabulary files; the folder check,
`tokenizer_config.json` and its special tokens are the same for all.
"""

import json
import os
import pathlib

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"


def tokenizer_folder(path, vocabulary_files):
  """`path` as a `pathlib.Path`, checked to be a folder.

  Args:
    path: the tokenizer (or model) folder.
    vocabulary_files: str, the family's files besides `tokenizer.json`, as
      the error message names them (e.g. "vocab.txt").

  Raises:
    FileNotFoundError: `path` is not a folder.
  """
  folder = pathlib.Path(os.fspath(path))
  if not folder.is_dir():
    raise FileNotFoundError(
        f"No tokenizer folder {folder}: pass the folder holding "
        f"{TOKENIZER_JSON} or {vocabulary_files} (usually the model folder).")
  return folder


def read_tokenizer_config(folder):
  """The folder's `tokenizer_config.json` as a dict, `{}` without one."""
  path = folder / TOKENIZER_CONFIG
  if not path.is_file():
    return {}
  return json.loads(path.read_text(encoding="utf-8"))


def config_token(config, key, default):
  """A special token of `tokenizer_config.json`: a string or an AddedToken."""
  value = config.get(key, default)
  if isinstance(value, dict):  # Serialized AddedToken.
    value = value.get("content", default)
  return value
