"""The Keras callback that drives module replacing during `fit`."""

from theseus_tf import schedules
from theseus_tf.backend import keras
from theseus_tf.module_replacing import module_replacing_layers


class ReplacementScheduler(keras.callbacks.Callback):
  """Applies a replacement schedule to every `ModuleReplacing` layer of a model.

  At the start of training it gives `schedule` to each `ModuleReplacing`
  layer (nested models included). The layers evaluate it in-graph on their
  own step counter, so the rate is right at every step, also with
  `steps_per_execution > 1`, and a run resumed from a checkpoint (for
  instance with `BackupAndRestore`) continues the schedule at the saved step.

  After each batch and epoch the callback writes the rate of the last
  training step to the logs under `replacement_rate`, where the progress bar,
  `History`, and callbacks listed after this one (`CSVLogger`, `TensorBoard`)
  see it.

  Args:
    schedule: A `theseus_tf.schedules.ReplacementSchedule`.
    log_name: The key of the rate in the logs.

  Example:

  ```python
  scheduler = theseus_tf.ReplacementScheduler(
      theseus_tf.schedules.LinearReplacement(base_rate=0.3, slope=4e-4))
  model.fit(dataset, epochs=3, callbacks=[
      scheduler, keras.callbacks.TensorBoard("logs")])
  ```
  """

  def __init__(self, schedule, log_name="replacement_rate"):
    super().__init__()
    self.schedule = schedules.get(schedule)
    if self.schedule is None:
      raise ValueError(
          "`ReplacementScheduler` needs a schedule, e.g. "
          "`theseus_tf.schedules.ConstantReplacement(0.5)`.")
    self.log_name = log_name
    self._layers = []

  def on_train_begin(self, logs=None):
    self._layers = module_replacing_layers(self.model)
    if not self._layers:
      raise ValueError(
          f"Model '{self.model.name}' has no ModuleReplacing layers, so "
          "ReplacementScheduler has nothing to drive. Wrap predecessor "
          "blocks with `theseus_tf.ModuleReplacing` (or "
          "`theseus_tf.replace_modules`) first.")
    changed = False
    for layer in self._layers:
      if layer.schedule != self.schedule:
        layer.schedule = self.schedule
        changed = True
    if changed and getattr(self.model, "train_function", None) is not None:
      # The layers' schedule is part of the traced graph: retrace with it.
      self.model.make_train_function(force=True)

  def current_rate(self):
    """The rate of the last training step taken (of the first step, before any)."""
    step = int(self._layers[0].replacement_step.numpy())
    return float(self.schedule(max(step - 1, 0)))

  def _log_rate(self, logs):
    if logs is not None and self._layers:
      logs[self.log_name] = self.current_rate()

  def on_train_batch_end(self, batch, logs=None):
    self._log_rate(logs)

  def on_epoch_end(self, epoch, logs=None):
    self._log_rate(logs)
