"""What `theseus-tf` adds to the library's atomic writes (`theseus_tf.utils.file_io`).

Files are written by `file_io.atomic_write_bytes`/`atomic_write_text` (a
temporary file and a rename; mode 0666 minus the umask, as `cp` gives).
Here: JSON records, `make_readable` for folders that a library wrote
through `tempfile` (0600/0700), and `replace_dir`/`recover_dir`, the
crash-safe swap of a whole checkpoint folder.
"""

import json
import os
import pathlib
import shutil


# Before the umask, as `open` and `mkdir` create them.
_FILE_MODE = 0o666
_DIR_MODE = 0o777


def _umask():
  mask = os.umask(0)  # Reading the umask means setting it: put it back.
  os.umask(mask)
  return mask


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


def atomic_write_json(path, obj):
  """Writes `obj` as indented, key-sorted JSON with `atomic_write_text`."""
  # Imported here: `theseus_tf` imports TensorFlow, which the CLI loads only
  # after parsing its flags and quieting TensorFlow's start-up logging.
  from theseus_tf.utils.file_io import atomic_write_text  # pylint: disable=import-outside-toplevel
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
