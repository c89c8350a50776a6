"""Writes real GLUE splits as the user's own files, at test time.

The examples come from the GLUE path (`load_examples`), so a file written
here holds exactly the GLUE examples, with other column names and string
labels; tests then check that reading the file gives them back. Derived
targets for the other problem types (documented where they are made):

- regression: the sentence's word count divided by 10 (a numeric target that
  the text determines, so a model can learn it);
- multi-label: the SST-2 sentiment name, plus "long" for sentences of more
  than 12 words.
"""

import csv
import json

from theseus_tf.data import load_examples

# Column names and label names unlike GLUE's own; label order (sorted) is
# GLUE's where the names sort like the ids, else given with --labels.
STRING_LABELS = {
    "sst2": ("negative", "positive"),
    "mrpc": ("different", "paraphrase"),
    "cola": ("unacceptable", "acceptable"),  # Sorted order differs: --labels.
}
TEXT_COLUMNS = {"sst2": ("review",), "mrpc": ("first", "second"),
                "cola": ("utterance",)}
LABEL_COLUMN = "verdict"


def glue_rows(glue_dir, task, split, max_examples=None, seed=0):
  """Rows (dicts) of a GLUE split with `TEXT_COLUMNS` and string labels."""
  examples = load_examples(task, split, glue_dir, max_examples=max_examples,
                           seed=seed)
  rows = []
  for example in examples:
    texts = (example.text_a, example.text_b)
    row = dict(zip(TEXT_COLUMNS[task], texts))
    row[LABEL_COLUMN] = STRING_LABELS[task][example.label]
    rows.append(row)
  return rows, examples


def write_rows(path, rows, columns=None):
  """Writes dict rows as CSV, TSV or JSON Lines, by `path`'s extension."""
  columns = columns or list(rows[0])
  if path.suffix == ".jsonl":
    with open(path, "w", encoding="utf-8") as f:
      for row in rows:
        f.write(json.dumps({c: row[c] for c in columns}) + "\n")
    return path
  with open(path, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
    writer.writerow(columns)
    for row in rows:
      writer.writerow([row[c] for c in columns])
  return path


def derived_rows(glue_dir, split, kind, max_examples=None, multi_label_as=list):
  """SST-2 rows with a derived regression or multi-label target (see the
  module docstring); `multi_label_as=str` writes labels as "a,b"."""
  rows = []
  for example in load_examples("sst2", split, glue_dir,
                               max_examples=max_examples, seed=0):
    words = len(example.text_a.split())
    if kind == "regression":
      target = words / 10
    else:
      names = [STRING_LABELS["sst2"][example.label]]
      if words > 12:
        names.append("long")
      target = names if multi_label_as is list else ",".join(names)
    rows.append({"text": example.text_a, "label": target})
  return rows
