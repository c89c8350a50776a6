"""Atomic writes of artefacts, with the permissions a plain `cp` would give.

A reader (a model server, another user, a restarted run) sees the old file or
folder or the complete new one, never a half-written one. Everything is
created with mode 0o666 (files) or 0o777 (folders) minus the process umask,
so exports are readable by other users: `tempfile.mkstemp` / `mkdtemp` would
make them private (0600 / 0700).

- `atomic_write_bytes(path, data)` / `atomic_write_text(path, text)`: one file.
- `staging_dir(target)`: a context manager yielding an empty hidden folder
  beside `target` to write a whole folder into; removed on exit unless it was
  moved into place.
- `move_into_place(staging, target, ...)`: renames a staged folder to
  `target`, or merges it into an existing one file by file.

Example:

```python
with staging_dir("exports/model") as staging:
  (staging / "config.json").write_text("{}")
  move_into_place(staging, "exports/model")
atomic_write_bytes("exports/model.tflite", flatbuffer)
```
"""

import contextlib
import fnmatch
import os
import pathlib
import secrets
import shutil


def _sibling_name(path, tag):
  # Hidden, and unique without a retry loop (64 random bits).
  return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(8)}")


def atomic_write_bytes(path, data, *, overwrite=True):
  """Writes `data` to `path` through a temporary file and a rename.

  Args:
    path: the file to write; its folder is created if needed.
    data: bytes.
    overwrite: replace an existing `path`; if False, an existing `path` is a
      `FileExistsError` (checked again just before the rename).

  Returns:
    `path` as a `pathlib.Path`.
  """
  path = pathlib.Path(os.fspath(path))
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = _sibling_name(path, "tmp")
  # os.open applies the umask to 0o666, as `cp` or `open(path, "w")` do.
  handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
  try:
    with os.fdopen(handle, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    if not overwrite and path.exists():
      raise FileExistsError(f"{path} already exists.")
    os.replace(partial, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(partial)
    raise
  return path


def atomic_write_text(path, text, *, overwrite=True):
  """Writes `text` (UTF-8) to `path` with `atomic_write_bytes`."""
  return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


@contextlib.contextmanager
def staging_dir(target):
  """Yields a new empty folder beside `target` to write a folder's content in.

  The folder is hidden (`.<name>.tmp-<random>`), on the same file system as
  `target` (so `move_into_place` is a rename) and has normal permissions
  (0o777 minus the umask). It is removed on exit, also on errors, unless it
  was moved into place meanwhile. The parent folder is created if needed.

  Args:
    target: the folder that the staged content is meant to become.

  Yields:
    The staging folder, a `pathlib.Path`.
  """
  target = pathlib.Path(os.fspath(target))
  target.parent.mkdir(parents=True, exist_ok=True)
  staging = _sibling_name(target, "tmp")
  staging.mkdir()
  try:
    yield staging
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def move_into_place(staging, target, *, merge=False, remove=(), last=None):
  """Moves the folder `staging` to `target`.

  A missing or empty `target` becomes `staging` in one rename. An existing
  non-empty `target` is a `FileExistsError`, unless `merge`: then each entry
  of `staging` replaces its namesake in `target` by an atomic rename, and the
  other files of `target` stay, except those matching `remove`.

  Args:
    staging: a complete folder, on the same file system as `target`.
    target: the folder to create, or with `merge`, to update.
    merge: bool. Update an existing non-empty `target` entry by entry.
    remove: glob patterns of stale files of `target` to delete when merging
      (for example the shards of an earlier, differently sharded write).
    last: name of the entry to move last when merging, so that a reader who
      finds it finds the rest (e.g. a `config.json` and its weights).

  Returns:
    `target` as a `pathlib.Path`.
  """
  staging = pathlib.Path(os.fspath(staging))
  target = pathlib.Path(os.fspath(target))
  if target.is_dir() and not any(target.iterdir()):
    target.rmdir()
  if not target.exists():
    os.rename(staging, target)
    return target
  if not target.is_dir():
    raise FileExistsError(f"{target} exists and is not a folder.")
  if not merge:
    raise FileExistsError(f"{target} already exists.")
  written = {p.name for p in staging.iterdir()}
  for stale in target.iterdir():
    if stale.name not in written and any(
        fnmatch.fnmatch(stale.name, pattern) for pattern in remove):
      stale.unlink()
  ordered = sorted(written - {last}) + ([last] if last in written else [])
  for name in ordered:
    source, destination = staging / name, target / name
    if destination.is_dir() and not source.is_dir():
      raise FileExistsError(
          f"{destination} is a folder; cannot write a file there.")
    if source.is_dir():
      shutil.rmtree(destination, ignore_errors=True)
    os.replace(source, destination)
  return target
