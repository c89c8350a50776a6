"""Turns the budget and schedule flags into step counts and a schedule."""

import dataclasses
import math
from typing import Optional

from theseus_tf import schedules
from trainers import recipe
from trainers.errors import UsageError


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
  """How long a run trains and when it does what.

  Attributes:
    total_steps: Optimizer steps of the whole run.
    warmup_steps: Steps of learning-rate warm-up.
    steps_per_epoch: Steps in one pass over the training examples.
    eval_steps: Evaluate every this many steps (and at the end).
    replacing_steps: First step with p = 1 (`compress` only; may equal
      `total_steps` when there is no successor-only phase).
    schedule: The `ReplacementSchedule` of `--method theseus`, else None.
  """
  total_steps: int
  warmup_steps: int
  steps_per_epoch: int
  eval_steps: int
  replacing_steps: Optional[int] = None
  schedule: Optional[schedules.ReplacementSchedule] = None

  def describe(self):
    """A JSON-serialisable summary, for metrics.json."""
    summary = dataclasses.asdict(self)
    summary["schedule"] = (None if self.schedule is None else
                           schedules.serialize(self.schedule))
    return summary


def _epochs_to_steps(epochs, steps_per_epoch):
  return max(1, math.ceil(epochs * steps_per_epoch))


def _budget(args, steps_per_epoch):
  if args.max_steps is not None:
    return args.max_steps
  return _epochs_to_steps(args.epochs, steps_per_epoch)


def _replacing_phase(args, default_steps):
  """`(replacing_steps, schedule)`: when p reaches 1, and the schedule."""
  if args.schedule == "constant":
    steps = args.replacing_steps or default_steps
    return steps, schedules.ConstantReplacement(args.replacement_rate, steps)
  if args.base_rate >= 1:
    return 0, schedules.LinearReplacement(1.0, 0.0)
  if args.slope is not None:
    slope = args.slope
  else:
    slope = (1.0 - args.base_rate) / (args.replacing_steps or default_steps)
  steps = math.ceil(round((1.0 - args.base_rate) / slope, 9))
  return steps, schedules.LinearReplacement(args.base_rate, slope)


def make_plan(args, num_train_examples):
  """The `TrainingPlan` of a finetune or compress run.

  Args:
    args: The validated flags.
    num_train_examples: Training examples (after --max-train-examples).

  Raises:
    UsageError: The schedule does not fit in the budget.
  """
  steps_per_epoch = max(1, math.ceil(num_train_examples / args.batch_size))
  replacing_steps = schedule = None
  if args.command == "finetune":
    total = _budget(args, steps_per_epoch)
  else:
    successor = args.successor_steps
    if args.successor_epochs is not None:
      successor = (0 if args.successor_epochs == 0 else
                   _epochs_to_steps(args.successor_epochs, steps_per_epoch))
    if successor is not None:
      replacing_steps, schedule = _replacing_phase(args, default_steps=None)
      total = replacing_steps + successor
    else:
      total = _budget(args, steps_per_epoch)
      replacing_steps, schedule = _replacing_phase(
          args, default_steps=max(1, int(recipe.REPLACING_SHARE * total)))
      if replacing_steps > total:
        raise UsageError(
            f"the replacement rate reaches 1 at step {replacing_steps}, after "
            f"the whole budget of {total} steps (--epochs/--max-steps): raise "
            "the budget, or shorten the replacing phase (--replacing-steps, "
            "or a larger --slope)")
    if args.method != "theseus":
      schedule = None  # The baselines only take the same budget.
  if args.warmup_steps is not None:
    warmup = min(args.warmup_steps, total)
  else:
    warmup = int(math.ceil(args.warmup_ratio * total))
  return TrainingPlan(
      total_steps=total,
      warmup_steps=warmup,
      steps_per_epoch=steps_per_epoch,
      eval_steps=args.eval_steps or steps_per_epoch,
      replacing_steps=replacing_steps,
      schedule=schedule)
