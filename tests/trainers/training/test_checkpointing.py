"""`TrainingCheckpoint`: what a resumed run gets back."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras
from trainers.training.checkpointing import TrainingCheckpoint


def _model_with_dropout():
  keras.utils.set_random_seed(7)
  inputs = keras.Input((16,))
  outputs = keras.layers.Dropout(0.5)(keras.layers.Dense(16)(inputs))
  return keras.Model(inputs, outputs)


def test_restore_returns_the_saved_step_and_weights(tmp_path):
  model = _model_with_dropout()
  checkpoint = TrainingCheckpoint(model, keras.optimizers.Adam(), tmp_path)
  assert checkpoint.restore() == 0
  saved = model.get_weights()
  checkpoint.save(12)
  model.set_weights([np.zeros_like(w) for w in saved])

  assert checkpoint.restore() == 12
  for restored, expected in zip(model.get_weights(), saved):
    np.testing.assert_array_equal(restored, expected)


@pytest.mark.skipif(not IS_KERAS_3,
                    reason="tf-keras dropout uses stateful ops: no state")
def test_dropout_masks_continue_after_restore(tmp_path):
  model = _model_with_dropout()
  checkpoint = TrainingCheckpoint(model, keras.optimizers.Adam(), tmp_path)
  ones = tf.ones((4, 16))
  model(ones, training=True)
  checkpoint.save(1)
  after_save = model(ones, training=True).numpy()
  model(ones, training=True)  # The stream moves on...

  checkpoint.restore()  # ...and is rewound.
  np.testing.assert_array_equal(model(ones, training=True).numpy(),
                                after_save)


def test_restores_a_checkpoint_saved_without_seed_states(tmp_path):
  # Checkpoints written before the seed states were saved still resume.
  model = _model_with_dropout()
  optimizer = keras.optimizers.Adam()
  step = tf.Variable(5, dtype=tf.int64)
  tf.train.Checkpoint(model=model, optimizer=optimizer, step=step).save(
      str(tmp_path / "ckpt"))

  assert TrainingCheckpoint(model, optimizer, tmp_path).restore() == 5
