"""Round 2 of the reproduction study: every setting chosen on held-out data.

`python -m benchmarks.reproduction_study run --preset minilm-round2` (see
that module): round 1's predecessors, longer equal budgets for the three
compression methods, and no setting chosen on dev. Each task's GLUE
train.tsv is split once, seeded and stratified by label, into 90% for
training and 10% held out (`runs/study-round2/<task>/split/`, JSON Lines).
The selection runs train on the 90% file and are scored on the held-out
file, compressing a "selection predecessor" fine-tuned on the 90% only
(round 1's recipe), so that no teacher has seen the held-out examples.

The grid (seed 1): the baselines try each learning rate; Theseus starts
from the paper recipe and goes through `AXES` in order, keeping for each
axis the value with the best held-out score (a tie keeps the earlier value,
which is the paper's) and carrying it into the next axis. Then, on the full
training set and scored on dev, with every seed: fine-tuning and KD at
their chosen learning rates, and Theseus with three recipes: the paper's,
the task's own chosen one ("per-task"), and the recommended one, the CLI's
defaults: each axis's value chosen on most tasks (it waits on every task's
selection). Where two recipes are one setting, their rows share its runs.

Since an axis's runs depend on the previous axis's result, the plan is
computed stage by stage from the cached records: `run` runs the stages
runnable now and plans the next ones as records arrive; `--dry-run` prints
the runnable stages' commands and what the other stages wait on.

Records: `docs/results/study-round2/<task>/<run>.json` (dev runs, round
1's format plus the setting), `.../<task>/selection/<run>.json` (selection
runs, plus the setting and the held-out score).
"""

import dataclasses
import functools
import json
import math
import os
import pathlib
import random
import shutil
import statistics
import threading
import time

from benchmarks import reproduction_study as study
from theseus_tf.data.glue_reader import load_examples
from theseus_tf.data.glue_tasks import get_task
from theseus_tf.utils.file_io import atomic_write_text

# Round 1's helpers, shared.
# pylint: disable=protected-access
_study_steps_per_epoch = study._steps_per_epoch
_fmt, _median, _score_table, _seed_table = (
    study._fmt, study._median, study._score_table, study._seed_table)
_say = study._say  # Thread-safe: the jobs' threads print too.
# pylint: enable=protected-access

TAG = "round2"
SELECTION_SEED = 1
HELD_OUT_SHARE = 0.1
SPLIT_SEED = 42
GOAL_SHARE = 97.0  # Issue #19: % of the teacher's macro score to keep.
CONSTANT_RATE = 0.5  # p of the constant schedule (the paper's).
LEARNING_RATES = (1e-4, 5e-5)  # Round 1's first: a tie keeps it.
BASELINES = ("finetune", "distill")
# --metric-for-best of the selection runs (file tasks score one metric):
# the task's GLUE metric; for MRPC (GLUE: the mean of F1 and accuracy)
# accuracy picks the selection predecessor's best_model, and the held-out
# score is computed from every evaluation's F1 and accuracy
# (`held_out_score`).
SELECTION_METRIC = {"MRPC": "accuracy", "RTE": "accuracy",
                    "CoLA": "matthews_correlation", "SST-2": "accuracy"}


@dataclasses.dataclass(frozen=True)
class Setting:
  """One compression setting.

  Attributes:
    method: One of `study.METHODS`.
    learning_rate: Peak learning rate.
    schedule: Theseus: "linear" or "constant" (p = `CONSTANT_RATE`).
    base_rate: Theseus, linear: p at step 0.
    replacing_share: Theseus: share of the budget until p = 1 (the
      baselines take only the budget from the schedule flags).
    alpha: Theseus: weight of the predecessor's soft targets (None: the
      task loss alone, as in the paper).
  """
  method: str
  learning_rate: float = 1e-4
  schedule: str = "linear"
  base_rate: float = 0.3
  replacing_share: float = 0.5
  alpha: float = None

  @property
  def name(self):
    """File name: settings that run the same commands share it."""
    parts = [self.method]
    if self.method == "theseus":
      parts.append(f"linear-b{self.base_rate:g}" if self.schedule == "linear"
                   else f"constant-p{CONSTANT_RATE:g}")
      parts.append(f"p1at{round(100 * self.replacing_share)}")
      parts.append("kdoff" if self.alpha is None else f"kd{self.alpha:g}")
    return "-".join(parts + [f"lr{self.learning_rate:g}"])

  def describe(self):
    """In words, for the tables."""
    if self.method != "theseus":
      return f"learning rate {self.learning_rate:g}"
    schedule = (f"linear from b = {self.base_rate:g}"
                if self.schedule == "linear" else
                f"constant p = {CONSTANT_RATE:g}")
    kd = "no KD" if self.alpha is None else f"KD alpha {self.alpha:g}"
    return (f"{schedule}, p = 1 at {round(100 * self.replacing_share)}% of "
            f"the budget, learning rate {self.learning_rate:g}, {kd}")


