"""TensorFlow process set-up: a quiet import, the strategy, the precision."""

import json
import os
import re
import sys
import tempfile

from trainers.errors import UsageError

# Start-up chatter of the TensorFlow wheel on machines without CUDA drivers,
# printed from C++ before any logging flag applies.
_IMPORT_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|"
    r"cuda_platform\.cc|cuInit|cpu_feature_guard\.cc|"
    r"To enable the following instructions|rebuild TensorFlow with the "
    r"appropriate compiler flags|oneDNN custom operations are on|"
    r"TF_ENABLE_ONEDNN_OPTS|computation placer already registered|"
    r"Unable to register cu(DNN|FFT|BLAS) factory")


def quiet_tensorflow_import():
  """Imports TensorFlow, dropping its known start-up noise from stderr.

  The C++ runtime writes these lines to file descriptor 2 directly, so they
  are caught there while TensorFlow is imported and looks for devices; any
  other line is passed on. A no-op when TensorFlow is already imported.
  """
  if "tensorflow" in sys.modules:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as capture:
    os.dup2(capture.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=import-outside-toplevel
      tf.config.list_physical_devices()
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      lines = capture.read().decode("utf-8", "replace").splitlines()
      kept = [line for line in lines
              if line.strip() and not _IMPORT_NOISE.search(line)]
  if kept:
    print("\n".join(kept), file=sys.stderr)


def make_strategy(name):
  """The `tf.distribute` strategy for `--strategy`.

  Args:
    name: "default", "mirrored" or "multi-worker".

  Raises:
    UsageError: multi-worker without a usable TF_CONFIG.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    # All local GPUs; without any, every logical CPU device (one, unless
    # split with tf.config.set_logical_device_configuration).
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
      return tf.distribute.MirroredStrategy([d.name for d in gpus])
    # Collective all-reduce between logical CPUs of one process can pair up
    # different tensors once another strategy has run in the process
    # ("Shape mismatch in the collective instance"); reducing on one device
    # has no such ordering hazard and costs nothing on a CPU.
    return tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")],
        cross_device_ops=tf.distribute.ReductionToOneDevice())
  raw = os.environ.get("TF_CONFIG")
  if not raw:
    raise UsageError(
        "--strategy multi-worker needs the TF_CONFIG environment variable, "
        "e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:2222\", "
        "\"host2:2222\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
        "on the first worker (index 1 on the second)")
  try:
    tf_config = json.loads(raw)
    tf_config["cluster"]  # pylint: disable=pointless-statement
    tf_config["task"]["type"], tf_config["task"]["index"]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, TypeError):
    raise UsageError(
        f"TF_CONFIG is not a JSON object with 'cluster' and 'task' "
        f"({{'type', 'index'}}): {raw!r}") from None
  return tf.distribute.MultiWorkerMirroredStrategy()


def worker_role(strategy):
  """`(is_chief, worker_index)` of this process in `strategy`'s cluster."""
  resolver = getattr(strategy, "cluster_resolver", None)
  task_type = getattr(resolver, "task_type", None)
  task_id = getattr(resolver, "task_id", None) or 0
  if task_type is None:
    return True, 0
  cluster = resolver.cluster_spec().as_dict()
  if task_type == "chief":
    return True, 0
  if "chief" in cluster:
    return False, task_id + 1
  return task_id == 0, task_id


def set_precision(mixed):
  """Sets the Keras dtype policy; returns its name (None for float32).

  Mixed precision is float16 on GPUs (with loss scaling, see
  `trainers.training.optimization`) and bfloat16 elsewhere.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from theseus_tf.backend import keras  # pylint: disable=import-outside-toplevel
  if not mixed:
    keras.mixed_precision.set_global_policy("float32")
    return None
  policy = ("mixed_float16" if tf.config.list_physical_devices("GPU")
            else "mixed_bfloat16")
  keras.mixed_precision.set_global_policy(policy)
  return policy
