"""Tests for theseus_tf.utils.transformers.convert_bert: BERT in and out."""

import json
import logging

import numpy as np
import pytest
from safetensors.numpy import load_file

from theseus_tf.backend import keras
from theseus_tf.models import BertClassifier, build_bert_classifier
from theseus_tf.utils.transformers import (from_pretrained, load_tokenizer,
                                          save_pretrained)
from theseus_tf.utils.transformers import convert_bert
from tests.utils.transformers.checkpoint_helpers import (edit_config,
                                                         edit_tensors,
                                                         reference_inputs,
                                                         tiny_batch,
                                                         tiny_classifier,
                                                         write_checkpoint)

# ----------------------------------------------------------------------------
# Parity with the Hugging Face reference outputs.
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_minilm_parity(minilm_dir, fixtures_dir):
  reference = np.load(fixtures_dir / "minilm_reference.npz")
  backbone = from_pretrained(minilm_dir, task="backbone",
                             output_hidden_states=True)
  outputs = backbone(reference_inputs(reference))
  hidden_states = np.stack([h.numpy() for h in outputs["hidden_states"]])
  assert hidden_states.shape == reference["hidden_states"].shape

  tokens = reference["attention_mask"].astype(bool)
  difference = np.abs(hidden_states - reference["hidden_states"])
  assert difference[:, tokens].max() < 1e-4  # ~7e-6 in practice.
  # Padding positions (outputs nobody uses) of this model are ill-conditioned:
  # float32 rounding noise grows ~3x per layer there. Hugging Face's own
  # float32 values are up to 2e-4 away from a float64 evaluation of the same
  # weights (ours: 6e-5), so no float32 implementation matches them to 1e-4.
  assert difference[:, ~tokens].max() < 1e-3
  np.testing.assert_allclose(outputs["pooled_output"],
                             reference["pooler_output"], atol=1e-4, rtol=0)
  np.testing.assert_allclose(
      outputs["sequence_output"].numpy()[tokens],
      reference["last_hidden_state"][tokens], atol=1e-4, rtol=0)


def test_tiny_classifier_parity(fixtures_dir):
  reference = np.load(fixtures_dir / "tiny_bert_classifier_reference.npz")
  classifier = from_pretrained(fixtures_dir / "tiny-bert-classifier",
                               output_hidden_states=True)
  assert isinstance(classifier, BertClassifier)
  assert classifier.num_classes == 3
  inputs = reference_inputs(reference)
  np.testing.assert_allclose(classifier(inputs), reference["logits"],
                             atol=1e-4, rtol=0)
  hidden_states = classifier.backbone(inputs)["hidden_states"]
  assert len(hidden_states) == len(reference["hidden_states"])
  for i, (ours, theirs) in enumerate(zip(hidden_states,
                                         reference["hidden_states"])):
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0,
                               err_msg=f"hidden_states[{i}]")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_roughly_matches_reference(fixtures_dir, policy):
  reference = np.load(fixtures_dir / "tiny_bert_classifier_reference.npz")
  classifier = from_pretrained(fixtures_dir / "tiny-bert-classifier",
                               dtype=policy)
  logits = classifier(reference_inputs(reference))
  assert logits.dtype == "float32"
  np.testing.assert_allclose(logits, reference["logits"], atol=2e-3, rtol=0)


def test_convert_backbone_config_fills_bert_defaults():
  kwargs = convert_bert.convert_backbone_config({"model_type": "bert",
                                                 "hidden_size": 64})
  assert kwargs["hidden_dim"] == 64
  assert kwargs["num_layers"] == 12 and kwargs["vocabulary_size"] == 30522
  assert convert_bert.convert_backbone_config(
      {"pad_token_id": None})["pad_token_id"] == 0


# ----------------------------------------------------------------------------
# save_pretrained: the Hugging Face BERT layout.
# ----------------------------------------------------------------------------


def test_save_pretrained_writes_the_hugging_face_layout(fixtures_dir, tmp_path):
  source = fixtures_dir / "tiny-bert-classifier"
  classifier = from_pretrained(source)
  out = save_pretrained(classifier, tmp_path / "out",
                        tokenizer=load_tokenizer(source))
  assert sorted(p.name for p in out.iterdir()) == [
      "config.json", "model.safetensors", "tokenizer.json",
      "tokenizer_config.json"
  ]
  original = load_file(str(source / "model.safetensors"))
  saved = load_file(str(out / "model.safetensors"))
  assert sorted(saved) == sorted(original)
  for name, array in original.items():
    np.testing.assert_array_equal(saved[name], array, err_msg=name)

  config = json.loads((out / "config.json").read_text())
  original_config = json.loads((source / "config.json").read_text())
  assert config["architectures"] == ["BertForSequenceClassification"]
  for key in ("model_type", "hidden_size", "num_hidden_layers",
              "num_attention_heads", "intermediate_size", "hidden_act",
              "vocab_size", "max_position_embeddings", "type_vocab_size",
              "layer_norm_eps", "id2label", "label2id", "pad_token_id"):
    assert config[key] == original_config[key], key
  assert config["problem_type"] == "single_label_classification"
  assert not list(tmp_path.glob(".out.tmp-*"))


