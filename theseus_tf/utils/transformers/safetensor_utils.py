"""Safetensors weights of Hugging Face checkpoints: finding, reading, writing.

Only safetensors are read (single file or shards listed in an index), with
the safetensors numpy API: no PyTorch. Pickle checkpoints (`pytorch_model.bin`,
`.pt`, `.ckpt`, ...) are refused, never unpickled.
"""

import fnmatch
import json
import os
import pathlib
import struct

import numpy as np
import safetensors
import safetensors.numpy

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
# Files of a sharded checkpoint; stale ones go when a folder is rewritten.
SHARDED_WEIGHTS_PATTERNS = (WEIGHTS_INDEX_NAME, "model-*-of-*.safetensors")

# Checkpoint formats that are Python pickles (or otherwise not safetensors).
UNSUPPORTED_WEIGHT_PATTERNS = ("*.bin", "*.bin.index.json", "*.pt", "*.pth",
                               "*.ckpt", "*.ckpt.*", "*.pkl", "*.h5",
                               "*.msgpack")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def pickle_refusal(folder, names):
  """The message refusing the pickle checkpoint files `names` in `folder`."""
  return (
      f"{folder} holds {', '.join(sorted(names))} but no {WEIGHTS_NAME}: "
      "theseus_tf only reads safetensors and never unpickles PyTorch "
      "checkpoints (loading a pickle can run arbitrary code). Convert it once, "
      "where PyTorch is installed and you trust the file, e.g.\n"
      "  python -c \"from transformers import AutoModel; "
      f"AutoModel.from_pretrained('{folder}').save_pretrained('{folder}-safetensors')\"\n"
      "(use AutoModelForSequenceClassification to keep a classifier head; "
      f"transformers writes {WEIGHTS_NAME}), then pass the new folder.")


def weight_files(folder):
  """The safetensors files of a checkpoint folder, single or sharded.

  Raises:
    ValueError: the folder holds pickle (or other non-safetensors) weights
      only, or an unreadable index.
    FileNotFoundError: no weights, or shards missing.
  """
  folder = pathlib.Path(folder)
  single = folder / WEIGHTS_NAME
  if single.is_file():
    return [single]
  index_path = folder / WEIGHTS_INDEX_NAME
  if index_path.is_file():
    try:
      weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (ValueError, KeyError) as error:
      raise ValueError(
          f"{index_path} is not a safetensors index (a JSON object with a "
          f"'weight_map'): {error}") from error
    shards = [folder / shard for shard in sorted(set(weight_map.values()))]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
      raise FileNotFoundError(
          f"{index_path} lists shard(s) {missing} that are not in {folder}: "
          "download the complete checkpoint.")
    return shards
  present = [
      p.name for p in folder.iterdir() if any(
          fnmatch.fnmatch(p.name, pattern)
          for pattern in UNSUPPORTED_WEIGHT_PATTERNS)
  ]
  if any(name.endswith(PICKLE_SUFFIXES + (".bin.index.json",))
         for name in present):
    raise ValueError(pickle_refusal(folder, present))
  if present:
    raise ValueError(
        f"{folder} holds {present} but no {WEIGHTS_NAME}: only safetensors "
        "checkpoints are supported. Re-save the model with transformers' "
        "save_pretrained (it writes safetensors).")
  raise FileNotFoundError(
      f"No {WEIGHTS_NAME} (nor a sharded {WEIGHTS_INDEX_NAME}) in {folder}: "
      "the folder needs the model weights in safetensors format.")


def _read_bf16(path, name):
  # numpy has no bfloat16, so the safetensors numpy API cannot return these:
  # read the raw bits and widen them (bfloat16 is the top half of a float32).
  with open(path, "rb") as f:
    header_size = struct.unpack("<Q", f.read(8))[0]
    entry = json.loads(f.read(header_size))[name]
    begin, end = entry["data_offsets"]
    f.seek(8 + header_size + begin)
    bits = np.frombuffer(f.read(end - begin), dtype="<u2")
  return (bits.astype(np.uint32) << 16).view(np.float32).reshape(entry["shape"])


def read_safetensors(path):
  """Reads every tensor of one safetensors file as numpy arrays.

  Floating tensors of any width (including bfloat16) come back as float32;
  integer tensors (buffers such as `position_ids`) keep their dtype.

  Raises:
    ValueError: the file is not a readable safetensors file.
  """
  tensors = {}
  try:
    with safetensors.safe_open(os.fspath(path), framework="np") as f:
      for name in f.keys():
        if f.get_slice(name).get_dtype() == "BF16":
          tensors[name] = _read_bf16(path, name)
          continue
        array = f.get_tensor(name)
        if np.issubdtype(array.dtype, np.floating):
          array = array.astype(np.float32, copy=False)
        tensors[name] = array
  except safetensors.SafetensorError as error:
    raise ValueError(
        f"{path} is not a readable safetensors file: {error}") from error
  return tensors


def write_safetensors(tensors, folder):
  """Writes `tensors` (name -> numpy array) as `folder/model.safetensors`.

  The file carries `"format": "pt"`, which transformers checks before
  loading it.
  """
  path = pathlib.Path(folder) / WEIGHTS_NAME
  # Serialized here and written by Python, not with `save_file`, which
  # creates the file private to its owner (0600) whatever the umask.
  path.write_bytes(safetensors.numpy.save(tensors, metadata={"format": "pt"}))
  return path
