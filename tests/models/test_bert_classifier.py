"""Tests for theseus_tf.models.bert_classifier."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import keras, register_serializable
from theseus_tf.models import BertBackbone, BertClassifier, build_bert_classifier
from tests.layer_test_helper import run_layer_test
from tests.toy_layers import random_bert_inputs


def _backbone(**kwargs):
  args = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8,
              intermediate_dim=16, max_sequence_length=16)
  args.update(kwargs)
  return BertBackbone(**args)


@register_serializable
class _WrapperBlock(keras.layers.Layer):
  """Stand-in for a block wrapping a group of transformer layers."""

  def __init__(self, inner_layers, **kwargs):
    super().__init__(**kwargs)
    self.inner_layers = list(inner_layers)

  def call(self, x, attention_mask=None):
    for layer in self.inner_layers:
      x = layer(x, attention_mask=attention_mask)
    return x

  def get_config(self):
    config = super().get_config()
    config["inner_layers"] = [keras.layers.serialize(l) for l in self.inner_layers]
    return config

  @classmethod
  def from_config(cls, config):
    config["inner_layers"] = [
        keras.layers.deserialize(c) for c in config["inner_layers"]
    ]
    return cls(**config)


def test_logits_shape_dtype_and_attributes():
  classifier = BertClassifier(_backbone(), num_classes=3)
  logits = classifier(random_bert_inputs(batch=4, length=6))
  assert logits.shape == (4, 3)
  assert logits.dtype == tf.float32
  assert isinstance(classifier.backbone, BertBackbone)
  assert classifier.output_dense.units == 3
  assert classifier.problem_type == "single_label_classification"
  assert not classifier.is_regression
  assert classifier.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}


def test_one_output_is_regression():
  classifier = BertClassifier(_backbone(), num_classes=1)
  assert classifier.is_regression
  assert classifier(random_bert_inputs(batch=4, length=6)).shape == (4, 1)


@pytest.mark.slow
def test_fit_classification():
  keras.utils.set_random_seed(0)
  batch = random_bert_inputs(batch=8, length=6)
  classifier = BertClassifier(_backbone(dropout=0.0, attention_dropout=0.0),
                              num_classes=2, dropout=0.0)
  classifier.compile(
      optimizer=keras.optimizers.Adam(1e-2),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"])
  labels = np.arange(8) % 2
  # Eight examples to memorise: the loss must go down.
  history = classifier.fit(batch, labels, batch_size=4, epochs=10, verbose=0)
  assert np.isfinite(history.history["loss"]).all()
  assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.slow
def test_fit_regression_from_a_dataset():
  batch = random_bert_inputs(batch=8, length=6)
  regressor = BertClassifier(_backbone(), num_classes=1)
  regressor.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
  dataset = tf.data.Dataset.from_tensor_slices(
      (batch, np.linspace(0, 5, 8).astype(np.float32))).batch(4)
  history = regressor.fit(dataset, epochs=1, verbose=0, shuffle=False)
  assert np.isfinite(history.history["loss"]).all()


def _sst2_classifier(**backbone_kwargs):
  return BertClassifier(
      _backbone(**backbone_kwargs), num_classes=2, dropout=0.2,
      id2label={0: "negative", 1: "positive"}, name="sst2")


def test_layer_contract(tmp_path):
  # Logits stay float32 under mixed precision.
  run_layer_test(_sst2_classifier, random_bert_inputs(batch=4, length=6),
                 tmp_path, output_dtype="float32")


def test_config_and_saved_model_keep_labels_and_name(tmp_path):
  classifier = _sst2_classifier()
  clone = BertClassifier.from_config(classifier.get_config())
  assert clone.id2label == {0: "negative", 1: "positive"}
  path = str(tmp_path / "classifier.keras")
  classifier.save(path)
  restored = keras.models.load_model(path)
  assert restored.name == "sst2"
  assert restored.id2label == {0: "negative", 1: "positive"}


def test_build_bert_classifier_from_blocks(tmp_path):
  teacher = BertClassifier(_backbone(num_layers=4), num_classes=3)
  layers = teacher.backbone.transformer_layers
  blocks = [_WrapperBlock(layers[:2]), layers[2], layers[3]]
  model = build_bert_classifier(teacher.backbone.embeddings, blocks,
                                teacher.backbone.pooler,
                                head=teacher.output_dense, dropout=0.1)
  assert model.backbone.transformer_layers == blocks
  assert model.output_dense is teacher.output_dense
  batch = random_bert_inputs(batch=4, length=6)
  # Same layers, same order: same function as the teacher.
  np.testing.assert_allclose(model(batch), teacher(batch), atol=1e-5)

  path = str(tmp_path / "replaced.keras")
  model.save(path)
  restored = keras.models.load_model(path)
  assert isinstance(restored.backbone.transformer_layers[0], _WrapperBlock)
  np.testing.assert_allclose(restored(batch), teacher(batch), atol=1e-5)

  fresh = build_bert_classifier(teacher.backbone.embeddings, layers[:1],
                                teacher.backbone.pooler, head=1)
  assert fresh.is_regression
  assert fresh(batch).shape == (4, 1)


def test_invalid_arguments():
  with pytest.raises(ValueError, match="Unknown problem_type"):
    BertClassifier(_backbone(), num_classes=2, problem_type="ranking")
  with pytest.raises(ValueError, match="id2label must name exactly"):
    BertClassifier(_backbone(), num_classes=2, id2label={0: "a"})


@pytest.mark.slow
def test_fit_mixed_float16_uses_loss_scaling():
  classifier = BertClassifier(_backbone(dtype="mixed_float16"), num_classes=2)
  batch = random_bert_inputs(batch=4, length=6)
  classifier.compile(
      optimizer="adam",
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  history = classifier.fit(batch, np.arange(4) % 2, epochs=1, verbose=0)
  assert np.isfinite(history.history["loss"]).all()
  assert "LossScaleOptimizer" in type(classifier.optimizer).__name__


FAMILY_BACKBONES = {
    "roberta": dict(num_segments=1, pad_token_id=1, position_offset=1,
                    use_pooler=False, model_type="roberta"),
    "electra": dict(embedding_dim=4, use_pooler=False, model_type="electra"),
    "distilbert": dict(num_segments=0, use_pooler=False,
                       model_type="distilbert"),
}


def _family_inputs(classifier, batch=4, length=6):
  inputs = random_bert_inputs(batch=batch, length=length)
  return {name: inputs[name] for name in classifier.feature_names}


@pytest.mark.parametrize("head_type", sorted(FAMILY_BACKBONES))
def test_family_heads(tmp_path, head_type):
  def make(**kwargs):
    return BertClassifier(
        _backbone(**FAMILY_BACKBONES[head_type], **kwargs), num_classes=3,
        head_type=head_type, id2label={0: "a", 1: "b", 2: "c"})
  classifier = make()
  inputs = _family_inputs(classifier)
  assert ("token_type_ids" in classifier.feature_names) == (
      head_type == "electra")
  assert classifier.backbone.pooler is None
  # The head reads the first token through head_dense and its activation.
  first = classifier.backbone(inputs)["sequence_output"][:, 0, :]
  expected = classifier.output_dense(classifier.head_dense(first))
  np.testing.assert_allclose(classifier(inputs), expected, atol=1e-5)
  assert classifier.head_dense.activation.__name__ == {
      "roberta": "tanh", "electra": "gelu", "distilbert": "relu"}[head_type]
  run_layer_test(make, inputs, tmp_path, output_dtype="float32")


def test_head_type_errors():
  with pytest.raises(ValueError, match="needs a backbone with a pooler"):
    BertClassifier(_backbone(use_pooler=False), num_classes=2)
  with pytest.raises(ValueError, match="Unknown head_type 'xlnet'"):
    BertClassifier(_backbone(), num_classes=2, head_type="xlnet")
