"""tensorflow-datasets sets by name: the adapter on a fake prepared builder
over real GLUE sentences, and the offline failure."""

import time
import types

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.data import TextFileError, load_examples
from theseus_tf.data.tfds_source import load_builder, tfds_file_task


class _ClassLabel:
  dtype = tf.int64

  def __init__(self, names):
    self.names = list(names)


class _Text:
  dtype = tf.string


class FakeBuilder:
  """What `tfds_file_task` uses of a prepared `tfds` builder, over real
  SST-2 sentences: features, splits, version, `as_dataset`."""

  def __init__(self, glue_dir):
    self.splits = {}
    for split, tfds_split in (("train", "train"), ("dev", "test")):
      examples = load_examples("sst2", split, glue_dir, max_examples=40)
      self.splits[tfds_split] = {
          "text": np.array([e.text_a.encode() for e in examples]),
          "label": np.array([e.label for e in examples], np.int64)}
    self.info = types.SimpleNamespace(
        features={"text": _Text(), "label": _ClassLabel(["neg", "pos"])},
        splits=dict.fromkeys(self.splits), version="1.0.0")
    self.calls = 0

  def as_dataset(self, split, shuffle_files=False):
    del shuffle_files
    self.calls += 1
    return tf.data.Dataset.from_tensor_slices(self.splits[split])


def test_tfds_set_becomes_a_file_task(glue_dir, tmp_path):
  builder = FakeBuilder(glue_dir)
  task = tfds_file_task("fake_sst2", builder=builder, cache_dir=tmp_path)
  assert task.labels == ("neg", "pos")  # TFDS' ClassLabel order.
  assert task.text_columns == ("text",)
  assert task.dev_splits == ("validation",)
  glue = load_examples("sst2", "dev", glue_dir, max_examples=40)
  assert load_examples(task, "validation") == glue
  # The JSON Lines copies are written once.
  tfds_file_task("fake_sst2", builder=builder, cache_dir=tmp_path)
  assert builder.calls == 2


def test_unknown_feature_and_split(glue_dir, tmp_path):
  builder = FakeBuilder(glue_dir)
  with pytest.raises(TextFileError, match=r"no feature 'topic'.*--label-column"):
    tfds_file_task("fake", builder=builder, cache_dir=tmp_path,
                   label_column="topic")
  with pytest.raises(TextFileError, match=r"no split 'dev'.*\['train', 'test'\]"):
    tfds_file_task("fake", builder=builder, cache_dir=tmp_path,
                   validation_split="dev")


def test_unprepared_set_fails_at_once_offline(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  began = time.time()
  with pytest.raises(TextFileError) as error:
    load_builder("imdb_reviews", data_dir=str(tmp_path))
  assert time.time() - began < 30
  message = str(error.value)
  assert "\n" not in message
  assert "imdb_reviews is not prepared" in message
  assert "--train-file" in message and "--tfds-data-dir" in message


def test_unknown_name(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  with pytest.raises(TextFileError, match="no dataset 'no_such_set_xyz'"):
    load_builder("no_such_set_xyz", data_dir=str(tmp_path))
