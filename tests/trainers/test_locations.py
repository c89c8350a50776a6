"""Default locations come from the working directory, never the package."""

import pathlib

import pytest

import trainers
from trainers import cli, locations
from trainers.commands import demo
from trainers.errors import UsageError

PACKAGE_DIR = pathlib.Path(trainers.__file__).resolve().parent


@pytest.mark.parametrize("where", ["a", "b/c"])
def test_demo_defaults_follow_the_working_directory(tmp_path, monkeypatch,
                                                    where):
  cwd = tmp_path / where
  cwd.mkdir(parents=True)
  monkeypatch.chdir(cwd)
  args, _ = cli.parse_args(["demo"])
  output = demo.output_dir(args).resolve()
  assert output == cwd / "runs" / "demo"
  glue = locations.GLUE_DIR.resolve()
  assert glue == cwd.parent / "shared" / "data" / "glue"
  # As after a non-editable install: nothing under the package's folder.
  for path in (output, glue):
    assert PACKAGE_DIR not in path.parents
  with pytest.raises(UsageError, match=f"no SST-2 data in {locations.GLUE_DIR}"):
    demo.data_dir(args)