PAPER_RECIPE = Setting("theseus")


@dataclasses.dataclass(frozen=True)
class Axis:
  """One setting the grid varies.

  Attributes:
    field: The `Setting` field.
    title: For messages and the report.
    values: The values tried, the paper recipe's first.
    unit: Formats a value for the report.
  """
  field: str
  title: str
  values: tuple
  unit: str = "{:g}"

  def value_text(self, value):
    return "off" if value is None else self.unit.format(value)


AXES = (
    Axis("base_rate", "base rate b", (0.3, 0.1)),
    Axis("replacing_share", "replacing length", (0.5, 0.25),
         unit="p = 1 at {:.0%} of the budget"),
    Axis("schedule", "schedule", ("linear", "constant"), unit="{}"),
    Axis("learning_rate", "learning rate", LEARNING_RATES),
    Axis("alpha", "KD alpha (Theseus + KD)", (None, 0.5)),
)


@dataclasses.dataclass(frozen=True)
class Round2Run:
  """One run: a predecessor (`setting` None) or a compression setting.

  Attributes:
    task: Key of the preset's tasks.
    setting: `Setting`, or None for the predecessor.
    seed: Training seed.
    selection: Trained on the 90% split and scored on the held-out 10%
      (else the full training set and dev).
  """
  task: str
  setting: Setting
  seed: int
  selection: bool

  @property
  def name(self):
    if self.setting is None:
      return "predecessor"
    return f"{self.setting.name}-seed{self.seed}"

  @property
  def label(self):
    return (f"{self.task}/{'selection/' if self.selection else ''}"
            f"{self.name}")

  @property
  def method(self):
    return "predecessor" if self.setting is None else self.setting.method


def result_path(run, args):
  folder = pathlib.Path(args.results_dir) / run.task
  return (folder / "selection" if run.selection else folder) / (
      f"{run.name}.json")


def run_dir(run, args):
  folder = pathlib.Path(args.runs_dir) / run.task
  return (folder / "selection" if run.selection else folder) / run.name


# -- the held-out split -------------------------------------------------------


def split_dir(task, args):
  return pathlib.Path(args.runs_dir) / task / "split"


def split_files(task, args):
  """`(train file, held-out file)` of `task`'s split."""
  folder = split_dir(task, args)
  return folder / "train.jsonl", folder / "heldout.jsonl"


def glue_task(task, args):
  return get_task(args.preset.tasks[task].name)


@functools.lru_cache(maxsize=None)
def _train_examples(name, data_dir):
  return tuple(load_examples(name, "train", data_dir))


def split_indices(task, args):
  """`(train, held_out)`: sorted indices of GLUE train.tsv's examples.

  Each label's examples are shuffled with `SPLIT_SEED` and `HELD_OUT_SHARE`
  of them (rounded) held out, so both parts keep the label shares.
  """
  examples = _train_examples(args.preset.tasks[task].name, str(args.data_dir))
  by_label = {}
  for index, example in enumerate(examples):
    by_label.setdefault(example.label, []).append(index)
  generator = random.Random(SPLIT_SEED)
  held_out = set()
  for label in sorted(by_label):
    indices = by_label[label]
    generator.shuffle(indices)
    held_out.update(indices[:round(len(indices) * HELD_OUT_SHARE)])
  train = [i for i in range(len(examples)) if i not in held_out]
  return train, sorted(held_out)


def text_columns(task, args):
  pair = len(glue_task(task, args).text_columns) == 2
  return ("sentence1", "sentence2") if pair else ("sentence",)


def _jsonl(examples, columns, labels):
  lines = []
  for example in examples:
    row = dict(zip(columns, (example.text_a, example.text_b)))
    row["label"] = labels[example.label]
    lines.append(json.dumps(row, ensure_ascii=False) + "\n")
  return "".join(lines)


def write_split(task, args):
  """Writes `split_files` (if missing): JSON Lines with `text_columns` and
  "label", the GLUE task's label names."""
  paths = split_files(task, args)
  if all(path.exists() for path in paths):
    return paths
  examples = _train_examples(args.preset.tasks[task].name, str(args.data_dir))
  labels = glue_task(task, args).labels
  for path, indices in zip(paths, split_indices(task, args)):
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, _jsonl([examples[i] for i in indices],
                                   text_columns(task, args), labels))
  return paths


# -- commands -----------------------------------------------------------------


