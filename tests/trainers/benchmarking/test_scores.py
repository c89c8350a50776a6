"""`trainers.benchmarking.scores`: the dev sets that score the exports."""

import types

import pytest

from theseus_tf.data import make_file_task
from trainers import cli
from trainers.benchmarking import runner, scores
from trainers.commands import benchmark


def _dev_file(tmp_path):
  path = tmp_path / "dev.csv"
  path.write_text("text,label\n" + "".join(
      f"sentence {i},{'pos' if i % 2 else 'neg'}\n" for i in range(6)),
                  encoding="utf-8")
  return path


def _variant(tokenizer_dir):
  return types.SimpleNamespace(name="predecessor", tokenizer_dir=tokenizer_dir,
                               trained_head=True, score_from=None)


def test_dev_sets_of_files_go_to_the_token_cache_dir(tiny_model_dir, tmp_path,
                                                      monkeypatch):
  default = tmp_path / "default-cache"
  monkeypatch.setenv("THESEUS_TF_TOKEN_CACHE", str(default))
  task = make_file_task(validation_file=_dev_file(tmp_path))
  dev_sets = scores.load_dev_sets([_variant(tiny_model_dir)], task, None, 16,
                                  None, cache_dir=tmp_path / "mine")
  assert dev_sets[tiny_model_dir]["validation"].num_examples == 6
  assert any((tmp_path / "mine").rglob("meta.json"))
  assert not default.exists()


class _Stop(Exception):
  pass


def test_benchmark_passes_its_token_cache_dir(tiny_model_dir, tmp_path,
                                              monkeypatch):
  args, _ = cli.parse_args([
      "benchmark", "--model", str(tiny_model_dir), "--validation-file",
      str(_dev_file(tmp_path)), "--token-cache-dir", str(tmp_path / "mine"),
      "--output-dir", str(tmp_path / "out"), "--skip-training"])
  monkeypatch.setattr(runner.models, "load_variants",
                      lambda args, task: types.SimpleNamespace(
                          variants=[_variant(tiny_model_dir)]))
  monkeypatch.setattr(runner.models, "check_tokenizers",
                      lambda variants, seq_length: None)
  seen = {}

  def load_dev_sets(*args, **kwargs):
    seen.update(kwargs)
    raise _Stop()

  monkeypatch.setattr(runner.scores, "load_dev_sets", load_dev_sets)
  with pytest.raises(_Stop):
    runner.run(args, benchmark.check_flags(args))
  assert seen["cache_dir"] == str(tmp_path / "mine")
