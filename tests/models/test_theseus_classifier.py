"""Tests for theseus_tf.models.theseus_classifier."""

import numpy as np
import pytest

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from theseus_tf.data import load_dataset
from theseus_tf.models import (BertBackbone, BertClassifier,
                               build_theseus_classifier, set_shared_trainable)
from theseus_tf.utils.transformers import (from_pretrained, load_tokenizer,
                                          save_pretrained)
from tests.toy_layers import random_bert_inputs


def tiny_classifier(num_layers=4, num_classes=3):
  backbone = BertBackbone(vocabulary_size=50, num_layers=num_layers,
                          num_heads=2, hidden_dim=16, intermediate_dim=32,
                          max_sequence_length=32)
  return BertClassifier(backbone, num_classes=num_classes)


def test_theseus_classifier_wraps_pairs_of_layers_with_bottom_init():
  teacher = tiny_classifier()
  model = build_theseus_classifier(teacher, num_modules=2)
  modules = theseus_tf.module_replacing_layers(model)
  assert len(modules) == 2
  teacher_layers = teacher.backbone.transformer_layers
  for module, group in zip(modules, ([0, 1], [2, 3])):
    assert module.predecessor.block_layers == [teacher_layers[i] for i in group]
  for module, source in zip(modules, teacher_layers[:2]):
    for a, b in zip(module.successor.get_weights(), source.get_weights()):
      np.testing.assert_array_equal(a, b)
  # Paper default: only the successor layers train.
  trainable = {id(v) for v in model.trainable_weights}
  successor_vars = {id(v) for m in modules for v in m.successor.weights}
  assert trainable == successor_vars


def test_train_shared_unfreezes_embeddings_pooler_and_head():
  teacher = tiny_classifier()
  model = build_theseus_classifier(teacher, num_modules=2, train_shared=True)
  trainable = {id(v) for v in model.trainable_weights}
  for layer in (model.backbone.embeddings, model.backbone.pooler,
                model.output_dense):
    assert all(id(v) in trainable for v in layer.weights)
  set_shared_trainable(model, False)
  assert not any(
      id(v) in {id(w) for w in model.trainable_weights}
      for v in model.output_dense.weights)


def test_uneven_grouping_and_ratio_errors():
  teacher = tiny_classifier(num_layers=5)
  model = build_theseus_classifier(teacher, grouping=[3, 2])
  assert len(theseus_tf.module_replacing_layers(model)) == 2
  with pytest.raises(ValueError, match="do not divide"):
    build_theseus_classifier(tiny_classifier(num_layers=5), num_modules=2)


def test_stripped_theseus_classifier_is_a_plain_bert_classifier(tmp_path):
  teacher = tiny_classifier()
  model = build_theseus_classifier(
      teacher, num_modules=2, schedule=schedules.ConstantReplacement(0.5))
  inputs = random_bert_inputs(batch=4, length=10, padding=4)
  student = theseus_tf.strip_successor(model)
  assert isinstance(student, BertClassifier)
  assert student.backbone.num_layers == 2
  assert not theseus_tf.module_replacing_layers(student)
  np.testing.assert_allclose(student(inputs).numpy(), model(inputs).numpy(),
                             atol=1e-6)
  plain = tiny_classifier(num_layers=2)
  assert len(student.weights) == len(plain.weights)
  assert sum(w.size for w in student.get_weights()) == sum(
      w.size for w in plain.get_weights())
  # A regular checkpoint of the successor's depth, loadable back.
  save_pretrained(student, tmp_path / "student")
  reloaded = from_pretrained(tmp_path / "student")
  assert reloaded.backbone.num_layers == 2
  np.testing.assert_allclose(reloaded(inputs).numpy(), student(inputs).numpy(),
                             atol=1e-5)


