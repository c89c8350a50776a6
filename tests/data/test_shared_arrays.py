"""Arrays read from raw files and tensors that share them."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.data.shared_arrays import read_aligned, shared_tensor


def test_read_aligned_reads_the_values_into_an_aligned_array(tmp_path):
  values = np.arange(1000, dtype=np.int64) * 3
  values.tofile(tmp_path / "v.bin")
  for odd_size in (1, 9, 17):  # Allocations in between move the buffer.
    read = read_aligned(tmp_path / "v.bin", np.int64, 1000)
    np.testing.assert_array_equal(read, values)
    assert read.ctypes.data % 64 == 0 and read.flags.writeable
    np.empty(odd_size, np.uint8)


def test_read_aligned_refuses_a_file_of_another_size(tmp_path):
  np.arange(10, dtype=np.int32).tofile(tmp_path / "v.bin")
  with pytest.raises(ValueError, match=r"v\.bin: size does not match 11"):
    read_aligned(tmp_path / "v.bin", np.int32, 11)
  with pytest.raises(ValueError, match="size does not match 10 int64"):
    read_aligned(tmp_path / "v.bin", np.int64, 10)


def test_shared_tensor_uses_an_aligned_arrays_memory(tmp_path):
  np.arange(12, dtype=np.float32).tofile(tmp_path / "v.bin")
  array = read_aligned(tmp_path / "v.bin", np.float32, 12).reshape(3, 4)
  tensor = shared_tensor(array)
  assert tensor.dtype == tf.float32 and tensor.shape == (3, 4)
  array[1, 2] = -5.0
  assert tensor[1, 2].numpy() == -5.0


def _aligned_arange(count):
  buffer = np.empty(count * 4 + 64, np.uint8)
  start = -buffer.ctypes.data % 64
  array = buffer[start:start + count * 4].view(np.int32)
  array[:] = np.arange(count)
  return array


@pytest.mark.parametrize("make", [
    lambda a: a[1:],  # 4 bytes past an aligned start.
    lambda a: a[::2],  # Not contiguous.
    lambda a: np.frombuffer(a.tobytes(), np.int32),  # Read-only.
], ids=["misaligned", "strided", "read-only"])
def test_shared_tensor_copies_other_arrays(make):
  array = make(_aligned_arange(64))
  tensor = shared_tensor(array)
  np.testing.assert_array_equal(tensor.numpy(), array)
  if array.flags.writeable:
    before = tensor.numpy().copy()
    array[0] += 1
    np.testing.assert_array_equal(tensor.numpy(), before)


def test_shared_tensor_keeps_the_memory_alive(tmp_path):
  """The tensor holds the array's buffer after the last array reference is
  gone: DLPack's deleter releases it with the tensor."""
  import gc
  np.arange(1 << 16, dtype=np.int32).tofile(tmp_path / "v.bin")
  array = read_aligned(tmp_path / "v.bin", np.int32, 1 << 16)
  tensor = shared_tensor(array)
  del array
  gc.collect()
  reused = [np.full(1 << 16, -1, np.int32) for _ in range(20)]
  np.testing.assert_array_equal(tensor.numpy(), np.arange(1 << 16))
  del reused
