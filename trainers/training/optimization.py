"""AdamW with linear warm-up and linear decay, in Keras 3 and tf-keras."""

import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras, register_serializable

# Variables exempt from weight decay, as in BERT: biases and layer norms.
NO_DECAY_NAMES = ("bias", "gamma", "beta", "LayerNorm", "layer_norm")


@register_serializable
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
  """Linear warm-up from 0 to `peak` over `warmup_steps`, then linear decay to
  0 at `total_steps` (BERT's and the paper's schedule).

  The rate of optimizer update `step` (0-based) is
  `peak * step / warmup_steps` during warm-up, then
  `peak * (total_steps - step) / (total_steps - warmup_steps)`, as Hugging
  Face's `get_linear_schedule_with_warmup`.

  Args:
    peak: The learning rate at the end of warm-up.
    warmup_steps: Steps of warm-up (0 for none).
    total_steps: Steps of the whole run.
  """

  def __init__(self, peak, warmup_steps, total_steps):
    super().__init__()
    self.peak = float(peak)
    self.warmup_steps = int(warmup_steps)
    self.total_steps = int(total_steps)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    warmup = tf.cast(self.warmup_steps, tf.float32)
    total = tf.cast(self.total_steps, tf.float32)
    rising = step / tf.maximum(warmup, 1.0)
    falling = (total - step) / tf.maximum(total - warmup, 1.0)
    factor = tf.where(step < warmup, rising, tf.maximum(falling, 0.0))
    return self.peak * factor

  def get_config(self):
    return {"peak": self.peak, "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps}


def make_optimizer(learning_rate, weight_decay, epsilon, max_grad_norm,
                   variables, loss_scaling=False):
  """An AdamW optimizer, built for `variables`.

  Args:
    learning_rate: A float or a `LearningRateSchedule`.
    weight_decay: Decoupled weight decay; `NO_DECAY_NAMES` are exempt.
    epsilon: Adam epsilon.
    max_grad_norm: Global-norm clipping threshold, or 0 for none.
    variables: Every variable the optimizer will ever update (all phases):
      its slots are created now, so checkpoints have one fixed layout.
    loss_scaling: Wrap it in a dynamic `LossScaleOptimizer` (float16).

  Returns:
    The optimizer. Create it inside the strategy's scope.
  """
  optimizer = keras.optimizers.AdamW(
      learning_rate=learning_rate,
      weight_decay=weight_decay,
      beta_1=0.9,
      beta_2=0.999,
      epsilon=epsilon,
      global_clipnorm=max_grad_norm or None)
  optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
  if loss_scaling:
    optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
  optimizer.build(list(variables))
  return optimizer


def scale_loss(optimizer, loss):
  """The loss to differentiate: scaled when `optimizer` does loss scaling."""
  if IS_KERAS_3:
    return optimizer.scale_loss(loss)
  if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
    return optimizer.get_scaled_loss(loss)
  return loss


def unscale_gradients(optimizer, gradients):
  """Undoes `scale_loss` on gradients (Keras 3 does it in `apply_gradients`)."""
  if not IS_KERAS_3 and isinstance(optimizer,
                                   keras.mixed_precision.LossScaleOptimizer):
    return optimizer.get_unscaled_gradients(gradients)
  return gradients
