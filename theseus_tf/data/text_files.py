"""Streams rows out of the user's CSV, TSV and JSON Lines files.

The format comes from the extension (`.csv`, `.tsv`, `.jsonl` / `.ndjson`)
unless given. Files are UTF-8 (a BOM is allowed); CSV and TSV start with a
header row and use standard CSV quoting (`"` around fields holding the
delimiter, a quote or a line break), as pandas and spreadsheets write them.
JSON Lines holds one JSON object per line; blank lines are skipped.

Rows are read one at a time: nothing here holds more than one row. Every
problem is a one-line `TextFileError` of the form
`<file>:<line>: <problem>; <fix>`.
"""

import csv
import json
import pathlib
import sys

from theseus_tf.data.glue_tasks import GlueDataError

FORMATS = ("csv", "tsv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
               ".ndjson": "jsonl"}
_DELIMITERS = {"csv": ",", "tsv": "\t"}

# Long texts (reviews, tickets) exceed the csv module's 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class TextFileError(GlueDataError):
  """A data file that cannot be used as given; the message is one line that
  names the file (and line or column) and says how to fix it."""


def file_format(path, override=None):
  """The format of `path`: `override`, else from the extension.

  Raises:
    TextFileError: Unknown extension (and no override), or unknown override.

  Example:

  ```python
  file_format("reviews.jsonl")  # "jsonl"
  file_format("reviews.txt", "tsv")  # "tsv"
  ```
  """
  if override is not None:
    if override not in FORMATS:
      raise TextFileError(
          f"unknown file format {override!r}: use one of {', '.join(FORMATS)}")
    return override
  suffix = pathlib.Path(path).suffix.lower()
  if suffix not in _EXTENSIONS:
    raise TextFileError(
        f"{path}: unknown extension {suffix or '(none)'!r}; name the file "
        f"{' / '.join(_EXTENSIONS)} or pass --file-format "
        f"{{{','.join(FORMATS)}}}")
  return _EXTENSIONS[suffix]


# `RowReader`'s argument of the same name shadows the function.
_detect_format = file_format


def check_readable(path):
  """Raises `TextFileError` unless `path` is an existing file."""
  path = pathlib.Path(path)
  if not path.exists():
    raise TextFileError(f"{path}: no such file; check the path")
  if not path.is_file():
    raise TextFileError(f"{path}: is not a file; pass a CSV, TSV or JSON "
                        "Lines file")


def _decoded_lines(path):
  """`(line_number, text)` for each line, decoded strictly as UTF-8.

  Decoding line by line lets a bad byte be reported with its line and byte
  offset, which a text-mode file object cannot do.
  """
  offset = 0
  with open(path, "rb") as f:
    for number, raw in enumerate(f, 1):
      try:
        text = raw.decode("utf-8")
      except UnicodeDecodeError as error:
        raise TextFileError(
            f"{path}:{number}: byte {raw[error.start]:#04x} at byte offset "
            f"{offset + error.start} is not UTF-8; re-save the file as UTF-8"
        ) from None
      if number == 1 and text.startswith("\ufeff"):
        text = text[1:]
      offset += len(raw)
      yield number, text


class RowReader:
  """The header and rows of one CSV, TSV or JSON Lines file.

  Args:
    path: The file.
    file_format: One of `FORMATS`, or None for the extension's.

  Attributes:
    columns: The header (CSV/TSV) or the keys of the first object (JSON
      Lines), in file order.

  Iterating yields `(line, row)`: the 1-based line where the row ends and a
  dict from column name to value (a string for CSV/TSV, any JSON value for
  JSON Lines).

  Raises:
    TextFileError: Missing file, unknown extension, empty file, header only,
      non-UTF-8 bytes, malformed JSON or a ragged CSV row (while iterating).

  Example:

  ```python
  reader = RowReader("tickets.csv")
  reader.columns  # ["text", "label"]
  for line, row in reader:
    ...
  ```
  """

  def __init__(self, path, file_format=None):
    self.path = pathlib.Path(path)
    self.format = _detect_format(self.path, file_format)
    check_readable(self.path)
    rows = self._rows()
    try:
      self._first = next(rows)
    except StopIteration:
      raise TextFileError(
          f"{self.path}: the file is empty; it needs a header row and at "
          "least one row of data" if self.format != "jsonl" else
          f"{self.path}: the file is empty; write one JSON object per line"
      ) from None
    self._rest = rows
    if self.format == "jsonl":
      self.columns = list(self._first[1])
    else:
      self.columns = self._first[1]
      try:
        self._first = next(rows)
      except StopIteration:
        raise TextFileError(
            f"{self.path}: has a header row but no data rows; add rows "
            "below the header") from None
    self._used = False

  def __iter__(self):
    if self._used:
      raise RuntimeError("a RowReader can be iterated once: make a new one")
    self._used = True
    if self.format == "jsonl":
      yield self._first
      yield from self._rest
      return
    header = self.columns
    for line, values in _chain(self._first, self._rest):
      if len(values) != len(header):
        raise TextFileError(
            f"{self.path}:{line}: {len(values)} fields, the header has "
            f"{len(header)}; quote fields that contain "
            f"{'a comma' if self.format == 'csv' else 'a tab'} or a quote "
            "(\"...\") or fix the row")
      yield line, dict(zip(header, values))

  def _rows(self):
    lines = _decoded_lines(self.path)
    if self.format == "jsonl":
      return self._json_rows(lines)
    return self._csv_rows(lines)

  def _csv_rows(self, lines):
    position = {"line": 0}

    def texts():
      for number, text in lines:
        position["line"] = number
        yield text

    reader = csv.reader(texts(), delimiter=_DELIMITERS[self.format])
    try:
      for values in reader:
        if not values or (len(values) == 1 and not values[0].strip()):
          continue  # Blank line.
        yield position["line"], values
    except csv.Error as error:
      raise TextFileError(
          f"{self.path}:{position['line']}: {error}; check the quoting of "
          "this row") from None

  def _json_rows(self, lines):
    for number, text in lines:
      if not text.strip():
        continue
      try:
        row = json.loads(text)
      except json.JSONDecodeError as error:
        raise TextFileError(
            f"{self.path}:{number}: malformed JSON ({error.msg} at column "
            f"{error.colno}); write one complete JSON object per line"
        ) from None
      if not isinstance(row, dict):
        raise TextFileError(
            f"{self.path}:{number}: a JSON {type(row).__name__}, not an "
            "object; write one object per line, e.g. "
            '{"text": "...", "label": "..."}')
      yield number, row


def _chain(first, rest):
  yield first
  yield from rest


def content_hash(path, chunk_size=1 << 20):
  """SHA-256 (hex) of the bytes of `path`, read in 1 MiB chunks."""
  import hashlib  # pylint: disable=import-outside-toplevel
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(chunk_size), b""):
      digest.update(chunk)
  return digest.hexdigest()

