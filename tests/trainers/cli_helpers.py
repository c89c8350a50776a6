"""Helpers of the `theseus-tf` tests: running the command, reading its files."""

import json
import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


class CliResult:
  """Exit status and output of one `theseus-tf` run."""

  def __init__(self, returncode, stdout, stderr):
    self.returncode = returncode
    self.stdout = stdout
    self.stderr = stderr

  @property
  def error_lines(self):
    return [line for line in self.stderr.splitlines() if line.strip()]


def cli_command(*argv):
  """The `theseus-tf` command line as a subprocess argument list."""
  return [sys.executable, "-m", "trainers.cli"] + [str(a) for a in argv]


def cli_env(**extra):
  """Environment of a `theseus-tf` subprocess (same Keras mode as the tests)."""
  env = dict(os.environ)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  env["PYTHONPATH"] = os.pathsep.join(
      [str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
  env.update(extra)
  return env


def run_subprocess(*argv, timeout=300, **env):
  """Runs `theseus-tf` in a new process; returns a `CliResult`."""
  done = subprocess.run(cli_command(*argv), cwd=REPO_ROOT, env=cli_env(**env),
                        capture_output=True, text=True, timeout=timeout)
  return CliResult(done.returncode, done.stdout, done.stderr)


def read_json(path):
  return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