@pytest.mark.slow
def test_compress_real_minilm_on_real_sst2(minilm_dir, glue_dir):
  """MiniLM 6 -> 3 on a few hundred SST-2 sentences with model.fit."""
  keras.utils.set_random_seed(0)
  tokenizer = load_tokenizer(minilm_dir)
  train = load_dataset("sst2", "train", tokenizer, max_seq_length=48,
                       batch_size=16, training=True, data_dir=glue_dir,
                       max_examples=512)
  dev = load_dataset("sst2", "dev", tokenizer, max_seq_length=48,
                     batch_size=64, data_dir=glue_dir, max_examples=256)

  # The predecessor: MiniLM fine-tuned briefly on the same sentences.
  teacher = from_pretrained(minilm_dir, num_labels=2)
  teacher.compile(keras.optimizers.Adam(1e-4),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  teacher.fit(train.dataset, steps_per_epoch=32, epochs=1, verbose=0)

  model = build_theseus_classifier(teacher, num_modules=3, seed=0)
  predecessor_vars = [v for layer in teacher.backbone.transformer_layers
                      for v in layer.weights]
  shared_vars = (teacher.backbone.embeddings.weights +
                 teacher.backbone.pooler.weights + teacher.output_dense.weights)
  before = [np.array(v.numpy()) for v in predecessor_vars + shared_vars]
  successor_before = [np.array(v.numpy()) for v in model.trainable_weights]

  loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  student = theseus_tf.strip_successor(model)  # Shares the successor layers.
  student.compile(loss=loss, metrics=["accuracy"])
  loss_before, _ = student.evaluate(dev.dataset, verbose=0)

  model.compile(keras.optimizers.Adam(3e-4), loss)
  history = model.fit(
      train.dataset, steps_per_epoch=16, epochs=3, verbose=0,
      callbacks=[theseus_tf.ReplacementScheduler(
          schedules.LinearReplacement(0.5, slope=1 / 16))])
  assert history.history["replacement_rate"][-1] == 1.0

  loss_after, accuracy = student.evaluate(dev.dataset, verbose=0)
  print(f"3-layer successor on 256 SST-2 dev sentences: loss {loss_before:.3f}"
        f" -> {loss_after:.3f}, accuracy {accuracy:.3f}")
  assert loss_after < loss_before
  assert accuracy > 0.6  # Chance is ~0.5 on SST-2 dev.

  for expected, v in zip(before, predecessor_vars + shared_vars):
    np.testing.assert_array_equal(v.numpy(), expected)
  assert all(not np.array_equal(b, v.numpy())
             for b, v in zip(successor_before, model.trainable_weights))


def trainable_flags(model):
  return ([layer.trainable for layer in model._flatten_layers()],  # pylint: disable=protected-access
          [v.name for v in model.trainable_weights])


@pytest.mark.parametrize("make_model, kwargs, error, message", [
    (lambda: tiny_classifier(num_layers=4), dict(num_modules=3), ValueError,
     "do not divide"),
    (lambda: tiny_classifier(num_layers=4), dict(num_modules=2, init="middle"),
     ValueError, "init"),
    (lambda: tiny_classifier(num_layers=4).backbone, dict(num_modules=2),
     TypeError, r"compresses a `theseus_tf\.models\.BertClassifier`.*BertBackbone"
     r".*replace_modules"),
])
def test_a_failed_build_leaves_the_callers_model_untouched(
    make_model, kwargs, error, message):
  model = make_model()
  before = trainable_flags(model)
  with pytest.raises(error, match=message):
    build_theseus_classifier(model, **kwargs)
  assert trainable_flags(model) == before


def test_hugging_face_loaders_keep_their_old_names_with_a_warning():
  import theseus_tf.models  # pylint: disable=import-outside-toplevel
  from theseus_tf.utils import transformers  # pylint: disable=import-outside-toplevel
  for name in ("from_pretrained", "load_tokenizer", "save_pretrained"):
    with pytest.warns(DeprecationWarning, match=f"theseus_tf.utils.transformers.{name}"):
      assert getattr(theseus_tf.models, name) is getattr(transformers, name)
