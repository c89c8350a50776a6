"""How much BERT-of-Theseus depends on the study's fixed settings.

The reproduction study (benchmarks/reproduction_study.py) fixes its Theseus
settings in advance: linear curriculum from b = 0.3, p = 1 at half the
budget, the successor alone for the other half with embeddings, pooler and
head frozen, learning rate 1e-4. This changes one of them at a time, on the
study's own predecessors, data, budget and seeds, and reports the dev score
of each variant beside the study's. Chosen after the study's results were
seen, it is a sensitivity check: its best variant is not a result to quote
in place of the study's.

Every run is the study's `theseus-tf compress` command with some flags
changed, in `runs/sensitivity/<task>/<variant>-seed<N>/` (resumable), its
result cached in `docs/results/sensitivity/<task>/<variant>-seed<N>.json`.

  python -m benchmarks.theseus_sensitivity run                # MRPC, RTE
  python -m benchmarks.theseus_sensitivity run --tasks mrpc --seeds 1,2,3
  python -m benchmarks.theseus_sensitivity run --dry-run      # the commands
  python -m benchmarks.theseus_sensitivity report             # docs/RESULTS.md
"""

import argparse
import concurrent.futures
import dataclasses
import json
import pathlib
import statistics
import sys

from benchmarks import reproduction_study as study
from trainers.commands.flags import int_list

REPO = pathlib.Path(__file__).resolve().parents[1]

RUNS_DIR = REPO / "runs" / "sensitivity"
RESULTS_DIR = REPO / "docs" / "results" / "sensitivity"
BEGIN_MARK = ("<!-- theseus-sensitivity: begin (written by "
              "benchmarks/theseus_sensitivity.py report) -->")
END_MARK = "<!-- theseus-sensitivity: end -->"


@dataclasses.dataclass(frozen=True)
class Variant:
  """One change to the study's Theseus command.

  Attributes:
    description: What changes, for the table.
    flags: Flags set (value None: a switch), replacing the study's.
    drop: Flags of the study's command removed.
    replacing_scale: Multiplies the study's `--replacing-steps` (p = 1 at
      half the budget): 0.5 a quarter, 2 the whole budget.
  """
  description: str
  flags: dict = dataclasses.field(default_factory=dict)
  drop: tuple = ()
  replacing_scale: float = 1.0


VARIANTS = {
    "constant": Variant(
        "constant p = 0.5, then p = 1 at the same step (the paper's other "
        "schedule)", flags={"--schedule": "constant",
                            "--replacement-rate": "0.5"},
        drop=("--base-rate",)),
    "base-0.1": Variant("linear from b = 0.1 (the grid's other b)",
                        flags={"--base-rate": "0.1"}),
    "ramp-quarter": Variant("p = 1 at a quarter of the budget",
                            replacing_scale=0.5),
    "ramp-full": Variant(
        "p = 1 at the end of the budget (no successor-only phase)",
        replacing_scale=2.0),
    "unfreeze-shared": Variant(
        "embeddings, pooler and head also trained once p = 1",
        flags={"--unfreeze-shared": None}),
    "lr-5e-5": Variant("learning rate 5e-5 instead of 1e-4",
                       flags={"--learning-rate": "5e-05"}),
}
DEFAULT_TASKS = ("rte", "mrpc")


def _with_flags(argv, variant):
  """`argv` (a subcommand, then `--flag [value]` items) changed by
  `variant`."""
  flags = study.command_flags(argv)
  for flag in variant.drop:
    flags.pop(flag, None)
  flags.update(variant.flags)
  if variant.replacing_scale != 1.0:
    flags["--replacing-steps"] = str(
        round(int(flags["--replacing-steps"]) * variant.replacing_scale))
  out = [argv[0]]
  for flag, value in flags.items():
    out += [flag] if value is None else [flag, value]
  return out


@dataclasses.dataclass(frozen=True)
class SensitivityRun:
  task: str
  variant: str
  seed: int

  @property
  def name(self):
    return f"{self.variant}-seed{self.seed}"

  def study_run(self):
    return study.Run(self.task, "theseus", self.seed)


def command(run, args):
  argv = study.command(run.study_run(), args.study)
  argv = _with_flags(argv, VARIANTS[run.variant])
  argv[argv.index("--output-dir") + 1] = str(run_dir(run, args))
  return argv


def run_dir(run, args):
  return pathlib.Path(args.runs_dir) / run.task / run.name


def _predecessor_model(task, args):
  teacher = study.Run(task, "predecessor", study.PREDECESSOR_SEED)
  return study.run_dir(teacher, args.study) / "best_model"


def result_path(run, args):
  return pathlib.Path(args.results_dir) / run.task / f"{run.name}.json"


def planned_runs(args):
  """Variant by variant, so that an interrupted sitting covers whole rows."""
  return [SensitivityRun(task, variant, seed) for variant in args.variants
          for seed in args.seeds for task in args.tasks]


def execute(run, args):
  argv = command(run, args)

  def make_record(metrics, versions):
    record = study.summarize(run.study_run(), args.study, argv, metrics,
                             versions)
    return {**record, "variant": run.variant}

  return study.execute_command(
      f"{run.task}/{run.name}", argv, run_dir(run, args),
      result_path(run, args), args.threads, make_record, tag="sensitivity")


