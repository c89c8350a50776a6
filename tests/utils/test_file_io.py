"""Tests for theseus_tf.utils.file_io: atomic writes with normal permissions."""

import os
import stat

import pytest

from theseus_tf.utils import file_io


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
  previous = os.umask(request.param)
  yield request.param
  os.umask(previous)


def _mode(path):
  return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_bytes_respects_the_umask(tmp_path, umask):
  path = file_io.atomic_write_bytes(tmp_path / "sub" / "model.tflite", b"abc")
  assert path.read_bytes() == b"abc"
  assert _mode(path) == 0o666 & ~umask  # Not mkstemp's 0600.
  assert _mode(tmp_path / "sub") == 0o777 & ~umask
  assert [p.name for p in path.parent.iterdir()] == ["model.tflite"]


def test_atomic_write_overwrite_and_failure(tmp_path):
  path = file_io.atomic_write_text(tmp_path / "a.txt", "old")
  assert file_io.atomic_write_text(path, "new").read_text() == "new"
  with pytest.raises(FileExistsError, match="already exists"):
    file_io.atomic_write_bytes(path, b"newer", overwrite=False)
  with pytest.raises(TypeError):
    file_io.atomic_write_bytes(path, "not bytes")
  assert path.read_text() == "new"
  assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # No leftovers.


def test_staged_folder_becomes_the_target(tmp_path, umask):
  target = tmp_path / "parent" / "export"
  with file_io.staging_dir(target) as staging:
    assert staging.parent == target.parent and staging.name.startswith(
        ".export.tmp-")
    assert _mode(staging) == 0o777 & ~umask  # Not mkdtemp's 0700.
    (staging / "weights").write_bytes(b"w")
    file_io.move_into_place(staging, target)
  assert [p.name for p in target.parent.iterdir()] == ["export"]
  assert _mode(target) == 0o777 & ~umask
  assert (target / "weights").read_bytes() == b"w"


def test_staging_is_removed_on_error(tmp_path):
  with pytest.raises(RuntimeError, match="boom"):
    with file_io.staging_dir(tmp_path / "export") as staging:
      (staging / "half").write_text("written")
      raise RuntimeError("boom")
  assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_refused_unless_merging(tmp_path):
  target = tmp_path / "export"
  (target / "empty").mkdir(parents=True)
  existing = {"keep.txt": "mine", "config.json": "old",
              "model-00001-of-00002.safetensors": "stale"}
  for name, text in existing.items():
    (target / name).write_text(text)
  with file_io.staging_dir(target) as staging:
    (staging / "config.json").write_text("new")
    with pytest.raises(FileExistsError, match="already exists"):
      file_io.move_into_place(staging, target)
    file_io.move_into_place(staging, target, merge=True,
                            remove=["model-*-of-*.safetensors"],
                            last="config.json")
  assert sorted(p.name for p in target.iterdir()) == [
      "config.json", "empty", "keep.txt"]
  assert (target / "config.json").read_text() == "new"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_an_empty_target_folder_is_replaced(tmp_path):
  target = tmp_path / "export"
  target.mkdir()
  with file_io.staging_dir(target) as staging:
    (staging / "a").write_text("a")
    file_io.move_into_place(staging, target)
  assert [p.name for p in target.iterdir()] == ["a"]


def test_a_file_is_not_replaced_by_a_folder(tmp_path):
  (tmp_path / "export").write_text("a file")
  with file_io.staging_dir(tmp_path / "export") as staging:
    with pytest.raises(FileExistsError, match="not a folder"):
      file_io.move_into_place(staging, tmp_path / "export", merge=True)
  assert (tmp_path / "export").read_text() == "a file"
