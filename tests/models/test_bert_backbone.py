"""Tests for theseus_tf.models.bert_backbone."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import keras, register_serializable
from theseus_tf.models import BertBackbone, BertEmbeddings, BertTransformerLayer
from tests.layer_test_helper import run_layer_test
from tests.toy_layers import random_bert_inputs

SIZES = dict(vocabulary_size=50, num_layers=3, num_heads=2, hidden_dim=8,
             intermediate_dim=16, max_sequence_length=16)


def _backbone(**kwargs):
  args = dict(SIZES)
  args.update(kwargs)
  return BertBackbone(**args)


@register_serializable
class _ScaledBlock(keras.layers.Layer):
  """Stand-in for a wrapper block: runs a transformer layer, checks the mask."""

  def __init__(self, inner, **kwargs):
    super().__init__(**kwargs)
    self.inner = inner

  def call(self, x, attention_mask=None):
    assert attention_mask is not None
    assert attention_mask.shape.rank == 2
    return self.inner(x, attention_mask=attention_mask)

  def get_config(self):
    config = super().get_config()
    config["inner"] = keras.layers.serialize(self.inner)
    return config

  @classmethod
  def from_config(cls, config):
    config["inner"] = keras.layers.deserialize(config["inner"])
    return cls(**config)


def test_outputs_and_attributes():
  backbone = _backbone()
  outputs = backbone(random_bert_inputs())
  assert set(outputs) == {"sequence_output", "pooled_output"}
  assert outputs["sequence_output"].shape == (2, 7, 8)
  assert outputs["pooled_output"].shape == (2, 8)
  assert isinstance(backbone.embeddings, BertEmbeddings)
  assert len(backbone.transformer_layers) == backbone.num_layers == 3
  assert all(isinstance(l, BertTransformerLayer)
             for l in backbone.transformer_layers)
  assert isinstance(backbone.pooler, keras.layers.Dense)
  # A Functional model: its layers are nodes of the graph.
  assert all(l in backbone.layers for l in backbone.transformer_layers)
  assert set(backbone.input) == {
      "input_ids", "attention_mask", "token_type_ids"
  }
  assert all(t.dtype in (tf.int32, "int32") for t in backbone.input.values())
  assert len(backbone.weights) == 5 + 3 * 12 + 2


def test_variable_sequence_length_and_int64_inputs():
  backbone = _backbone()
  for seq in (3, 11):
    batch = {k: v.astype(np.int64)
             for k, v in random_bert_inputs(length=seq).items()}
    assert backbone(batch)["sequence_output"].shape == (2, seq, 8)


def test_hidden_states_flag():
  backbone = _backbone(output_hidden_states=True)
  outputs = backbone(random_bert_inputs())
  hidden_states = outputs["hidden_states"]
  assert len(hidden_states) == 4
  np.testing.assert_allclose(hidden_states[-1], outputs["sequence_output"])
  layer_1 = backbone.transformer_layers[0](
      hidden_states[0], attention_mask=random_bert_inputs()["attention_mask"])
  np.testing.assert_allclose(hidden_states[1], layer_1, atol=1e-6)


def test_pooler_is_tanh_dense_of_first_token():
  backbone = _backbone()
  outputs = backbone(random_bert_inputs())
  np.testing.assert_allclose(
      outputs["pooled_output"],
      backbone.pooler(outputs["sequence_output"][:, 0]),
      atol=1e-6)


def test_layer_contract(tmp_path):
  run_layer_test(
      lambda **kwargs: _backbone(hidden_activation="relu", dropout=0.2,
                                 output_hidden_states=True, name="encoder",
                                 **kwargs),
      random_bert_inputs(), tmp_path)
  assert BertBackbone.from_config(
      _backbone(name="encoder").get_config()).name == "encoder"


def test_from_layers_shares_layers_and_weights():
  teacher = _backbone()
  layers = teacher.transformer_layers
  student = BertBackbone.from_layers(teacher.embeddings, [layers[0], layers[2]],
                                     teacher.pooler, output_hidden_states=True)
  assert student.transformer_layers == [layers[0], layers[2]]
  assert student.embeddings is teacher.embeddings
  assert student.pooler is teacher.pooler
  assert len(student.weights) == 5 + 2 * 12 + 2
  batch = random_bert_inputs()
  hidden = teacher.embeddings(batch["input_ids"],
                              token_type_ids=batch["token_type_ids"])
  for layer in (layers[0], layers[2]):
    hidden = layer(hidden, attention_mask=batch["attention_mask"])
  np.testing.assert_allclose(
      student(batch)["sequence_output"], hidden, atol=1e-6)


def test_from_layers_with_wrapper_blocks(tmp_path):
  teacher = _backbone()
  blocks = [_ScaledBlock(teacher.transformer_layers[0]),
            teacher.transformer_layers[1]]
  backbone = BertBackbone.from_layers(teacher.embeddings, blocks,
                                      teacher.pooler)
  batch = random_bert_inputs()
  expected = backbone(batch)["pooled_output"]
  path = str(tmp_path / "backbone.keras")
  backbone.save(path)
  restored = keras.models.load_model(path)
  assert isinstance(restored.transformer_layers[0], _ScaledBlock)
  np.testing.assert_allclose(restored(batch)["pooled_output"], expected,
                             atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_the_dtype_policy_is_in_the_config(policy):
  backbone = _backbone(dtype=policy)
  config = backbone.get_config()
  assert config["dtype"] == policy
  assert BertBackbone.from_config(config).transformer_layers[0].compute_dtype \
      == policy.split("_")[1]


def test_global_mixed_precision_policy():
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    backbone = _backbone()
    outputs = backbone(random_bert_inputs())
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert outputs["sequence_output"].dtype == tf.float16
  assert backbone.transformer_layers[0].attention_layer_norm.compute_dtype == \
      "float32"


def test_from_layers_mixes_layers_of_two_backbones(tmp_path):
  first, second = _backbone(), _backbone()
  mixed = BertBackbone.from_layers(
      first.embeddings,
      [first.transformer_layers[0], second.transformer_layers[0]],
      first.pooler)
  batch = random_bert_inputs()
  path = str(tmp_path / "mixed.keras")
  mixed.save(path)
  np.testing.assert_allclose(
      keras.models.load_model(path)(batch)["pooled_output"],
      mixed(batch)["pooled_output"], atol=1e-6)
