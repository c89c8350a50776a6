"""Budgets and schedules from flags (`trainers.training.plan`), and the LR schedule."""

import numpy as np
import pytest

from theseus_tf import schedules
from trainers import cli
from trainers import recipe
from trainers.errors import UsageError
from trainers.training.optimization import WarmupLinearDecay
from trainers.training.plan import make_plan


def _plan(*extra, command="compress", examples=320):
  model_flag = "--model"
  args, _ = cli.parse_args([command, model_flag, "m", "--task", "sst2",
                            "--output-dir", "o", "--batch-size", "32",
                            *extra])
  return make_plan(args, examples)  # 10 steps per epoch.


def test_finetune_budget_in_epochs_and_steps():
  plan = _plan(command="finetune")
  assert (plan.total_steps, plan.steps_per_epoch, plan.eval_steps) == (30, 10,
                                                                       10)
  assert plan.warmup_steps == 3 and plan.schedule is None
  plan = _plan("--max-steps", "7", "--warmup-steps", "2", "--eval-steps", "4",
               command="finetune")
  assert (plan.total_steps, plan.warmup_steps, plan.eval_steps) == (7, 2, 4)


def test_default_compress_plan_is_the_recommended_recipe():
  plan = _plan()  # Linear from 0.1, p = 1 at half the budget.
  assert (recipe.BASE_RATE, recipe.REPLACING_SHARE) == (0.1, 0.5)
  assert (plan.total_steps, plan.replacing_steps) == (30, 15)
  assert plan.schedule == schedules.LinearReplacement(0.1, 0.9 / 15)
  plan = _plan("--replacement-rate", "0.5")
  assert plan.schedule == schedules.ConstantReplacement(0.5, 15)


def test_constant_schedule_with_successor_phase():
  plan = _plan("--replacement-rate", "0.7", "--replacing-steps", "12",
               "--successor-epochs", "0.5")
  assert (plan.replacing_steps, plan.total_steps) == (12, 17)
  assert plan.schedule == schedules.ConstantReplacement(0.7, 12)


def test_linear_schedule_from_slope_or_replacing_steps():
  plan = _plan("--schedule", "linear", "--base-rate", "0.3", "--slope", "0.1",
               "--max-steps", "20")
  assert (plan.replacing_steps, plan.total_steps) == (7, 20)
  assert plan.schedule == schedules.LinearReplacement(0.3, 0.1)
  plan = _plan("--schedule", "linear", "--replacing-steps", "14",
               "--successor-steps", "6")
  assert (plan.replacing_steps, plan.total_steps) == (14, 20)
  assert float(plan.schedule(13)) < 1.0 == float(plan.schedule(14))


def test_schedule_longer_than_budget_is_an_error():
  with pytest.raises(UsageError, match="after the whole budget of 30 steps"):
    _plan("--replacing-steps", "31")
  with pytest.raises(UsageError, match="reaches 1 at step 70"):
    _plan("--schedule", "linear", "--base-rate", "0.3", "--slope", "0.01")


@pytest.mark.parametrize("method", ["finetune", "distill"])
def test_baselines_get_the_same_budget_and_no_schedule(method):
  flags = ("--replacing-steps", "12", "--successor-steps", "8")
  theseus, baseline = _plan(*flags), _plan("--method", method, *flags)
  assert baseline.total_steps == theseus.total_steps == 20
  assert baseline.schedule is None


def test_warmup_linear_decay():
  schedule = WarmupLinearDecay(1.0, warmup_steps=4, total_steps=12)
  rates = [float(schedule(step)) for step in range(13)]
  np.testing.assert_allclose(
      rates, [0, .25, .5, .75, 1, .875, .75, .625, .5, .375, .25, .125, 0],
      atol=1e-6)
  no_warmup = WarmupLinearDecay(2.0, warmup_steps=0, total_steps=4)
  np.testing.assert_allclose([float(no_warmup(s)) for s in range(5)],
                             [2, 1.5, 1, .5, 0], atol=1e-6)
