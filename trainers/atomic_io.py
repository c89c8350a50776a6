"""Atomic writes: a reader (or a restarted run) sees the old version or the new
one, never a half-written file or folder, whenever the writer is killed."""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile


def atomic_write_bytes(path, data):
  """Writes `data` (bytes) to `path` through a temporary file and a rename.

  Args:
    path: The file to (over)write; its folder is created if needed.
    data: The new content.

  Returns:
    `path` as a `pathlib.Path`.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise
  return path


def atomic_write_text(path, text):
  """Writes `text` (UTF-8) to `path` with `atomic_write_bytes`."""
  return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
  """Writes `obj` as indented, key-sorted JSON with `atomic_write_text`."""
  return atomic_write_text(
      path, json.dumps(obj, indent=2, sort_keys=True, default=_to_json) + "\n")


def read_json(path, default=None):
  """The JSON content of `path`, or `default` if there is no such file."""
  path = pathlib.Path(path)
  if not path.is_file():
    return default
  return json.loads(path.read_text(encoding="utf-8"))


def _to_json(value):
  # numpy scalars (metrics) and paths.
  if hasattr(value, "item"):
    return value.item()
  if isinstance(value, os.PathLike):
    return os.fspath(value)
  raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _sibling(path, tag):
  return path.with_name(f".{path.name}.{tag}")


def replace_dir(path, write):
  """Replaces the folder `path` by one that `write(new_path)` creates.

  The new folder is written beside `path`, then swapped in with two renames.
  If the process dies in between, `recover_dir(path)` (called here first, and
  by every reader that cares) completes the swap or rolls it back.

  Args:
    path: The folder to create or replace.
    write: Called with a path that does not exist yet; must create the
      complete folder there.

  Returns:
    `path` as a `pathlib.Path`.
  """
  path = pathlib.Path(path)
  recover_dir(path)
  new, old = _sibling(path, "new"), _sibling(path, "old")
  write(new)
  # From here on `new` is complete: recover_dir may promote it.
  if path.exists():
    os.rename(path, old)
  os.rename(new, path)
  shutil.rmtree(old, ignore_errors=True)
  return path


def recover_dir(path):
  """Finishes or rolls back a `replace_dir` of `path` that was interrupted."""
  path = pathlib.Path(path)
  new, old = _sibling(path, "new"), _sibling(path, "old")
  if not path.exists() and old.exists():
    # Killed between the two renames: `new` is complete if it exists.
    os.rename(new if new.exists() else old, path)
  shutil.rmtree(old, ignore_errors=True)
  shutil.rmtree(new, ignore_errors=True)
  # Staging folders of an interrupted `save_pretrained(new)`.
  for stale in path.parent.glob(f".{new.name}.tmp-*"):
    shutil.rmtree(stale, ignore_errors=True)
