"""What a run records about itself: package versions and its metrics."""

import importlib.metadata
import platform
import sys

from trainers.atomic_io import atomic_write_json

VERSIONS_FILE = "versions.json"
METRICS_FILE = "metrics.json"

# Distributions whose versions decide a run's numbers.
_PACKAGES = ("theseus_tf", "tensorflow", "keras", "tf-keras", "transformers",
             "tokenizers", "safetensors", "numpy", "tensorboard",
             "tensorflow-datasets")


def package_versions():
  """Versions of Python, the platform, the packages and the Keras in use.

  Returns:
    A JSON-serialisable dict; an uninstalled package maps to None.
  """
  from theseus_tf.backend import IS_KERAS_3, keras  # TensorFlow import: lazy.
  versions = {
      "python": sys.version.split()[0],
      "platform": platform.platform(),
      "keras_in_use": ("keras " if IS_KERAS_3 else "tf-keras ") +
                      getattr(keras, "__version__", _version("tf-keras") or ""),
  }
  for name in _PACKAGES:
    versions[name] = _version(name)
  return versions


def _version(distribution):
  try:
    return importlib.metadata.version(distribution)
  except importlib.metadata.PackageNotFoundError:
    return None


def write_versions(run_dir):
  """Writes `versions.json` into `run_dir` (atomically)."""
  return atomic_write_json(run_dir / VERSIONS_FILE, package_versions())


def write_metrics(run_dir, metrics):
  """Writes `metrics.json` into `run_dir` (atomically)."""
  return atomic_write_json(run_dir / METRICS_FILE, metrics)