def run_all(args):
  """Runs every variant without a cached result, `--jobs` at a time."""
  runs = planned_runs(args)
  pending = study.uncached(runs, lambda run: result_path(run, args),
                           args.results_dir, tag="sensitivity")
  if args.dry_run:
    study.print_commands(pending, lambda run: command(run, args))
    return 0
  untrained = [task for task in args.tasks
               if not _predecessor_model(task, args).is_dir()]
  if untrained:
    for task in untrained:
      teacher = study.Run(task, "predecessor", study.PREDECESSOR_SEED)
      print(f"[sensitivity] no trained predecessor at "
            f"{_predecessor_model(task, args)}: every variant compresses the "
            "study's. Train it with the study's command:\n  theseus-tf " +
            " ".join(study.command(teacher, args.study)), file=sys.stderr)
    return 2
  with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    completed = list(pool.map(lambda run: execute(run, args), pending))
  write_report(args)
  return 0 if all(completed) else 1


def _score(results_dir, task, name):
  path = pathlib.Path(results_dir) / task / f"{name}.json"
  return 100 * json.loads(path.read_text())["best"]["score"] if (
      path.exists()) else None


def _cell(scores):
  """Mean of the seeds' scores, the seeds in brackets when several."""
  present = [s for s in scores if s is not None]
  if not present:
    return "–"
  text = f"{statistics.mean(present):.1f}"
  if len(scores) > 1:
    text += " (" + ", ".join("–" if s is None else f"{s:.1f}"
                             for s in scores) + ")"
  return text


def report_markdown(args):
  tasks = {t: args.study.preset.tasks[t].name for t in args.tasks}
  seeds = ", ".join(map(str, args.seeds))
  lines = [BEGIN_MARK, "",
           f"BERT-of-Theseus, one setting changed at a time (best dev score "
           f"x100, seed{'s' if len(args.seeds) > 1 else ''} {seeds}; the "
           "mean and each seed's score when several):", "",
           "| Theseus variant | " + " | ".join(tasks.values()) + " |",
           "|---" * (len(tasks) + 1) + "|"]
  study_dir = args.study.results_dir
  lines.append("| the study's: linear from b = 0.3, p = 1 at half the budget "
               "| " + " | ".join(
                   _cell([_score(study_dir, t, f"theseus-seed{s}")
                          for s in args.seeds]) for t in tasks) + " |")
  for name in args.variants:
    cells = [_cell([_score(args.results_dir, t, f"{name}-seed{s}")
                    for s in args.seeds]) for t in tasks]
    lines.append(f"| {VARIANTS[name].description} | " + " | ".join(cells) +
                 " |")
  names = study.method_names(args.study.preset)
  for method in ("finetune", "distill"):
    cells = [_cell([_score(study_dir, t, f"{method}-seed{s}")
                    for s in args.seeds]) for t in tasks]
    lines.append(f"| *for reference: {names[method]}* | " +
                 " | ".join(cells) + " |")
  missing = [f"{r.task}/{r.name}" for r in planned_runs(args)
             if not result_path(r, args).exists()]
  if missing:
    lines += ["", f"Not run yet ({len(missing)} runs): " + ", ".join(missing) +
              ". `python -m benchmarks.theseus_sensitivity run` completes "
              "them."]
  lines += ["", END_MARK]
  return "\n".join(lines)


def write_report(args):
  study.write_section(BEGIN_MARK, END_MARK, report_markdown(args),
                      tag="sensitivity")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n", maxsplit=1)[0],
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("action", choices=("run", "report"))
  parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
  parser.add_argument("--variants", default=",".join(VARIANTS),
                      help=f"comma-separated, of {list(VARIANTS)}")
  parser.add_argument("--seeds", type=int_list, default="1")
  parser.add_argument("--jobs", type=int, default=2)
  parser.add_argument("--threads", type=int, default=1,
                      help="TensorFlow threads per run (0: TF's default)")
  parser.add_argument("--data-dir", default=str(study.DEFAULT_DATA_DIR))
  parser.add_argument("--model", default=None,
                      help="the checkpoint the study's predecessors were "
                      "fine-tuned from (default: all-MiniLM-L6-v2), for the "
                      "command that trains a missing one")
  parser.add_argument("--study-runs-dir", default=None,
                      help="the study's run folders, with its predecessors "
                      "(default: the minilm preset's)")
  parser.add_argument("--study-results-dir", default=None,
                      help="the study's cached results (default: the "
                      "minilm preset's)")
  parser.add_argument("--runs-dir", default=str(RUNS_DIR))
  parser.add_argument("--results-dir", default=str(RESULTS_DIR))
  parser.add_argument("--dry-run", action="store_true",
                      help="print the commands of the runs still to do")
  args = parser.parse_args(argv)
  study_argv = ["run", "--tasks", args.tasks, "--data-dir", args.data_dir]
  if args.model:
    study_argv += ["--model", args.model]
  if args.study_runs_dir:
    study_argv += ["--runs-dir", args.study_runs_dir]
  if args.study_results_dir:
    study_argv += ["--results-dir", args.study_results_dir]
  args.study = study.parse_args(study_argv)
  args.tasks = args.study.tasks
  args.variants = [v.strip() for v in args.variants.split(",")]
  unknown = sorted(set(args.variants) - set(VARIANTS))
  if unknown:
    parser.error(f"unknown variant(s) {unknown}: choose from "
                 f"{list(VARIANTS)}")
  return args


def main(argv=None):
  return study.run_or_report(parse_args(argv), run_all, write_report)


if __name__ == "__main__":
  sys.exit(main())
