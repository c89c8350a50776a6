"""Fixtures of the `theseus-tf` tests: small real-data runs on a tiny BERT."""

import pytest

from theseus_tf.backend import keras
from tests.trainers.benchmark_models import save_tiny_models
from tests.trainers.cli_helpers import CliResult
from trainers import cli


@pytest.fixture(scope="session")
def tiny_model_dir(fixtures_dir):
  """The tiny 4-layer BertForSequenceClassification (3 labels), tokenizer."""
  return fixtures_dir / "tiny-bert-classifier"


@pytest.fixture(scope="session")
def sst2_predecessor(tiny_model_dir, tmp_path_factory):
  """The tiny BERT with a fresh 2-label head: a predecessor for SST-2."""
  from theseus_tf.models import BertClassifier
  from theseus_tf.utils.transformers import (from_pretrained, load_tokenizer,
                                            save_pretrained)
  backbone = from_pretrained(tiny_model_dir, task="backbone")
  model = BertClassifier(backbone, num_classes=2, name="bert_classifier")
  folder = tmp_path_factory.mktemp("predecessor") / "tiny-sst2"
  save_pretrained(model, folder, tokenizer=load_tokenizer(tiny_model_dir))
  return folder


@pytest.fixture
def small_data(glue_dir):
  """Flags of a tiny SST-2 run: 48 training and 24 dev examples."""
  return ["--task", "sst2", "--data-dir", str(glue_dir),
          "--max-train-examples", "48", "--max-eval-examples", "24",
          "--max-seq-length", "32", "--batch-size", "8",
          "--logging-steps", "1", "--no-progress-bar"]


@pytest.fixture(autouse=True)
def _float32_policy():
  """Runs may set mixed precision globally: restore float32 afterwards."""
  yield
  keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def run_cli(capsys):
  """Runs `theseus-tf` in this process; returns a `CliResult`."""

  def run(*argv):
    capsys.readouterr()
    try:
      returncode = cli.main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse: --help, or its own errors.
      returncode = exit_.code
    captured = capsys.readouterr()
    return CliResult(returncode, captured.out, captured.err)

  return run


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
  """Benchmark folders: predecessor (2 layers), successor (1), narrow,
  headless (tests/trainers/benchmark_models.py)."""
  return save_tiny_models(tmp_path_factory.mktemp("benchmark-models"))
