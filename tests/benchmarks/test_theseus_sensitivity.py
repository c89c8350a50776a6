"""The sensitivity check's driver: one change per variant, cache, report."""

import json

import pytest

from benchmarks import reproduction_study as study
from benchmarks import theseus_sensitivity as sensitivity


@pytest.fixture
def args(tmp_path, glue_dir):
  return sensitivity.parse_args([
      "run", "--data-dir", str(glue_dir), "--model", "path/to/minilm",
      "--study-runs-dir", str(tmp_path / "study-runs"),
      "--study-results-dir", str(tmp_path / "study-results"),
      "--runs-dir", str(tmp_path / "runs"),
      "--results-dir", str(tmp_path / "results")])


@pytest.mark.parametrize("variant, changed", [
    ("constant", {"--schedule": "constant", "--replacement-rate": "0.5",
                  "--base-rate": "absent"}),
    ("base-0.1", {"--base-rate": "0.1"}),
    ("ramp-quarter", {"--replacing-steps": "115"}),
    ("ramp-full", {"--replacing-steps": "460"}),
    ("unfreeze-shared", {"--unfreeze-shared": None}),
    ("lr-5e-5", {"--learning-rate": "5e-05"}),
])
def test_each_variant_changes_only_its_flags(args, variant, changed):
  run = sensitivity.SensitivityRun("mrpc", variant, 2)
  ours = study.command_flags(sensitivity.command(run, args))
  theirs = study.command_flags(study.command(run.study_run(), args.study))
  assert ours.pop("--output-dir").endswith(f"runs/mrpc/{variant}-seed2")
  theirs.pop("--output-dir")
  differing = {flag for flag in set(ours) | set(theirs)
               if ours.get(flag, "absent") != theirs.get(flag, "absent")}
  assert differing == set(changed)
  for flag, value in changed.items():
    assert ours.get(flag, "absent") == value
  assert theirs["--replacing-steps"] == "230"  # MRPC: half of 460 steps.


def test_unknown_variant_is_an_error(capsys):
  with pytest.raises(SystemExit):
    sensitivity.parse_args(["run", "--variants", "constant,cosine"])
  assert "unknown variant(s) ['cosine']" in capsys.readouterr().err


def test_run_needs_the_studys_trained_predecessors(args, tmp_path, capsys):
  # A fresh clone has the study's cached results but not its models.
  (tmp_path / "study-runs" / "rte" / "predecessor" / "best_model").mkdir(
      parents=True)
  assert sensitivity.run_all(args) == 2
  err = capsys.readouterr().err
  assert "no trained predecessor at " in err
  assert "mrpc/predecessor/best_model" in err and "rte/" not in err
  assert "theseus-tf finetune --model path/to/minilm " in err
  assert not (tmp_path / "runs").exists()


def _record(directory, task, name, score):
  path = directory / task / f"{name}.json"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps({"best": {"score": score}}))


def test_report_puts_variants_beside_the_study(args, tmp_path):
  args.seeds = [1, 2]
  _record(tmp_path / "study-results", "rte", "theseus-seed1", 0.55)
  _record(tmp_path / "study-results", "rte", "theseus-seed2", 0.53)
  _record(tmp_path / "study-results", "mrpc", "finetune-seed1", 0.78)
  _record(tmp_path / "results", "rte", "base-0.1-seed1", 0.60)
  text = sensitivity.report_markdown(args)
  assert "| Theseus variant | RTE | MRPC |" in text
  assert "p = 1 at half the budget | 54.0 (55.0, 53.0) | – |" in text
  assert "(the grid's other b) | 60.0 (60.0, –) | – |" in text
  assert "| *for reference: Fine-tuning (bottom 3 layers)* | – | " in text
  assert "Not run yet (23 runs): rte/constant-seed1," in text
