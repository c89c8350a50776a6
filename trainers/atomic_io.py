"""How `theseus-tf` writes files: atomically, and readable by others.

Atomic: a reader (or a restarted run) sees the old version or the new one,
never a half-written file or folder, whenever the writer is killed.
Readable: files get mode 0666 and folders 0777 minus the umask, as `cp`
would create them (0644/0755 under the usual umask 022), also where a
library wrote them through `tempfile` (0600/0700), so that a model server
running as another user can read what a command exported.
"""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

# Before the umask, as `open` and `mkdir` create them.
_FILE_MODE = 0o666
_DIR_MODE = 0o777


def _umask():
  mask = os.umask(0)  # Reading the umask means setting it: put it back.
  os.umask(mask)
  return mask


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
    os.chmod(tmp, _FILE_MODE & ~_umask())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise
  return path


def make_readable(path):
  """Gives `path` (and all it holds, for a folder) the umask's modes.

  Returns:
    `path` as a `pathlib.Path`.
  """
  path = pathlib.Path(path)
  mask = _umask()
  os.chmod(path, (_DIR_MODE if path.is_dir() else _FILE_MODE) & ~mask)
  if path.is_dir():
    for root, folders, files in os.walk(path):
      for name in folders:
        os.chmod(os.path.join(root, name), _DIR_MODE & ~mask)
      for name in files:
        os.chmod(os.path.join(root, name), _FILE_MODE & ~mask)
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
  make_readable(new)
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
