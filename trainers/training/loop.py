"""The training loop of `theseus-tf finetune` and `theseus-tf compress`.

One strategy-aware custom loop serves every command, method, Keras version
and `tf.distribute` strategy: a `tf.function` takes the next batch from a
distributed iterator and runs the training step with `strategy.run`; the
optimizer all-reduces the gradients. (Keras 3's `model.fit` does not work
with `MultiWorkerMirroredStrategy`, keras-team/keras#20585; this loop does.)

A run writes to its output folder:

  config.json         the resolved flags          (trainers.commands.config_files)
  versions.json       package versions            (trainers.training.run_info)
  logs/train, logs/eval   TensorBoard: loss, learning_rate, replacement_rate,
                      dev metrics
  checkpoints/        model + optimizer + step, every --save-steps
  trainer_state.json  the logged values, the dev history
  best_model/         best dev score (Hugging Face folder + tokenizer,
                      eval_results.json)
  final_model/        the model at the end (Hugging Face folder + tokenizer)
  metrics.json        best and final dev metrics, plan, sizes

Other workers of a multi-worker run write the same files under
`worker-<index>/` and resume from the chief's checkpoints.
"""

import pathlib
import shutil
import sys
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from theseus_tf.backend import keras
from theseus_tf.utils.transformers import save_pretrained
from trainers.commands import config_files as config_lib
from trainers import data_source, model_record, tf_setup
from trainers.training import jobs, optimization
from trainers.atomic_io import replace_dir
from trainers.training.checkpointing import (CHECKPOINT_DIR, BestModel, TrainerState,
                                    TrainingCheckpoint)
from trainers.errors import UsageError
from trainers.evaluation import (count_parameters, evaluate,
                                 make_predict_function)
from trainers.inputs import (distributed_train_input, load_eval_sets,
                             load_train_examples)
from trainers.model_io import (check_max_seq_length, load_task_classifier,
                               load_task_tokenizer)
from trainers.training.plan import make_plan
from trainers.training.run_info import write_metrics, write_versions

FINAL_DIR = "final_model"
LOG_DIR = "logs"
WORKER_DIR = "worker-{}"


def run_training(args, config):
  """Runs (or resumes) `theseus-tf finetune` / `compress`.

  Everything the flags name is loaded and checked before the output folder is
  touched, so bad input leaves it as it was.

  Args:
    args: The validated flags.
    config: The resolved config (`trainers.commands.config_files.resolved_config`).

  Returns:
    The content of `metrics.json`.
  """
  output_dir = pathlib.Path(args.output_dir).expanduser()
  if output_dir.exists() and not output_dir.is_dir():
    raise UsageError(f"--output-dir {output_dir} is a file: pass a folder")
  if not args.overwrite_output_dir:
    config_lib.check_same_run(output_dir, config)
  finetuning = args.command == "finetune"
  # The files are read and checked before any model loads; a compressed
  # model keeps the label names of its predecessor.
  task = data_source.resolve_data_task(
      args, model=None if finetuning else args.model)
  check_max_seq_length(args.model, args.max_seq_length)
  strategy = tf_setup.make_strategy(args.strategy)
  is_chief, worker = tf_setup.worker_role(strategy)
  run_dir = output_dir if is_chief else output_dir / WORKER_DIR.format(worker)
  keras.utils.set_random_seed(args.seed)
  policy = tf_setup.set_precision(args.mixed_precision)

  flag, path = "--model", args.model
  tokenizer = load_task_tokenizer(flag, path)
  train_examples = load_train_examples(
      task, tokenizer, args.data_dir, args.max_seq_length,
      args.max_train_examples, args.seed, cache_dir=args.token_cache_dir)
  eval_sets = load_eval_sets(
      task, tokenizer, args.data_dir, args.max_seq_length,
      args.eval_batch_size, args.max_eval_examples,
      cache_dir=args.token_cache_dir)
  plan = make_plan(args, len(train_examples))

  with strategy.scope():
    model = data_source.apply_task_labels(
        load_task_classifier(flag, path, task, dtype=policy,
                             allow_new_head=finetuning,
                             reinit_head=finetuning and args.reinit_head),
        task)
    # A hub id had no local config.json to check before loading.
    check_max_seq_length(path, args.max_seq_length, model)
    if finetuning:
      job = jobs.finetune_job(model)
    else:
      job = jobs.compress_job(args, model, plan.schedule,
                              plan.replacing_steps)
    learning_rate = optimization.WarmupLinearDecay(
        args.learning_rate, plan.warmup_steps, plan.total_steps)
    optimizer = optimization.make_optimizer(
        learning_rate, args.weight_decay, args.adam_epsilon,
        args.max_grad_norm, job.variables,
        loss_scaling=policy == "mixed_float16")

  # All input is valid: from here on the run writes to its folder.
  _prepare_run_dir(run_dir, config, args.overwrite_output_dir)
  # Every worker resumes from the chief's checkpoints; when starting over,
  # from its own, just cleared, folder (the chief's may not be cleared yet).
  read_dir = None if args.overwrite_output_dir else output_dir / CHECKPOINT_DIR
  trainer = GlueTrainer(
      args=args, task=task, plan=plan, job=job, optimizer=optimizer,
      learning_rate=learning_rate, strategy=strategy, tokenizer=tokenizer,
      train_examples=train_examples, eval_sets=eval_sets, run_dir=run_dir,
      checkpoint=TrainingCheckpoint(
          job.model, optimizer, run_dir / CHECKPOINT_DIR, read_dir=read_dir),
      show_progress=is_chief and not args.no_progress_bar)
  return trainer.train()


