"""The Keras that `tf.keras` resolves to, and the few places where the two differ.

theseus_tf is written against `tf.keras`: Keras 3 by default, tf-keras when
`TF_USE_LEGACY_KERAS=1` is set before TensorFlow is imported. Code that has to
know which one is active asks this module instead of importing `keras`.
"""

import tensorflow as tf

keras = tf.keras

# tf-keras' public API module has no `__version__`; Keras 3's has.
IS_KERAS_3 = getattr(keras, "__version__", "2").startswith("3.")


def register_serializable(cls):
  """Registers `cls` under the `theseus_tf` package for Keras deserialization."""
  return keras.utils.register_keras_serializable(package="theseus_tf")(cls)


def add_step_variable(layer, name):
  """Adds a non-trainable int64 step counter, starting at 0, to `layer`.

  The counter is updated identically on every replica: under a distribution
  strategy only the first replica's update is kept, as for an optimizer's
  `iterations`.
  """
  if IS_KERAS_3:
    aggregation = "only_first_replica"
  else:
    aggregation = tf.VariableAggregation.ONLY_FIRST_REPLICA
  return layer.add_weight(
      name=name,
      shape=(),
      dtype="int64",
      initializer="zeros",
      trainable=False,
      aggregation=aggregation)