def _steps_per_epoch(run, args):
  if not run.selection:
    return _study_steps_per_epoch(run.task, args)
  return -(-len(split_indices(run.task, args)[0]) // study.BATCH_SIZE)


def _argv(subcommand, flags):
  argv = [subcommand]
  for flag, value in flags.items():
    argv += [flag] if value is None else [flag, value]
  return argv


def _setting_flags(run, args):
  """The flags `run.setting` sets (on top of round 1's command)."""
  setting = run.setting
  total = args.preset.tasks[run.task].compress_epochs * _steps_per_epoch(
      run, args)
  flags = {"--learning-rate": str(setting.learning_rate),
           "--replacing-steps": str(max(1, round(setting.replacing_share *
                                                 total)))}
  if setting.schedule == "constant":
    flags.update({"--schedule": "constant",
                  "--replacement-rate": str(CONSTANT_RATE)})
  else:
    flags.update({"--schedule": "linear",
                  "--base-rate": str(setting.base_rate)})
  if setting.alpha is not None:
    flags["--alpha"] = str(setting.alpha)
  return flags


def _selection_data_flags(run, args):
  """--train-file etc. of the split, in place of --task and --data-dir."""
  train, held_out = split_files(run.task, args)
  task = glue_task(run.task, args)
  return {"--train-file": str(train), "--validation-file": str(held_out),
          "--text-columns": ",".join(text_columns(run.task, args)),
          "--label-column": "label", "--labels": ",".join(task.labels),
          "--problem-type": "single_label_classification",
          "--metric-for-best": SELECTION_METRIC[task.name]}


def command(run, args):
  """The `theseus-tf` argument list of `run`: round 1's command (the
  preset's budgets), changed by the setting, on the split if `selection`."""
  argv = study.command(study.Run(run.task, run.method, run.seed), args)
  flags = study.command_flags(argv)
  flags["--output-dir"] = str(run_dir(run, args))
  if run.setting is not None:
    for flag in ("--base-rate", "--replacement-rate"):
      flags.pop(flag, None)
    flags.update(_setting_flags(run, args))
    teacher = Round2Run(run.task, None, study.PREDECESSOR_SEED, run.selection)
    flags["--model"] = str(run_dir(teacher, args) / "best_model")
  if run.selection:
    data = _selection_data_flags(run, args)
    flags = dict(item for key, value in flags.items() if key != "--data-dir"
                 for item in (data.items() if key == "--task" else
                              [(key, value)]))
    if "--eval-steps" in flags:
      flags["--eval-steps"] = str(max(1, _steps_per_epoch(run, args) // 2))
  return _argv(argv[0], flags)


# -- records ------------------------------------------------------------------


def held_out_score(task, args, eval_history):
  """Best over the evaluations of the task's GLUE score (the mean of its
  GLUE metrics, as the dev score), from each evaluation's metrics."""
  names = glue_task(task, args).score_metrics
  return max(statistics.mean(entry[name] for name in names)
             for entry in eval_history)


def execute(run, args):
  """Runs (or resumes) one run; caches its record."""
  if checkpoint_missing(run, args):
    return rebuild_checkpoint(run, args)
  argv = command(run, args)

  def make_record(metrics, versions):
    record = study.summarize(study.Run(run.task, run.method, run.seed),
                             args, argv, metrics, versions)
    record["selection"] = run.selection
    if run.setting is not None:
      record["setting"] = {"name": run.setting.name,
                           **dataclasses.asdict(run.setting)}
    if run.selection:
      record["held_out_score"] = held_out_score(
          run.task, args, metrics["eval_history"])
    return record

  if run.selection:
    write_split(run.task, args)
  return study.execute_command(run.label, argv, run_dir(run, args),
                               result_path(run, args), args.threads,
                               make_record, tag=TAG)


def rebuild_checkpoint(run, args):
  """Retrains the recorded predecessor `run` whose checkpoint is missing.

  Its compression runs must all compress one teacher: the retrained one
  counts as the recorded one only if every dev evaluation scores the same
  (training is deterministic on the same threads and versions). Otherwise
  its run folder is moved aside, so that nothing compresses it, and the
  rebuild fails. Returns whether the checkpoint is back.
  """
  out = run_dir(run, args)
  retrained = out / "retrained.json"  # The recorded one stays as it was.
  if not study.execute_command(
      f"{run.label} (retraining its missing checkpoint)", command(run, args),
      out, retrained, args.threads, lambda metrics, _: {}, tag=TAG):
    return False
  recorded = [e["score"] for e in load_record(run, args)["eval_history"]]
  now = [e["score"] for e in json.loads(retrained.read_text())[
      "eval_history"]]
  if len(now) == len(recorded) and all(
      math.isclose(a, b, rel_tol=1e-6) for a, b in zip(now, recorded)):
    return True
  aside = out.with_name(out.name + "-differs")
  if aside.exists():
    shutil.rmtree(aside)
  out.rename(aside)
  _say(f"[{TAG}] FAILED {run.label}: the retrained predecessor differs "
       f"from the recorded one (dev scores {now} vs {recorded}); it is in "
       f"{aside}. The task's compression runs so far compressed the "
       "recorded one: delete their records to redo them with a new "
       "predecessor.")
  return False


def load_record(run, args):
  path = result_path(run, args)
  return json.loads(path.read_text()) if path.exists() else None


def score(run, args):
  """x100: the held-out score of a selection run, else the best dev score;
  None if not cached."""
  record = load_record(run, args)
  if record is None:
    return None
  if run.selection:
    return 100 * record["held_out_score"]
  return 100 * record["best"]["score"]


# -- the staged plan ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stage:
  """Runs that can be planned together.

  Attributes:
    name: For messages and the report.
    runs: Its runs, or None while they depend on unfinished stages.
    waits_on: Names of the stages that must be complete first.
    compresses: Name of the predecessor stage whose checkpoint its runs
      compress (None for a predecessor).
    waits_elsewhere: What else its runs wait on, in words: stages of other
      tasks (None: only `waits_on`).
  """
  name: str
  runs: tuple
  waits_on: tuple = ()
  compresses: str = None
  waits_elsewhere: str = None


def choose(runs, args):
  """The setting of the run with the best score (ties: the earlier run);
  None unless every run is cached."""
  scores = [score(run, args) for run in runs]
  if not runs or any(s is None for s in scores):
    return None
  best = max(range(len(runs)), key=lambda i: (scores[i], -i))
  return runs[best].setting


def _selection_runs(task, settings):
  return tuple(Round2Run(task, s, SELECTION_SEED, True) for s in settings)


def _dev_runs(task, setting, args):
  if setting is None:
    return None
  return tuple(Round2Run(task, setting, seed, False) for seed in args.seeds)


def baseline_runs(task, method):
  """The selection runs of a baseline: one per learning rate."""
  return _selection_runs(task, [Setting(method, rate)
                                for rate in LEARNING_RATES])


def theseus_path(task, args):
  """`[(axis, runs, chosen setting)]` of the Theseus axes in order: an
  axis's runs are None until the previous axis has chosen, its choice None
  until all its runs are cached."""
  path, current = [], PAPER_RECIPE
  for axis in AXES:
    runs = None if current is None else _selection_runs(
        task, [dataclasses.replace(current, **{axis.field: value})
               for value in axis.values])
    current = None if runs is None else choose(runs, args)
    path.append((axis, runs, current))
  return path


def per_task_recipe(task, args):
  """The Theseus setting `task`'s selection chose; None until it ends."""
  return theseus_path(task, args)[-1][2]


def overall_recipe(recipes):
  """Each axis's value chosen on most of `recipes` (a tie keeps the paper
  recipe's value); None without recipes."""
  if not recipes:
    return None
  values = {}
  for axis in AXES:
    votes = [getattr(recipe, axis.field) for recipe in recipes]
    # Counted in the axis's order, so that a tie keeps the earlier value.
    values[axis.field] = max(axis.values, key=lambda v, votes=votes: (
        votes.count(v), -axis.values.index(v)))
  return dataclasses.replace(PAPER_RECIPE, **values)


def recommended_recipe(args):
  """The CLI's Theseus defaults: the overall recipe of every task of the
  preset; None until each has chosen."""
  recipes = [per_task_recipe(task, args) for task in args.preset.tasks]
  return None if None in recipes else overall_recipe(recipes)


def settled_values(args):
  """`{Setting field: value}` of the axes whose recommended value the tasks
  still choosing cannot change, whichever values they choose."""
  recipes = [per_task_recipe(task, args) for task in args.preset.tasks]
  chosen = [recipe for recipe in recipes if recipe is not None]
  settled = {}
  for axis in AXES:
    outcomes = {
        getattr(overall_recipe(chosen + [dataclasses.replace(
            PAPER_RECIPE, **{axis.field: value})] * recipes.count(None)),
                axis.field)
        for value in axis.values}
    if len(outcomes) == 1:
      settled[axis.field] = outcomes.pop()
  return settled


def chosen_settings(task, args):
  """`{row: Setting or None}` of the dev runs: "finetune" and "distill" at
  their chosen learning rates, "theseus" (the paper recipe),
  "theseus-per-task" (the task's chosen recipe) and "theseus-recommended"
  (`recommended_recipe`)."""
  chosen = {method: choose(baseline_runs(task, method), args)
            for method in BASELINES}
  chosen["theseus"] = PAPER_RECIPE
  chosen["theseus-per-task"] = per_task_recipe(task, args)
  chosen["theseus-recommended"] = recommended_recipe(args)
  return chosen


def axis_stage_name(axis):
  return f"Theseus: {axis.title}"


def task_plan(task, args):
  """`task`'s stages, in order; each stage's runs as far as the cached
  records let them be known."""
  teacher = Round2Run(task, None, study.PREDECESSOR_SEED, False)
  selection_teacher = Round2Run(task, None, study.PREDECESSOR_SEED, True)
  stages = [Stage("selection predecessor", (selection_teacher,)),
            Stage("predecessor", (teacher,)),
            Stage("baselines: learning rate",
                  sum((baseline_runs(task, m) for m in BASELINES), ()),
                  ("selection predecessor",), "selection predecessor")]
  previous = "selection predecessor"
  for axis, runs, _ in theseus_path(task, args):
    stages.append(Stage(axis_stage_name(axis), runs, (previous,),
                        "selection predecessor"))
    previous = axis_stage_name(axis)
  chosen = chosen_settings(task, args)
  baselines = [chosen[method] for method in BASELINES]
  stages += [
      Stage("dev: Theseus paper recipe",
            _dev_runs(task, PAPER_RECIPE, args), ("predecessor",),
            "predecessor"),
      Stage("dev: baselines", None if None in baselines else sum(
          (_dev_runs(task, setting, args) for setting in baselines), ()),
            ("predecessor", "baselines: learning rate"), "predecessor"),
      Stage("dev: Theseus per-task recipe",
            _dev_runs(task, chosen["theseus-per-task"], args),
            ("predecessor", previous), "predecessor"),
      Stage("dev: Theseus recommended recipe",
            _dev_runs(task, chosen["theseus-recommended"], args),
            ("predecessor", previous), "predecessor",
            waits_elsewhere="every task's Theseus selection")]
  return stages


def is_complete(stage, args):
  return stage.runs is not None and all(
      result_path(run, args).exists() for run in stage.runs)


def checkpoint_missing(run, args):
  """Whether `run` is a recorded predecessor whose checkpoint is gone (the
  records are committed, `runs/` is not: a fresh machine has none)."""
  if run.setting is None and result_path(run, args).exists():
    metrics = run_dir(run, args) / "metrics.json"
    return not (metrics.exists()
                and json.loads(metrics.read_text()).get("completed"))
  return False


def stage_status(stages, args):
  """`{stage name: "done" | "runnable" | "rebuild" | "waiting"}`.

  "rebuild": a predecessor whose record is cached but whose checkpoint is
  missing while stages that compress it are still to run; they wait until
  it is retrained (`rebuild_checkpoint`).
  """
  complete = {s.name for s in stages if is_complete(s, args)}
  rebuild = {
      stage.name for stage in stages if stage.name in complete
      and any(checkpoint_missing(run, args) for run in stage.runs)
      and any(other.compresses == stage.name and other.name not in complete
              for other in stages)}
  complete -= rebuild
  status = {}
  for stage in stages:
    if stage.name in rebuild:
      status[stage.name] = "rebuild"
    elif stage.name in complete:
      status[stage.name] = "done"
    elif stage.runs is not None and set(stage.waits_on) <= complete:
      status[stage.name] = "runnable"
    else:
      status[stage.name] = "waiting"
  return status


def runnable_runs(args):
  """Uncached runs of every runnable stage and the predecessors to rebuild,
  task by task, without duplicates (a setting may be in two stages)."""
  runs = {}
  for task in args.tasks:
    stages = task_plan(task, args)
    status = stage_status(stages, args)
    for stage in stages:
      if status[stage.name] in ("runnable", "rebuild"):
        for run in stage.runs:
          if (not result_path(run, args).exists()
              or checkpoint_missing(run, args)):
            runs.setdefault(run.label, run)
  return list(runs.values())


def describe_plan(args):
  """Lines: each task's stages: done, runnable, to rebuild or waiting on
  which."""
  lines = []
  for task in args.tasks:
    stages = task_plan(task, args)
    status = stage_status(stages, args)
    for stage in stages:
      line = f"[{TAG}] {task}: {stage.name}: {status[stage.name]}"
      if status[stage.name] == "waiting":
        pending = [f"'{s}'" for s in stage.waits_on if status[s] != "done"]
        if stage.runs is None and stage.waits_elsewhere:
          pending.append(stage.waits_elsewhere)
        line += " on " + ", ".join(pending)
      elif status[stage.name] == "runnable":
        todo = [r for r in stage.runs if not result_path(r, args).exists()]
        line += f" ({len(todo)} of {len(stage.runs)} runs to go)"
      elif status[stage.name] == "rebuild":
        line += " (its checkpoint is missing: retraining it)"
      lines.append(line)
  return lines


# -- run ----------------------------------------------------------------------


def run_study(args):
  """Runs the runnable stages, `--jobs` runs at a time, planning the next
  stages as their records arrive, until nothing more can run."""
  for line in describe_plan(args):
    print(line, flush=True)
  if args.dry_run:
    runs = runnable_runs(args)
    print(f"[{TAG}] the {len(runs)} runs runnable now (the split files are "
          f"written by `run` under {args.runs_dir}/<task>/split/):",
          flush=True)
    study.print_commands(runs, lambda run: command(run, args))
    return 0
  started, failed = set(), set()
  in_flight = set()
  lock = threading.Lock()

  def next_run():
    """`(a runnable run nobody has started or None, whether all is done)`.

    All is done when nothing is runnable and nothing runs: only a finished
    run (its record written before it leaves `in_flight`) makes new runs
    runnable. Both are read under one lock, so that no job stops while
    another's finished run is about to make more runnable.
    """
    with lock:
      for run in runnable_runs(args):
        if run.label not in started:
          started.add(run.label)
          in_flight.add(run.label)
          return run, False
      return None, not in_flight

  def worker():
    while True:
      run, done = next_run()
      if done:
        return
      if run is None:
        time.sleep(5)  # The next stage waits on runs of other jobs.
        continue
      ok = execute(run, args)
      with lock:
        in_flight.discard(run.label)
        if not ok:
          failed.add(run.label)

  study.run_workers(worker, args.jobs)
  write_report(args)
  return study.failure_status(failed, TAG)


# -- report -------------------------------------------------------------------

DEV_ROWS = ("predecessor", "finetune", "distill", "theseus",
            "theseus-per-task", "theseus-recommended")
THESEUS_ROWS = ("theseus", "theseus-per-task", "theseus-recommended")


def row_names(preset):
  return {**study.method_names(preset),
          "theseus": "BERT-of-Theseus, paper recipe",
          "theseus-per-task": "BERT-of-Theseus, per-task recipe",
          "theseus-recommended":
              "BERT-of-Theseus, recommended recipe (CLI defaults)"}


def dev_runs_by_row(task, args):
  """`{row: dev runs}` of the rows whose settings are chosen."""
  rows = {"predecessor": (Round2Run(task, None, study.PREDECESSOR_SEED,
                                    False),)}
  for row, setting in chosen_settings(task, args).items():
    if setting is not None:
      rows[row] = _dev_runs(task, setting, args)
  return rows


def load_dev(args):
  """`({task: {row: {seed: score}}}, {task: {row: {seed: curve}}})` of the
  cached dev runs (scores and curves x100). A row whose runs are an earlier
  row's has its scores but no curves (they would hide each other)."""
  results, curves = {}, {}
  for task in args.tasks:
    drawn = set()
    for row, runs in dev_runs_by_row(task, args).items():
      repeated = runs in drawn
      drawn.add(runs)
      for run in runs:
        record = load_record(run, args)
        if record is None:
          continue
        results.setdefault(task, {}).setdefault(row, {})[run.seed] = (
            100 * record["best"]["score"])
        points = [(e["step"], 100 * e["score"])
                  for e in record.get("eval_history", ())]
        if points and not repeated:
          curves.setdefault(task, {}).setdefault(row, {})[run.seed] = points
  return results, curves


def _score_cell(run, args):
  value = score(run, args)
  return "not run yet" if value is None else f"{value:.1f}"


def _selection_rows(task, args):
  """Table rows of every selection run of `task`, by stage."""
  name = args.preset.tasks[task].name
  teacher = Round2Run(task, None, study.PREDECESSOR_SEED, True)
  lines = [f"| {name} | predecessor on the 90% | round 1's recipe | "
           f"{_score_cell(teacher, args)} | |"]
  methods = study.method_names(args.preset)
  for method in BASELINES:
    runs = baseline_runs(task, method)
    chosen = choose(runs, args)
    for run in runs:
      kept = "kept" if chosen is not None and run.setting == chosen else ""
      lines.append(f"| {name} | {methods[method]} | "
                   f"{run.setting.describe()} | {_score_cell(run, args)} | "
                   f"{kept} |")
  for axis, runs, chosen in theseus_path(task, args):
    if runs is None:
      lines.append(f"| {name} | Theseus: {axis.title} | not planned yet "
                   "(waits on the previous axis) | not run yet | |")
      continue
    for run in runs:
      kept = ("kept" if chosen is not None and
              run.setting.name == chosen.name else "")
      lines.append(f"| {name} | Theseus: {axis.title} | "
                   f"{run.setting.describe()} | {_score_cell(run, args)} | "
                   f"{kept} |")
  return lines


def _chosen_table(args, tasks):
  lines = ["| task | Fine-tuning | Vanilla KD | BERT-of-Theseus |",
           "|---|---|---|---|"]
  for task, name in tasks.items():
    chosen = chosen_settings(task, args)
    cells = [("not chosen yet" if chosen[row] is None else
              chosen[row].describe())
             for row in ("finetune", "distill", "theseus-per-task")]
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return lines + ["", _recommended_line(args)]


def _recommended_line(args):
  """The recommended recipe in words: chosen so far, or final, and which
  rows share its runs."""
  everyone = args.preset.tasks
  recipes = {task: per_task_recipe(task, args) for task in everyone}
  chosen = [recipe for recipe in recipes.values() if recipe is not None]
  text = ("Recommended recipe, the CLI defaults (each axis's value chosen "
          "on most tasks; a tie keeps the paper recipe's value): ")
  if not chosen:
    return text + "not chosen yet (no task has finished its selection)."
  recipe = overall_recipe(chosen)
  if len(chosen) < len(everyone):
    return text + (f"so far {recipe.describe()} (from {len(chosen)} of "
                   f"{len(everyone)} tasks; its dev runs wait on all).")
  text += f"{recipe.describe()}."
  if recipe == PAPER_RECIPE:
    return text + (" It is the paper recipe: its dev row repeats the paper "
                   "recipe's runs, the defaults' evidence.")
  same = [everyone[t].name for t, r in recipes.items() if r == recipe]
  if same:
    text += (f" It is the per-task recipe of {', '.join(same)}: there, both "
             "rows are the same runs.")
  return text


def goal_lines(medians, tasks, names):
  """Issue #19's goal checked on the dev medians, for each Theseus recipe:
  per task, whether Theseus >= KD >= fine-tuning; the share of the
  teacher's macro score; whether both hold."""
  lines = [f"The goal (issue #19), on these medians: BERT-of-Theseus >= "
           f"Vanilla KD >= fine-tuning on every task, and >= {GOAL_SHARE:g}% "
           "of the teacher's macro score:", "",
           "| recipe | " + " | ".join(tasks.values()) +
           " | % of teacher | goal met |", "|---" * (len(tasks) + 3) + "|"]
  teacher = study.macro_score(medians["predecessor"], tasks)
  for row in THESEUS_ROWS:
    orders = []
    for task in tasks:
      chain = [medians[r][task] for r in (row, "distill", "finetune")]
      orders.append(None if None in chain else
                    chain[0] >= chain[1] >= chain[2])
    macro = study.macro_score(medians[row], tasks)
    share = None if macro is None or not teacher else 100 * macro / teacher
    # A finished task's order is final, so one "no" settles the goal.
    if False in orders or (share is not None and share < GOAL_SHARE):
      met = "no"
    else:
      met = "–" if share is None else "yes"
    cells = ["–" if ok is None else ("yes" if ok else "no") for ok in orders]
    cells += [_fmt(share), met]
    lines.append(f"| {names[row]} | " + " | ".join(cells) + " |")
  return lines


def protocol_lines(args):
  preset = args.preset
  budgets = ", ".join(f"{s.name} {s.compress_epochs:g} epochs"
                      for s in preset.tasks.values())
  axes = "; ".join(f"{axis.title}: " + " vs ".join(
      axis.value_text(v) for v in axis.values) for axis in AXES)
  return [
      f"Round 2 ({args.preset_name}: all-MiniLM-L6-v2 {preset.depth} -> "
      f"{preset.num_layers} layers). The predecessors are fine-tuned "
      "with round 1's commands (seed 42), but not to round 1's weights: "
      "the training input's shuffle has changed since (a keyed "
      "permutation computed per position instead of tf.data's shuffle "
      "buffer), so each teacher saw its "
      "examples in another order and its dev score differs from round 1's; "
      "every share of the teacher below is of round 2's teacher. Training "
      "is deterministic on one machine: a predecessor whose checkpoint is "
      "gone (`runs/` is not committed) is retrained with its command before "
      "anything compresses it, and used only if every dev evaluation scores "
      "as recorded (MRPC's, retrained on 2026-12-01, did to the last "
      "digit). Every "
      "compression method gets the same "
      f"budget ({budgets}), batch {study.BATCH_SIZE} and evaluation twice "
      "per epoch.", "",
      "No setting is chosen on dev. Each task's GLUE training set is split "
      f"once (seed {SPLIT_SEED}, stratified by label) into 90% for training "
      f"and {100 * HELD_OUT_SHARE:.0f}% held out; the selection runs (seed "
      f"{SELECTION_SEED}) train on the 90% and are scored on the held-out "
      "10% (the task's GLUE metric: the mean of F1 and accuracy for MRPC, "
      "Matthews correlation for CoLA, accuracy otherwise; the best of the "
      "run's evaluations, as on dev), compressing a predecessor fine-tuned "
      "on the 90% only, with round 1's recipe. Fine-tuning and KD each try "
      "the learning rates " + " and ".join(f"{r:g}" for r in LEARNING_RATES)
      + ". BERT-of-Theseus starts from the paper recipe ("
      f"{PAPER_RECIPE.describe()}) and goes through one axis at a time "
      f"({axes}), keeping the value with the best held-out score (a tie "
      "keeps the earlier, the paper's) and carrying it into the next axis. "
      "Then, on the full training set and scored on dev, with seeds "
      f"{', '.join(map(str, args.seeds))}: fine-tuning and KD at their "
      "chosen learning rates, and Theseus with three recipes: the paper's; "
      "the task's own chosen one (per-task); and the recommended one, "
      "each axis's value chosen on most of the four tasks (a tie keeps the "
      "paper's), which `theseus-tf compress` uses by default "
      "(`trainers/recipe.py`), but for the learning rate: that is the "
      "model's, and compress keeps BERT-base's 2e-5. "
      "`--unfreeze-shared` (embeddings, pooler and head trained once "
      "p = 1) is not an axis: round 1's sensitivity check found it within "
      "seed noise on MRPC and RTE, and it cannot be combined with the KD "
      "term, whose teacher shares those layers."]


def missing_lines(args):
  """What is not run yet: the known runs without records, and the stages
  still waiting to be planned."""
  missing, unplanned = [], []
  for task in args.tasks:
    for stage in task_plan(task, args):
      if stage.runs is None:
        unplanned.append(f"{task}: {stage.name}")
        continue
      missing += [run.label for run in stage.runs
                  if not result_path(run, args).exists()]
  missing = list(dict.fromkeys(missing))
  if not missing and not unplanned:
    return []
  lines = [""]
  if missing:
    lines.append(f"Not run yet ({len(missing)} runs planned): " +
                 ", ".join(missing) + ".")
  if unplanned:
    lines.append("Not planned yet (their settings wait on earlier stages): "
                 + "; ".join(unplanned) + ".")
  lines.append("`python -m benchmarks.reproduction_study run --preset "
               f"{args.preset_name}` runs what can run; a `–` in the tables "
               "is a cell not run yet.")
  return lines


def report_markdown(args):
  """Round 2's section of docs/RESULTS.md, from the cached records."""
  preset = args.preset
  tasks = {t: preset.tasks[t].name for t in args.tasks}
  names = row_names(preset)
  results, _ = load_dev(args)
  medians = {row: {t: _median(results.get(t, {}).get(row, {}))
                   for t in tasks} for row in DEV_ROWS}
  lines = [study.BEGIN_MARK.format(args.preset_name), "",
           "**Round 2: every setting chosen on held-out data (issue #19).**",
           ""]
  lines += protocol_lines(args)
  lines += ["", "Every selection run (held-out score x100; kept: the value "
            "carried on):", "",
            "| task | stage | setting | held-out score | |",
            "|---|---|---|---|---|"]
  for task in tasks:
    lines += _selection_rows(task, args)
  lines += ["", "The chosen settings:", ""] + _chosen_table(args, tasks)
  lines += ["", "GLUE dev (best dev score x100, median over seeds):", ""]
  lines += _score_table(names, medians, tasks, rows=DEV_ROWS)
  lines += [""] + goal_lines(medians, tasks, names)
  lines += ["", "The paper's Table 2 (BERT-base 12 -> 6 layers; GLUE dev, "
            "median of 5 runs; the BERT-base row from its Table 7):", ""]
  lines += _score_table(
      {**study.method_names(preset), "predecessor": "BERT-base (12 layers)",
       "finetune": "Fine-tuning (bottom 6 layers)"},
      {m: {t: study.PAPER_TABLE_2[m].get(t) for t in tasks}
       for m in study.PAPER_TABLE_2}, tasks)
  lines += ["", "Every dev run (best dev score x100; one predecessor per "
            f"task, seed {study.PREDECESSOR_SEED}):", ""]
  lines += _seed_table(names, results, tasks, rows=DEV_ROWS,
                       seeds=tuple(args.seeds))
  lines += missing_lines(args)
  curves = study.curves_path(args)
  if curves.exists():
    link = os.path.relpath(curves, study.RESULTS_MD.parent)
    lines += ["", "Dev score against training step (thin: each seed; thick: "
              "the median over seeds; dashed: the predecessor's best), "
              f"drawn by `report`: ![learning curves]({link})"]
  lines += ["", study.END_MARK.format(args.preset_name)]
  return "\n".join(lines)


def write_report(args):
  """Replaces round 2's section of docs/RESULTS.md (appends it if new) and
  draws its learning curves."""
  _, curves = load_dev(args)
  study.plot_curves(args, study.curves_path(args), curves=curves,
                    rows=DEV_ROWS[1:], names=row_names(args.preset))
  study.write_section(study.BEGIN_MARK.format(args.preset_name),
                      study.END_MARK.format(args.preset_name),
                      report_markdown(args), tag=TAG)