def test_round_trip_gives_identical_outputs(fixtures_dir, tmp_path):
  reference = np.load(fixtures_dir / "tiny_bert_classifier_reference.npz")
  classifier = from_pretrained(fixtures_dir / "tiny-bert-classifier")
  save_pretrained(classifier, tmp_path / "out")
  reloaded = from_pretrained(tmp_path / "out")
  inputs = reference_inputs(reference)
  np.testing.assert_array_equal(reloaded(inputs), classifier(inputs))
  assert reloaded.id2label == classifier.id2label


def test_save_backbone_as_bert_model(tmp_path):
  backbone = tiny_classifier().backbone
  save_pretrained(backbone, tmp_path / "encoder")
  config = json.loads((tmp_path / "encoder" / "config.json").read_text())
  assert config["architectures"] == ["BertModel"]
  assert "id2label" not in config
  names = load_file(str(tmp_path / "encoder" / "model.safetensors"))
  assert "embeddings.word_embeddings.weight" in names
  assert "encoder.layer.1.attention.self.query.weight" in names
  reloaded = from_pretrained(tmp_path / "encoder", task="backbone")
  batch = tiny_batch()
  np.testing.assert_array_equal(reloaded(batch)["pooled_output"],
                                backbone(batch)["pooled_output"])


def test_save_a_shallower_model(fixtures_dir, tmp_path):
  teacher = from_pretrained(fixtures_dir / "tiny-bert-classifier")
  layers = teacher.backbone.transformer_layers
  student = build_bert_classifier(teacher.backbone.embeddings, layers[1::2],
                                  teacher.backbone.pooler,
                                  head=teacher.output_dense)
  layers[1].trainable = False  # Frozen layers export like any other.
  save_pretrained(student, tmp_path / "student")
  config = json.loads((tmp_path / "student" / "config.json").read_text())
  assert config["num_hidden_layers"] == 2
  reloaded = from_pretrained(tmp_path / "student")
  batch = tiny_batch()
  np.testing.assert_array_equal(reloaded(batch), student(batch))


def test_save_pretrained_refuses_non_bert_blocks(tmp_path):

  class PassThrough(keras.layers.Layer):

    def call(self, x, attention_mask=None):
      return x

  model = tiny_classifier()
  backbone = model.backbone
  odd = build_bert_classifier(
      backbone.embeddings, [backbone.transformer_layers[0], PassThrough()],
      backbone.pooler, head=model.output_dense)
  with pytest.raises(TypeError,
                     match=r"transformer_layers\[1\] is a PassThrough"):
    save_pretrained(odd, tmp_path / "out")
  assert not tmp_path.joinpath("out").exists()


def test_hugging_face_loads_the_saved_checkpoint(fixtures_dir, tmp_path):
  import torch  # A test dependency (setup.py "test" extra): runs in CI.
  from transformers import BertForSequenceClassification
  reference = np.load(fixtures_dir / "tiny_bert_classifier_reference.npz")
  classifier = from_pretrained(fixtures_dir / "tiny-bert-classifier")
  teacher_layers = classifier.backbone.transformer_layers
  student = build_bert_classifier(classifier.backbone.embeddings,
                                  teacher_layers[:3],
                                  classifier.backbone.pooler,
                                  head=classifier.output_dense)
  save_pretrained(student, tmp_path / "out")
  hf_model = BertForSequenceClassification.from_pretrained(tmp_path / "out")
  hf_model.eval()
  inputs = reference_inputs(reference)
  with torch.no_grad():
    hf_logits = hf_model(**{
        k: torch.tensor(v, dtype=torch.long) for k, v in inputs.items()
    }).logits.numpy()
  np.testing.assert_allclose(hf_logits, student(inputs), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------
# from_pretrained: BERT checkpoint variants and errors.
# ----------------------------------------------------------------------------


def test_names_without_the_bert_prefix(tmp_path):
  model = write_checkpoint(tmp_path)
  edit_tensors(tmp_path, lambda tensors: tensors.update(
      {n.removeprefix("bert."): tensors.pop(n) for n in list(tensors)}))
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(tmp_path)(batch), model(batch))


