"""`run_layer_test`: the checks every public theseus_tf layer must pass.

In the manner of keras-hub's `TestCase.run_layer_test`, for pytest and both
Keras modes (Keras 3, and tf-keras with TF_USE_LEGACY_KERAS=1).
"""

import numpy as np
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras

# How far mixed precision outputs may be from float32 ones (activations of
# order 1, as after a layer norm).
_MIXED_PRECISION_ATOL = {"mixed_float16": 2e-2, "mixed_bfloat16": 1e-1}


def run_layer_test(make_layer, inputs, tmp_path, call_kwargs=None,
                   output_dtype=None, atol=1e-6):
  """Checks config round trip, save/load and mixed precision of a layer.

  1. Config round trip: `from_config(get_config())`, and Keras
     (de)serialization, give the same config and, with the same weights, the
     same outputs.
  2. Save and load in the current Keras mode's format (`.keras` in Keras 3,
     a SavedModel folder, tf-keras' own format, in tf-keras): the loaded
     model holds an instance of the layer's class and gives the same
     outputs. A layer that is not a `keras.Model` is saved inside a
     functional model.
  3. Mixed precision ("mixed_float16" and "mixed_bfloat16"): the layer
     builds and runs, its variables stay float32, floating outputs are in the
     policy's compute dtype (or `output_dtype`) and close to float32 ones.

  Calls are inference calls (no dropout).

  Args:
    make_layer: called as `make_layer()` and `make_layer(dtype=policy_name)`,
      returns a new, unbuilt layer or model, the same every time but for the
      dtype policy.
    inputs: the first positional argument of the call: a tensor, or a dict
      of tensors (batch first).
    tmp_path: a folder to save into (pytest's `tmp_path`).
    call_kwargs: optional dict of keyword tensor arguments of the call, e.g.
      `{"attention_mask": mask}`.
    output_dtype: dtype of the floating outputs under mixed precision, if not
      the policy's compute dtype (e.g. "float32" for float32 logits).
    atol: tolerance of the round trips (same weights, same computation).

  Example:

  ```python
  def test_layer_contract(tmp_path):
    run_layer_test(
        lambda **kwargs: BertTransformerLayer(hidden_dim=8, num_heads=2,
                                              intermediate_dim=16, **kwargs),
        tf.random.normal([2, 5, 8]), tmp_path,
        call_kwargs={"attention_mask": tf.ones([2, 5], tf.int32)})
  ```
  """
  call_kwargs = dict(call_kwargs or {})
  layer = make_layer()
  expected = layer(inputs, **call_kwargs)
  _check_config_round_trip(layer, inputs, call_kwargs, expected, atol)
  _check_save_and_load(layer, inputs, call_kwargs, expected, tmp_path, atol)
  for policy in _MIXED_PRECISION_ATOL:
    _check_mixed_precision(make_layer, policy, layer, inputs, call_kwargs,
                           expected, output_dtype)


def _assert_outputs_close(actual, expected, atol, message):
  tf.nest.assert_same_structure(actual, expected)
  for got, want in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)):
    np.testing.assert_allclose(
        np.asarray(tf.cast(got, tf.float32)),
        np.asarray(tf.cast(want, tf.float32)), atol=atol, rtol=0,
        err_msg=message)


def _check_config_round_trip(layer, inputs, call_kwargs, expected, atol):
  config = layer.get_config()
  clones = [
      type(layer).from_config(config),
      keras.layers.deserialize(keras.layers.serialize(layer)),
  ]
  for clone in clones:
    assert type(clone) is type(layer), (
        f"{type(layer).__name__} deserialized as a {type(clone).__name__}")
    # Built and unbuilt nested layers differ in their build config only.
    clone(inputs, **call_kwargs)  # Builds it.
    assert _without_build_configs(clone.get_config()) == _without_build_configs(
        config)
    clone.set_weights(layer.get_weights())
    _assert_outputs_close(clone(inputs, **call_kwargs), expected, atol,
                          f"{type(layer).__name__} rebuilt from its config")


def _without_build_configs(config):
  if isinstance(config, dict):
    return {k: _without_build_configs(v) for k, v in config.items()
            if k != "build_config"}
  if isinstance(config, (list, tuple)):
    return [_without_build_configs(v) for v in config]
  return config


def _symbolic(value):
  if isinstance(value, dict):
    return {name: _symbolic(tensor) for name, tensor in value.items()}
  return keras.Input(shape=tuple(value.shape[1:]), dtype=value.dtype)


def _check_save_and_load(layer, inputs, call_kwargs, expected, tmp_path,
                         atol):
  model = layer
  if not isinstance(layer, keras.Model):
    symbolic_inputs, symbolic_kwargs = _symbolic(inputs), _symbolic(call_kwargs)
    outputs = layer(symbolic_inputs, **symbolic_kwargs)
    if call_kwargs:
      model = keras.Model([symbolic_inputs, symbolic_kwargs], outputs)
      model_inputs = [inputs, call_kwargs]
    else:
      model = keras.Model(symbolic_inputs, outputs)
      model_inputs = inputs
  if IS_KERAS_3:
    path = str(tmp_path / "layer_test.keras")
    model.save(path)
  else:
    path = str(tmp_path / "layer_test_saved_model")
    model.save(path, save_format="tf")
  restored = keras.models.load_model(path)
  if isinstance(layer, keras.Model):
    assert isinstance(restored, type(layer)), type(restored)
    outputs = restored(inputs, **call_kwargs)
  else:
    assert any(isinstance(l, type(layer)) for l in restored.layers), (
        f"no {type(layer).__name__} in the loaded model: is the class "
        "registered (register_serializable)?")
    outputs = restored(model_inputs)
  _assert_outputs_close(outputs, expected, atol,
                        f"{type(layer).__name__} saved and loaded")


def _floating(tensors):
  return [t for t in tf.nest.flatten(tensors) if t.dtype.is_floating]


def _check_mixed_precision(make_layer, policy, float32_layer, inputs,
                           call_kwargs, expected, output_dtype):
  layer = make_layer(dtype=policy)
  layer(inputs, **call_kwargs)  # Builds it.
  floating = [w for w in layer.weights if tf.as_dtype(w.dtype).is_floating]
  assert all(tf.as_dtype(w.dtype) == tf.float32 for w in floating), policy
  layer.set_weights(float32_layer.get_weights())
  outputs = layer(inputs, **call_kwargs)
  want_dtype = tf.as_dtype(output_dtype or policy.split("_")[1])
  for output in _floating(outputs):
    assert output.dtype == want_dtype, (policy, output.dtype)
  _assert_outputs_close(outputs, expected, _MIXED_PRECISION_ATOL[policy],
                        f"{type(layer).__name__} under {policy}")
