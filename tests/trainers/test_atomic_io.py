"""The CLI's JSON records, folder swaps and recovery, and `make_readable`.

Plain atomic file writes and their modes are the library's
(`theseus_tf.utils.file_io`): tests/utils/test_file_io.py.
"""

import os

import pytest

from theseus_tf.utils.file_io import atomic_write_text
from trainers.atomic_io import (atomic_write_json, make_readable, read_json,
                                recover_dir, replace_dir)


def _write_folder(content):
  def write(folder):
    folder.mkdir()
    (folder / "weights").write_text(content)
  return write


def test_json_round_trip_leaves_no_temporary_files(tmp_path):
  path = atomic_write_json(tmp_path / "sub" / "m.json", {"b": 1, "a": [1.5]})
  atomic_write_json(path, {"b": 2, "a": [1.5]})
  assert path.read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 2\n}\n'
  assert read_json(path) == {"a": [1.5], "b": 2}
  assert read_json(tmp_path / "none.json", default={}) == {}
  assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.json", "sub"]


def test_failed_write_keeps_the_old_file(tmp_path):
  path = atomic_write_text(tmp_path / "a.json", "old")
  with pytest.raises(TypeError):
    atomic_write_json(path, {"x": object()})
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["a.json"]


def test_replace_dir_swaps_whole_folders(tmp_path):
  target = tmp_path / "best_model"
  replace_dir(target, _write_folder("v1"))
  replace_dir(target, _write_folder("v2"))
  assert (target / "weights").read_text() == "v2"
  assert os.listdir(tmp_path) == ["best_model"]


def test_failed_replace_keeps_the_old_folder(tmp_path):
  target = tmp_path / "best_model"
  replace_dir(target, _write_folder("v1"))

  def crash(folder):
    folder.mkdir()
    raise RuntimeError("killed while writing")

  with pytest.raises(RuntimeError):
    replace_dir(target, crash)
  recover_dir(target)
  assert (target / "weights").read_text() == "v1"
  assert os.listdir(tmp_path) == ["best_model"]


def test_recover_promotes_a_complete_new_folder(tmp_path):
  # Killed between the two renames: only the old (renamed) and new exist.
  target = tmp_path / "best_model"
  _write_folder("v1")(tmp_path / ".best_model.old")
  _write_folder("v2")(tmp_path / ".best_model.new")
  recover_dir(target)
  assert (target / "weights").read_text() == "v2"
  assert os.listdir(tmp_path) == ["best_model"]


def test_recover_rolls_back_without_a_new_folder(tmp_path):
  target = tmp_path / "best_model"
  _write_folder("v1")(tmp_path / ".best_model.old")
  (tmp_path / "..best_model.new.tmp-123").mkdir()  # save_pretrained staging
  recover_dir(target)
  assert (target / "weights").read_text() == "v1"
  assert os.listdir(tmp_path) == ["best_model"]


def _write_privately(folder):
  """A folder as tempfile makes them: 0700 folders, 0600 files."""
  folder.mkdir(mode=0o700)
  (folder / "inner").mkdir(mode=0o700)
  (folder / "inner" / "weights").write_text("w")
  os.chmod(folder / "inner" / "weights", 0o600)


@pytest.mark.parametrize("umask, folder_mode, file_mode", [
    (0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_written_folders_follow_the_umask_not_tempfile(tmp_path, umask,
                                                       folder_mode, file_mode):
  old = os.umask(umask)
  try:
    path = atomic_write_json(tmp_path / "a.json", {})
    model = replace_dir(tmp_path / "best_model", _write_privately)
    exported = tmp_path / "export"
    _write_privately(exported)
    make_readable(exported)
  finally:
    os.umask(old)
  assert path.stat().st_mode & 0o777 == file_mode
  for folder in (model, exported):
    for sub in (folder, folder / "inner"):
      assert sub.stat().st_mode & 0o777 == folder_mode, sub
    assert (folder / "inner" / "weights").stat().st_mode & 0o777 == file_mode
