"""The reproduction study's driver: commands, scheduling, cache and report."""

import json
import threading

import pytest

from benchmarks import reproduction_study as study


@pytest.fixture
def args(tmp_path, glue_dir):
  return study.parse_args([
      "run", "--data-dir", str(glue_dir), "--model", "path/to/minilm",
      "--runs-dir", str(tmp_path / "runs"),
      "--results-dir", str(tmp_path / "results")])


def _flags(run, args):
  return study.command_flags(study.command(run, args))


def test_methods_share_data_budget_and_schedule(args):
  commands = {m: _flags(study.Run("mrpc", m, 1), args)
              for m in study.METHODS}
  assert {c.pop("--method") for c in commands.values()} == set(study.METHODS)
  for c in commands.values():
    c.pop("--output-dir")
  assert commands["finetune"] == commands["distill"] == commands["theseus"]
  theseus = commands["theseus"]
  # MRPC: 3,668 examples, 115 steps of 32; 4 epochs, p = 1 after 2.
  assert theseus["--epochs"] == "4"
  assert theseus["--replacing-steps"] == "230"
  assert theseus["--base-rate"] == "0.3"
  assert theseus["--eval-steps"] == "57"
  assert theseus["--model"].endswith("mrpc/predecessor/best_model")
  teacher = _flags(study.Run("cola", "predecessor", 42), args)
  assert teacher["--model"] == "path/to/minilm"
  assert "--reinit-head" in teacher
  assert teacher["--learning-rate"] == "0.0001"


def test_task_may_give_the_teacher_its_own_learning_rate(args):
  # RTE's teacher trains gentler and longer; its compression runs do not.
  teacher = _flags(study.Run("rte", "predecessor", 42), args)
  assert (teacher["--learning-rate"], teacher["--epochs"]) == ("3e-05", "8")
  theseus = _flags(study.Run("rte", "theseus", 1), args)
  assert (theseus["--learning-rate"], theseus["--epochs"]) == ("0.0001", "4")


def test_bert_base_preset_is_the_papers_setup(tmp_path, glue_dir):
  args = study.parse_args(["run", "--preset", "bert-base",
                           "--data-dir", str(glue_dir)])
  flags = _flags(study.Run("sst2", "theseus", 2), args)
  assert flags["--num-layers"] == "6"
  assert flags["--learning-rate"] == "2e-05"
  assert flags["--replacing-steps"] == "1000"
  assert "study-bert-base" in flags["--output-dir"]
  teacher = _flags(study.Run("sst2", "predecessor", 42), args)
  assert teacher["--model"] == "bert-base-uncased"


def test_unknown_task_is_an_error(capsys):
  with pytest.raises(SystemExit):
    study.parse_args(["run", "--tasks", "mrpc,qqp"])
  assert "unknown task(s) ['qqp']" in capsys.readouterr().err


def _record(args, run, score):
  path = study.result_path(run, args)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps({"method": run.method, "seed": run.seed,
                              "best": {"score": score}}))


def test_scheduling_skips_cached_runs_and_waits_for_predecessors(
    args, monkeypatch):
  args.tasks, args.seeds, args.jobs = ["mrpc", "rte"], [1, 2], 2
  _record(args, study.Run("mrpc", "predecessor", 42), 0.8)
  _record(args, study.Run("mrpc", "theseus", 1), 0.79)
  started, lock = [], threading.Lock()

  def fake_execute(run, _):
    with lock:
      started.append(run)
    if run.task == "rte" and run.method == "predecessor":
      return False  # Nothing of RTE may run after this.
    _record(args, run, 0.5)
    return True

  monkeypatch.setattr(study, "execute", fake_execute)
  monkeypatch.setattr(study, "write_report", lambda _: None)
  monkeypatch.setattr(study.time, "sleep", lambda _: None)
  assert study.run_study(args) == 1  # RTE's predecessor failed.
  names = {f"{r.task}/{r.name}" for r in started}
  assert names == {"rte/predecessor", "mrpc/finetune-seed1",
                   "mrpc/distill-seed1", "mrpc/finetune-seed2",
                   "mrpc/distill-seed2", "mrpc/theseus-seed2"}


