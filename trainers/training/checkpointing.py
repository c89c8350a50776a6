"""What a run keeps to survive a kill: checkpoints, its log, its best model.

- `TrainingCheckpoint`: model + optimizer + step, every `--save-steps`
  (`tf.train.CheckpointManager`). The `ModuleReplacing` step counters are
  model variables, so the replacement rate resumes with them; the learning
  rate follows the optimizer's step; the data position is the step (see
  `trainers.inputs`); under Keras 3 the dropout masks continue too (the
  layers' `SeedGenerator` states are saved beside the model).
- `TrainerState`: `trainer_state.json`, the logged loss / learning rate /
  replacement rate and dev metrics, rewritten (atomically) at each save.
- `BestModel`: `best_model/`, the best dev score so far (the paper's early
  stopping) as a Hugging Face folder, swapped in atomically.
"""

import pathlib

import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3
from trainers.atomic_io import (atomic_write_json, read_json, recover_dir,
                                replace_dir)
from trainers.errors import UsageError

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "trainer_state.json"
BEST_DIR = "best_model"
BEST_RESULTS_FILE = "eval_results.json"


class TrainingCheckpoint:
  """Model, optimizer and step, saved and restored with `tf.train.Checkpoint`.

  Args:
    model: The trained Keras model (all its variables, trainable or not).
    optimizer: Its optimizer, already built for every variable it updates.
    write_dir: Where to save.
    read_dir: Where to restore from (the chief's folder, which other workers
      of a multi-worker run read); default `write_dir`.
    max_to_keep: Checkpoints kept.
  """

  def __init__(self, model, optimizer, write_dir, read_dir=None,
               max_to_keep=2):
    self._step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    self._checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=self._step,
        seed_states=_seed_generator_states(model))
    # For checkpoints written before the seed states were saved with them.
    self._checkpoint_without_seed_states = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=self._step)
    self._manager = tf.train.CheckpointManager(
        self._checkpoint, str(write_dir), max_to_keep=max_to_keep)
    self._read_dir = pathlib.Path(read_dir or write_dir)

  def restore(self):
    """Restores the latest checkpoint, if any; returns its step (else 0).

    Raises:
      UsageError: The checkpoint belongs to another model.
    """
    latest = tf.train.latest_checkpoint(str(self._read_dir))
    if latest is None:
      return 0
    try:
      has_seed_states = any(name.startswith("seed_states/")
                            for name, _ in tf.train.list_variables(latest))
      checkpoint = (self._checkpoint if has_seed_states
                    else self._checkpoint_without_seed_states)
      checkpoint.restore(latest).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
      raise UsageError(
          f"checkpoint {latest} does not fit this model ({error}): it was "
          "written by another run; pass --overwrite-output-dir to start over "
          "or use another --output-dir") from None
    return int(self._step.numpy())

  def save(self, step):
    """Saves at `step` (a no-op if that step is saved already)."""
    if self._manager.latest_checkpoint and int(self._step.numpy()) == step:
      return
    self._step.assign(step)
    self._manager.save(checkpoint_number=step)


def _seed_generator_states(model):
  """The Keras 3 `SeedGenerator` state variables of `model`'s layers.

  Keras 3 lists them among a layer's variables but not as checkpoint
  dependencies, so `tf.train.Checkpoint(model=...)` alone would restart every
  dropout layer's random stream on resume. tf-keras draws dropout masks from
  stateful ops that have no state to save: there a resumed run continues with
  fresh masks (the replacement draws are exact in both).
  """
  if not IS_KERAS_3:
    return []
  return [variable for variable in model.non_trainable_variables
          if variable.path.endswith("seed_generator_state")]


class TrainerState:
  """The run's history in `trainer_state.json`.

  `log_history` holds `{"step", "loss", "learning_rate"[,
  "replacement_rate"]}` records, `eval_history` `{"step", <metrics>}`
  records. A resumed run keeps the records up to its checkpoint's step.
  """

  def __init__(self, run_dir):
    self.path = pathlib.Path(run_dir) / STATE_FILE
    self.log_history = []
    self.eval_history = []

  def load(self, up_to_step):
    state = read_json(self.path, default={})
    self.log_history, self.eval_history = (
        [r for r in state.get(key, []) if r["step"] <= up_to_step]
        for key in ("log_history", "eval_history"))

  def save(self, step):
    atomic_write_json(self.path, {
        "global_step": step,
        "log_history": self.log_history,
        "eval_history": self.eval_history,
    })


class BestModel:
  """Keeps the model with the best dev score in `run_dir/best_model/`.

  The folder holds what `write(folder)` writes (a Hugging Face checkpoint)
  plus `eval_results.json` (step, score, metrics); it is replaced as a whole,
  so a kill never leaves a mix of two models.
  """

  def __init__(self, run_dir):
    self.path = pathlib.Path(run_dir) / BEST_DIR
    recover_dir(self.path)

  @property
  def results(self):
    """The saved `{"step", "score", "metrics"}`, or None."""
    return read_json(self.path / BEST_RESULTS_FILE)

  def update(self, step, metrics, write):
    """Replaces the best model if `metrics["score"]` beats it.

    Args:
      step: The training step of the evaluation.
      metrics: The dev metrics, with the aggregate `score`.
      write: `write(folder)` saves the model into the new folder `folder`.

    Returns:
      Whether this is the new best.
    """
    best = self.results
    if best is not None and metrics["score"] <= best["score"]:
      return False

    def write_all(folder):
      write(folder)
      atomic_write_json(folder / BEST_RESULTS_FILE, {
          "step": step, "score": metrics["score"], "metrics": metrics})

    replace_dir(self.path, write_all)
    return True
