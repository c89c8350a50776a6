"""The label set of a classification task, in a stable, documented order.

Label order decides the id of each label and therefore the rows of the
classifier head, so it must not depend on the order rows happen to come in:

- an explicit list (`--labels neg,pos`) keeps its order;
- labels that are all integers (`0`, `1`, `-1`, `10`) sort numerically, so
  integer labels keep their own value as id when they are `0..n-1`;
- any other labels sort as strings (Unicode code point order).

It is saved as `id2label` / `label2id` in the model's `config.json`, the
Hugging Face convention, so later commands (and a Hugging Face pipeline)
read the same order back.
"""

import re

_INTEGER = re.compile(r"[+-]?\d+")


def canonical_label(value):
  """The string form of a label read from a file: `1`, `1.0`(JSON) -> `"1"`.

  JSON numbers that are whole (`1.0`) and booleans are written as integers,
  so a JSON Lines file and a CSV of the same data give the same labels.
  """
  if isinstance(value, bool):
    return str(int(value))
  if isinstance(value, float) and value.is_integer():
    return str(int(value))
  return str(value).strip()


def sorted_labels(labels):
  """`labels` in the documented order: numerically if all are integers.

  Example:

  ```python
  sorted_labels({"10", "2", "0"})  # ["0", "2", "10"]
  sorted_labels({"pos", "neg"})  # ["neg", "pos"]
  ```
  """
  labels = set(labels)
  if labels and all(_INTEGER.fullmatch(label) for label in labels):
    return sorted(labels, key=int)
  return sorted(labels)


class LabelVocabulary:
  """Label names <-> ids.

  Args:
    names: The label names, in id order.

  Example:

  ```python
  vocab = LabelVocabulary.from_labels(["pos", "neg", "pos"])
  vocab.names  # ("neg", "pos")
  vocab.id_of("pos")  # 1
  vocab.id2label  # {0: "neg", 1: "pos"}
  ```
  """

  def __init__(self, names):
    names = tuple(canonical_label(name) for name in names)
    if len(set(names)) != len(names):
      raise ValueError(f"label names repeat: {list(names)}")
    self.names = names
    self._ids = {name: index for index, name in enumerate(names)}

  @classmethod
  def from_labels(cls, labels):
    """The vocabulary of the distinct `labels`, in `sorted_labels` order."""
    return cls(sorted_labels(canonical_label(label) for label in labels))

  def __len__(self):
    return len(self.names)

  def __contains__(self, name):
    return canonical_label(name) in self._ids

  def __eq__(self, other):
    return isinstance(other, LabelVocabulary) and self.names == other.names

  def __repr__(self):
    return f"LabelVocabulary({list(self.names)})"

  def id_of(self, name):
    """The id of `name`; `KeyError` if it is not a label."""
    return self._ids[canonical_label(name)]

  @property
  def id2label(self):
    return dict(enumerate(self.names))

  @property
  def label2id(self):
    return dict(self._ids)
