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


def keras_flavour_of(layer):
  """'Keras 3', 'tf-keras' or None: which Keras `layer`'s class comes from."""
  for base in type(layer).__mro__:
    module = base.__module__ or ""
    if module.startswith("tf_keras."):
      return "tf-keras"
    if module.startswith("keras."):
      return "Keras 3"
  return None


def check_keras_layer(layer, what):
  """Raises a TypeError that says what to do if `layer` is no layer of `keras`.

  The commonest cause is a layer from the other Keras (a `keras.layers.Dense`
  from Keras 3 in a tf-keras program, or the reverse), which Keras itself
  rejects with an obscure error much later.
  """
  if isinstance(layer, keras.layers.Layer):
    return
  flavour = keras_flavour_of(layer)
  active = "Keras 3" if IS_KERAS_3 else "tf-keras (TF_USE_LEGACY_KERAS=1)"
  if flavour is not None:
    raise TypeError(
        f"{what} must be layers of the active Keras, {active}, but "
        f"'{getattr(layer, 'name', layer)}' is a {flavour} "
        f"{type(layer).__name__}: build it with `tf.keras` (or "
        "`theseus_tf.backend.keras`) instead of importing "
        f"{'tf_keras' if flavour == 'tf-keras' else 'keras'} directly.")
  raise TypeError(
      f"{what} must be Keras layers, got {type(layer).__name__}: {layer!r}.")


def freeze(layer):
  """Makes `layer`, its sublayers and all their weights non-trainable.

  Unlike `layer.trainable = False`, this also freezes weights created after
  the layer was first frozen: Keras 3 creates them trainable (a frozen layer
  built on loading, sublayers made in `build`) and skips the setter when the
  flag is already False (`self.x = self.x` short circuit of its TensorFlow
  backend).
  """
  for sublayer in layer._flatten_layers(include_self=True, recursive=True):  # pylint: disable=protected-access
    keras.layers.Layer.trainable.fset(sublayer, False)


def refreeze(layer):
  """Calls `freeze` on every frozen layer in `layer` (itself included).

  Call it once the model is built, so that the weights of layers frozen
  before they existed follow their layer's `trainable` flag.
  """
  if not layer.trainable:
    freeze(layer)
    return
  for sublayer in layer._flatten_layers(include_self=False, recursive=False):  # pylint: disable=protected-access
    refreeze(sublayer)
