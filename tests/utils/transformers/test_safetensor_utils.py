"""Tests for theseus_tf.utils.transformers.safetensor_utils."""

import json
import struct

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from theseus_tf.utils.transformers import safetensor_utils

_TENSORS = {
    "a.weight": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
    "b.bias": np.array([1.5, -2.25, 3.0], np.float32),
    "position_ids": np.arange(4, dtype=np.int64)[None],
}


def _write_bf16_safetensors(path, tensors):
  header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
  for name, array in tensors.items():
    bits = (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2")
    data = bits.tobytes()
    header[name] = {"dtype": "BF16", "shape": list(array.shape),
                    "data_offsets": [offset, offset + len(data)]}
    chunks.append(data)
    offset += len(data)
  header_bytes = json.dumps(header).encode()
  header_bytes += b" " * (-len(header_bytes) % 8)
  path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes +
                   b"".join(chunks))


def test_write_then_read(tmp_path):
  path = safetensor_utils.write_safetensors(_TENSORS, tmp_path)
  assert path == tmp_path / "model.safetensors"
  with safe_open(str(path), framework="np") as f:
    assert f.metadata() == {"format": "pt"}  # What transformers checks.
  tensors = safetensor_utils.read_safetensors(path)
  assert sorted(tensors) == sorted(_TENSORS)
  for name, array in _TENSORS.items():
    np.testing.assert_array_equal(tensors[name], array)
    assert tensors[name].dtype == array.dtype  # Integer buffers stay integer.


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_read_as_float32(tmp_path, dtype):
  floats = {n: a for n, a in _TENSORS.items() if a.dtype == np.float32}
  path = tmp_path / "model.safetensors"
  if dtype == "float16":
    save_file({n: a.astype(np.float16) for n, a in floats.items()}, str(path))
  else:
    _write_bf16_safetensors(path, floats)
  tensors = safetensor_utils.read_safetensors(path)
  for name, array in floats.items():
    assert tensors[name].dtype == np.float32 and tensors[name].shape == array.shape
    np.testing.assert_allclose(tensors[name], array, rtol=1e-2)


def test_bfloat16_is_widened_exactly(tmp_path):
  # bfloat16 is the top half of a float32: these values survive unchanged.
  exact = {"x": np.array([[1.0, -2.0], [0.5, 3.140625]], np.float32)}
  _write_bf16_safetensors(tmp_path / "w.safetensors", exact)
  tensors = safetensor_utils.read_safetensors(tmp_path / "w.safetensors")
  np.testing.assert_array_equal(tensors["x"], exact["x"])


def test_unreadable_file(tmp_path):
  (tmp_path / "model.safetensors").write_bytes(b"garbage")
  with pytest.raises(ValueError, match="not a readable safetensors file"):
    safetensor_utils.read_safetensors(tmp_path / "model.safetensors")


def test_weight_files_single_and_sharded(tmp_path):
  safetensor_utils.write_safetensors(_TENSORS, tmp_path)
  assert safetensor_utils.weight_files(tmp_path) == [
      tmp_path / "model.safetensors"]

  (tmp_path / "model.safetensors").unlink()
  shards = ["model-00002-of-00002.safetensors",
            "model-00001-of-00002.safetensors"]
  for shard in shards:
    save_file({"x": np.zeros(1, np.float32)}, str(tmp_path / shard))
  (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
      {"metadata": {}, "weight_map": {"a": shards[0], "b": shards[1],
                                      "c": shards[0]}}))
  assert safetensor_utils.weight_files(tmp_path) == [
      tmp_path / name for name in sorted(shards)]

  (tmp_path / shards[0]).unlink()
  with pytest.raises(FileNotFoundError, match=shards[0]):
    safetensor_utils.weight_files(tmp_path)
  (tmp_path / "model.safetensors.index.json").write_text("{}")
  with pytest.raises(ValueError, match="not a safetensors index"):
    safetensor_utils.weight_files(tmp_path)


def test_pickle_checkpoints_are_refused_never_read(tmp_path):
  # Not even a valid pickle: the point is that nothing tries to unpickle it.
  (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not a pickle")
  with pytest.raises(ValueError, match="never unpickles") as error:
    safetensor_utils.weight_files(tmp_path)
  assert "pytorch_model.bin" in str(error.value)
  assert "save_pretrained" in str(error.value)


def test_other_formats_and_no_weights(tmp_path):
  with pytest.raises(FileNotFoundError, match="No model.safetensors"):
    safetensor_utils.weight_files(tmp_path)
  (tmp_path / "tf_model.h5").write_bytes(b"")
  with pytest.raises(ValueError, match="only safetensors checkpoints"):
    safetensor_utils.weight_files(tmp_path)
