"""NumPy arrays that TensorFlow tensors share instead of copying.

`tf.constant(array)` and `tf.convert_to_tensor(array)` always copy, so a
large array turned into a tensor is held twice. A tensor made through
DLPack uses the array's own buffer; TensorFlow's kernels need it 64-byte
aligned (`shared_tensor` copies other arrays).

- `read_aligned(path, dtype, count)`: a raw file's values in an aligned
  array, read straight into it (no temporaries).
- `shared_tensor(array)`: a tensor over the array's memory where possible.

Example:

```python
ids = read_aligned("input_ids.bin", np.int32, count)
ids_tensor = shared_tensor(ids)  # No second copy of the ids.
```
"""

import os

import numpy as np
import tensorflow as tf

ALIGNMENT = 64  # Bytes.


def read_aligned(path, dtype, count):
  """The `count` values of raw file `path`, in a 64-byte aligned array.

  Raises:
    ValueError: The file does not hold exactly `count` values of `dtype`.
  """
  dtype = np.dtype(dtype)
  size = count * dtype.itemsize
  if os.path.getsize(path) != size:
    raise ValueError(f"{path}: size does not match {count} {dtype} values")
  buffer = np.empty(size + ALIGNMENT, np.uint8)
  start = -buffer.ctypes.data % ALIGNMENT
  values = buffer[start:start + size]
  with open(path, "rb") as f:
    if f.readinto(values) != size:
      raise ValueError(f"{path}: shorter than {count} {dtype} values")
  return values.view(dtype)


def shared_tensor(array):
  """`array` as a tensor that shares its memory where it can.

  Shared: writeable, C-contiguous, 64-byte aligned arrays (those of
  `read_aligned`); the array must then not be changed while the tensor is
  in use. Others are copied, as `tf.constant` would.
  """
  array = np.ascontiguousarray(array)
  # DLPack exports writeable arrays only, and TensorFlow takes a misaligned
  # buffer as it is: its kernels then fail a CHECK and abort the process.
  if not array.flags.writeable or array.ctypes.data % ALIGNMENT:
    return tf.constant(array)
  return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