def test_skips_pretraining_heads_and_buffers(tmp_path):
  model = write_checkpoint(tmp_path)

  def add_extras(tensors):
    tensors["cls.predictions.bias"] = np.zeros([40], np.float32)
    tensors["cls.seq_relationship.weight"] = np.zeros([2, 8], np.float32)
    tensors["bert.embeddings.position_ids"] = np.arange(16)[None].astype(
        np.int64)

  edit_tensors(tmp_path, add_extras)
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(tmp_path)(batch), model(batch))


def test_old_layer_norm_names(tmp_path):
  model = write_checkpoint(tmp_path)

  def rename(tensors):
    for name in [n for n in tensors if "LayerNorm" in n]:
      new_name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
          "LayerNorm.bias", "LayerNorm.beta")
      tensors[new_name] = tensors.pop(name)

  edit_tensors(tmp_path, rename)
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(tmp_path)(batch), model(batch))


def test_regression_from_config(tmp_path):
  folder = tmp_path / "ckpt"
  write_checkpoint(folder, num_labels=1)
  config = json.loads((folder / "config.json").read_text())
  assert config["problem_type"] == "regression"
  assert from_pretrained(folder).is_regression

  edit_config(folder, problem_type=None)
  assert from_pretrained(folder).is_regression  # num_labels == 1

  folder2 = tmp_path / "ckpt2"
  write_checkpoint(folder2, num_labels=2)
  edit_config(folder2, problem_type="regression")
  two_scores = from_pretrained(folder2)
  assert two_scores.is_regression and two_scores.num_classes == 2


@pytest.mark.parametrize("changes, message", [
    ({"position_embedding_type": "relative_key"},
     r"config\.json: position_embedding_type='relative_key'.*only 'absolute'"),
    ({"is_decoder": True}, r"config\.json: a BERT decoder"),
    ({"hidden_act": "tanh"}, "Unsupported hidden activation"),
])
def test_unsupported_configs(tmp_path, changes, message):
  write_checkpoint(tmp_path)
  edit_config(tmp_path, **changes)
  with pytest.raises(ValueError, match=message):
    from_pretrained(tmp_path)


def test_missing_tensor_names_the_tensor(tmp_path):
  write_checkpoint(tmp_path)
  edit_tensors(
      tmp_path,
      lambda t: t.pop("bert.encoder.layer.1.attention.self.key.weight"))
  with pytest.raises(ValueError,
                     match=r"encoder\.layer\.1\.attention\.self\.key\.weight "
                     r"\(shape \[8, 8\]\) is missing.*'bert\.' prefix"):
    from_pretrained(tmp_path)


def test_missing_pooler_is_freshly_initialised(tmp_path, caplog):
  write_checkpoint(tmp_path)

  def drop_pooler(tensors):
    for name in [n for n in tensors if "pooler" in n]:
      del tensors[name]

  edit_tensors(tmp_path, drop_pooler)
  with caplog.at_level(logging.WARNING):
    from_pretrained(tmp_path, task="backbone")
  assert "pooler is freshly initialised" in caplog.text


def test_wrong_shape_names_file_tensor_and_expectation(tmp_path):
  write_checkpoint(tmp_path)

  def widen(tensors):
    tensors["bert.encoder.layer.0.intermediate.dense.weight"] = np.zeros(
        [32, 8], np.float32)

  edit_tensors(tmp_path, widen)
  with pytest.raises(
      ValueError,
      match=r"model\.safetensors: tensor bert\.encoder\.layer\.0\.intermediate"
      r"\.dense\.weight has shape \[32, 8\], expected \[16, 8\]"):
    from_pretrained(tmp_path)


def test_unexpected_tensors_are_named(tmp_path):
  write_checkpoint(tmp_path)
  edit_config(tmp_path, num_hidden_layers=1)
  with pytest.raises(ValueError,
                     match=r"Unexpected tensor\(s\).*bert\.encoder\.layer\.1\."
                     r".*A BERT checkpoint .*num_hidden_layers=1"):
    from_pretrained(tmp_path)


def test_duplicate_names_with_and_without_prefix(tmp_path):
  write_checkpoint(tmp_path)
  edit_tensors(tmp_path, lambda t: t.update(
      {"pooler.dense.bias": t["bert.pooler.dense.bias"]}))
  with pytest.raises(ValueError, match=r"duplicates.*'bert\.' prefix"):
    from_pretrained(tmp_path)
