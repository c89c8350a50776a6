import numpy as np
import pytest

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from tests.toy_layers import CountingDense, toy_data

WIDTH = 8


def predecessor_stack(depth):
  inputs = keras.Input((WIDTH,))
  layers = [CountingDense(WIDTH, name=f"layer_{i}") for i in range(depth)]
  x = inputs
  for layer in layers:
    x = layer(x)
  return layers


@pytest.mark.parametrize("init, sources", [
    ("bottom", [0, 1, 2]), ("top", [3, 4, 5]), ("every_k", [1, 3, 5]),
    ([5, 0, 2], [5, 0, 2])])
def test_successors_copy_the_chosen_predecessor_layers(init, sources):
  layers = predecessor_stack(6)
  modules = theseus_tf.replace_modules(layers, num_modules=3, init=init, seed=3)
  for module, source, group in zip(modules, sources, ([0, 1], [2, 3], [4, 5])):
    assert [l.name for l in module.predecessor.block_layers] == [
        f"layer_{i}" for i in group]
    for copied, original in zip(module.successor.get_weights(),
                                layers[source].get_weights()):
      np.testing.assert_array_equal(copied, original)
    # Own variables, not shared ones.
    assert module.successor.kernel is not layers[source].kernel
    assert module.successor.trainable and not module.predecessor.trainable
  assert [m.seed for m in modules] == [3, 4, 5]


def test_uneven_grouping_12_to_5():
  layers = predecessor_stack(12)
  modules = theseus_tf.replace_modules(layers, grouping=[3, 3, 2, 2, 2])
  assert [len(m.predecessor.block_layers) for m in modules] == [3, 3, 2, 2, 2]


def test_replace_modules_end_to_end_with_fit_and_strip():
  layers = predecessor_stack(4)
  modules = theseus_tf.replace_modules(layers, num_modules=2)
  inputs = keras.Input((WIDTH,))
  x = inputs
  for module in modules:
    x = module(x)
  model = keras.Model(inputs, keras.layers.Dense(1)(x))
  model.compile("sgd", "mse")
  x_train, y_train = toy_data()
  model.fit(x_train, y_train, epochs=1, verbose=0, callbacks=[
      theseus_tf.ReplacementScheduler(schedules.ConstantReplacement(0.5))])
  student = theseus_tf.strip_successor(model)
  assert len(student.weights) == 2 * 3 + 2


def test_copy_of_an_unbuilt_layer_is_refused():
  with pytest.raises(ValueError, match="not built"):
    theseus_tf.copy_layer(CountingDense(WIDTH), "copy")