def test_report_medians_macro_and_share(args, tmp_path, monkeypatch):
  scores = {"predecessor": [0.80], "finetune": [0.70, 0.74, 0.72],
            "distill": [0.71, 0.73, 0.75], "theseus": [0.78, 0.76, 0.77]}
  for task in study.PRESETS["minilm"].tasks:
    for method, values in scores.items():
      for seed, score in zip([42] if method == "predecessor" else study.SEEDS,
                             values):
        _record(args, study.Run(task, method, seed), score)
  text = study.report_markdown(args)
  assert ("| BERT-of-Theseus | 77.0 | 77.0 | 77.0 | 77.0 | 77.0 | 96.2 |"
          in text)
  assert "| Fine-tuning (bottom 3 layers) | 72.0 |" in text
  assert "| MRPC | Vanilla KD | 71.0 | 73.0 | 75.0 | 73.0 |" in text
  assert "Not run yet" not in text

  results_md = tmp_path / "RESULTS.md"
  results_md.write_text("# Results\n\nBefore.\n")
  monkeypatch.setattr(study, "RESULTS_MD", results_md)
  study.write_report(args)
  study.write_report(args)  # Replaces its own section: written once.
  written = results_md.read_text()
  assert written.startswith("# Results\n\nBefore.\n")
  assert written.count("| BERT-of-Theseus | 77.0") == 1


def test_report_draws_learning_curves(args, tmp_path, monkeypatch):
  history = {1: [(57, 0.70), (114, 0.74)], 2: [(57, 0.72), (114, 0.78)],
             3: [(57, 0.71), (114, 0.76)]}
  for seed, points in history.items():
    run = study.Run("mrpc", "theseus", seed)
    path = study.result_path(run, args)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "method": "theseus", "seed": seed, "best": {"score": points[-1][1]},
        "eval_history": [{"step": s, "score": v} for s, v in points]}))
  curves = study.load_curves(args)["mrpc"]["theseus"]
  steps, medians = study.median_curve(curves)
  assert steps == [57, 114]
  assert medians == pytest.approx([71.0, 76.0])

  monkeypatch.setattr(study, "RESULTS_MD", tmp_path / "RESULTS.md")
  (tmp_path / "RESULTS.md").write_text("# Results\n")
  study.write_report(args)
  png = study.curves_path(args)
  assert png.read_bytes().startswith(b"\x89PNG")
  assert "![learning curves](" in (tmp_path / "RESULTS.md").read_text()


def test_report_lists_missing_runs(args):
  _record(args, study.Run("sst2", "predecessor", 42), 0.9)
  text = study.report_markdown(args)
  assert "| Predecessor (6 layers) | – | – | – | 90.0 | – | – |" in text
  assert "Not run yet (39 runs): mrpc/predecessor," in text


def test_execute_caches_record_with_learning_curve(args, monkeypatch):
  run = study.Run("mrpc", "theseus", 1)
  out = study.run_dir(run, args)
  evals = [{"step": 57, "score": 0.70}, {"step": 114, "score": 0.75}]

  def fake_call(argv, **_):
    assert argv[-len(study.command(run, args)):] == study.command(run, args)
    metrics = {"completed": True, "best": {"score": 0.75, "step": 114},
               "final": {"score": 0.75}, "plan": {"total_steps": 114},
               "num_parameters": {"exported_model": 10},
               "train_examples": 64, "eval_examples": 16}
    for name, content in [("metrics.json", metrics), ("versions.json", {}),
                          ("trainer_state.json", {"eval_history": evals})]:
      (out / name).write_text(json.dumps(content))
    return 0

  monkeypatch.setattr(study.subprocess, "call", fake_call)
  assert study.execute(run, args)
  record = json.loads(study.result_path(run, args).read_text())
  assert (record["method"], record["seed"], record["task"]) == (
      "theseus", 1, "MRPC")
  assert record["best"]["score"] == 0.75
  assert record["eval_history"] == evals


def test_execute_caches_nothing_for_a_failed_run(args, monkeypatch):
  monkeypatch.setattr(study.subprocess, "call", lambda *_, **__: 1)
  run = study.Run("rte", "distill", 2)
  assert not study.execute(run, args)
  assert not study.result_path(run, args).exists()