def _prepare_run_dir(run_dir, config, overwrite):
  if overwrite and run_dir.is_dir():
    for child in run_dir.iterdir():
      if child.name.startswith("worker-"):
        continue  # Other workers' folders: they clear them themselves.
      if child.is_dir():
        shutil.rmtree(child)
      else:
        child.unlink()
  run_dir.mkdir(parents=True, exist_ok=True)
  config_lib.write_config(run_dir, config)
  write_versions(run_dir)


class GlueTrainer:
  """Trains `job` on GLUE by `plan`, saving, evaluating and resuming.

  Args:
    args: The validated flags.
    task: The `GlueTask`.
    plan: The `TrainingPlan`.
    job: The `TrainingJob` (model, loss, phases, export model).
    optimizer: Built for `job.variables`, in the strategy scope.
    learning_rate: The optimizer's `WarmupLinearDecay`.
    strategy: The `tf.distribute` strategy.
    tokenizer: Saved with the exported models.
    train_examples: `EncodedExamples` of the training split.
    eval_sets: dev split -> `GlueDataset`.
    run_dir: This process's output folder.
    checkpoint: The `TrainingCheckpoint`.
    show_progress: Whether to show a progress bar.
  """

  def __init__(self, *, args, task, plan, job, optimizer, learning_rate,
               strategy, tokenizer, train_examples, eval_sets, run_dir,
               checkpoint, show_progress):
    self.args = args
    self.task = task
    self.plan = plan
    self.job = job
    self.optimizer = optimizer
    self.learning_rate = learning_rate
    self.strategy = strategy
    self.tokenizer = tokenizer
    self.train_examples = train_examples
    self.eval_sets = eval_sets
    self.run_dir = pathlib.Path(run_dir)
    self.checkpoint = checkpoint
    self.show_progress = show_progress
    self.state = TrainerState(run_dir)
    self.best = BestModel(run_dir)
    self.predict = make_predict_function(job.export_model)
    self._writers = {}
    self._progress = None

  # -- the loop ---------------------------------------------------------------

  def train(self):
    """Trains from the last checkpoint to the end; returns metrics.json."""
    start = self.checkpoint.restore()
    total = self.plan.total_steps
    self.state.load(start)
    if start:
      self._say(f"resuming {self.run_dir} at step {start} of {total}")
    iterator = iter(distributed_train_input(
        self.strategy, self.train_examples, self.args.batch_size,
        self.args.seed, start))
    self._progress = tqdm(
        total=total, initial=start, unit="step", file=sys.stderr,
        dynamic_ncols=True, disable=not self.show_progress,
        desc=self._description())
    began, phase, losses = time.time(), None, []
    for step in range(start, total):
      if self.job.phase_of(step) != phase:
        phase = self.job.phase_of(step)
        self.job.enter_phase(phase)
        train_step = self._train_function()
      losses.append(float(train_step(iterator)))
      done = step + 1
      self._progress.update(1)
      if done % self.args.logging_steps == 0 or done == total:
        self._log(done, losses)
        losses = []
      if done % self.plan.eval_steps == 0 or done == total:
        self._evaluate(done)
      if done % self.args.save_steps == 0 or done == total:
        self._save(done)
    self._progress.close()
    trained = total - start
    seconds = time.time() - began
    return self._finish(trained, seconds)

  def _train_function(self):
    """A compiled training step for the variables trainable right now."""
    model, loss_fn, optimizer = self.job.model, self.job.loss, self.optimizer
    variables = list(model.trainable_variables)
    global_batch_size = self.args.batch_size

    def replica_step(features, labels):
      with tf.GradientTape() as tape:
        logits = model(features, training=True)
        loss = tf.nn.compute_average_loss(
            loss_fn(features, labels, logits),
            global_batch_size=global_batch_size)
        scaled_loss = optimization.scale_loss(optimizer, loss)
      gradients = tape.gradient(scaled_loss, variables)
      gradients = optimization.unscale_gradients(optimizer, gradients)
      optimizer.apply_gradients(zip(gradients, variables))
      return loss

    @tf.function
    def train_step(iterator):
      features, labels = next(iterator)
      per_replica = self.strategy.run(replica_step, args=(features, labels))
      return self.strategy.reduce(
          tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step

  # -- what happens every so many steps --------------------------------------

  def _log(self, step, losses):
    # Read back from the restored state: the optimizer's and the modules'
    # own step counters, not this loop's.
    record = {
        "step": step,
        "loss": float(np.mean(losses)),
        "learning_rate": float(self.learning_rate(
            max(int(self.optimizer.iterations.numpy()) - 1, 0))),
    }
    if self.job.replacement_rate is not None:
      record["replacement_rate"] = self.job.replacement_rate()
    self.state.log_history.append(record)
    self._scalars("train", step, record)
    short = {"loss": "loss", "learning_rate": "lr", "replacement_rate": "p"}
    self._progress.set_postfix(
        {short[k]: f"{v:.3g}" for k, v in record.items() if k in short},
        refresh=False)

  def _evaluate(self, step):
    metrics = evaluate(self.predict, self.task, self.eval_sets)
    self.state.eval_history.append({"step": step, **metrics})
    is_best = self.best.update(step, metrics, self._write_export)
    self._scalars("eval", step, metrics)
    write_metrics(self.run_dir, self._metrics(completed=False, step=step))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    self._say(f"step {step}: dev {shown}{' (best so far)' if is_best else ''}")

  def _save(self, step):
    self.state.save(step)
    self.checkpoint.save(step)
    for writer in self._writers.values():
      writer.flush()

  def _finish(self, trained, seconds):
    total = self.plan.total_steps
    history = self.state.eval_history
    if not history or history[-1]["step"] != total:
      self._evaluate(total)
    replace_dir(self.run_dir / FINAL_DIR, self._write_export)
    metrics = self._metrics(completed=True, step=total)
    if trained:
      metrics["last_session"] = {
          "steps": trained, "seconds": round(seconds, 1),
          "examples_per_second": round(
              trained * self.args.batch_size / max(seconds, 1e-9), 2)}
    write_metrics(self.run_dir, metrics)
    best = metrics["best"]
    print(f"{self.args.command} {self.task.name}: best dev score "
          f"{best['score']:.4f} at step {best['step']} -> "
          f"{self.run_dir / 'best_model'}; final "
          f"{metrics['final']['metrics']['score']:.4f} -> "
          f"{self.run_dir / FINAL_DIR}", flush=True)
    return metrics

  # -- helpers ----------------------------------------------------------------

  def _write_export(self, folder):
    save_pretrained(self.job.export_model, folder, tokenizer=self.tokenizer)
    # Later commands (export, evaluate, benchmark) default to this length.
    model_record.write_record(
        folder, command=self.args.command, task=self.task.name,
        max_seq_length=self.args.max_seq_length)

  def _metrics(self, completed, step):
    final = dict(self.state.eval_history[-1])
    return {
        "command": self.args.command,
        "method": getattr(self.args, "method", None),
        "task": self.task.name,
        "completed": completed,
        "global_step": step,
        "plan": self.plan.describe(),
        "best": self.best.results,
        "final": {"step": final.pop("step"), "metrics": final},
        "eval_history": self.state.eval_history,
        "num_parameters": {
            "trained_model": count_parameters(self.job.model),
            "exported_model": count_parameters(self.job.export_model)},
        "train_examples": len(self.train_examples),
        "eval_examples": {s: d.num_examples for s, d in self.eval_sets.items()},
    }

  def _scalars(self, name, step, values):
    if name not in self._writers:
      self._writers[name] = tf.summary.create_file_writer(
          str(self.run_dir / LOG_DIR / name))
    with self._writers[name].as_default():
      for key, value in values.items():
        if key != "step":
          tf.summary.scalar(key, value, step=step)

  def _description(self):
    if self.args.command == "finetune":
      return f"finetune {self.task.name}"
    return f"compress {self.task.name} ({self.args.method})"

  def _say(self, message):
    if self.show_progress and self._progress is not None:
      self._progress.write(message, file=sys.stderr)
    else:
      print(message, file=sys.stderr, flush=True)
