"""RoBERTa, XLM-RoBERTa, ELECTRA and DistilBERT checkpoints in and out.

Against the Hugging Face PyTorch reference outputs of the tiny fixtures in
`../shared/fixtures/families` (see its README), and against Hugging Face
PyTorch loading what `save_pretrained` writes (torch is a test dependency:
that test must run, not skip).
"""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import theseus_tf
from theseus_tf.models import build_theseus_classifier
from theseus_tf.utils.transformers import (SUPPORTED_MODEL_TYPES,
                                          build_classifier, from_pretrained,
                                          save_pretrained)
from tests.utils.transformers.checkpoint_helpers import edit_config
from tests.utils.transformers.checkpoint_helpers import edit_tensors

FAMILIES = ("roberta", "xlm-roberta", "electra", "distilbert")
# Hugging Face's name of the depth, per family.
DEPTH_KEYS = {"roberta": "num_hidden_layers", "xlm-roberta": "num_hidden_layers",
              "electra": "num_hidden_layers", "distilbert": "n_layers"}
# A tensor of each family's encoder, for the error tests.
SOME_TENSOR = {
    "roberta": "roberta.encoder.layer.1.intermediate.dense.weight",
    "xlm-roberta": "roberta.encoder.layer.1.intermediate.dense.weight",
    "electra": "electra.embeddings_project.weight",
    "distilbert": "distilbert.transformer.layer.1.ffn.lin1.weight",
}


def _folder(families_dir, family):
  return families_dir / f"tiny-{family}-classifier"


def _reference(families_dir, family):
  return np.load(families_dir / f"tiny_{family}_classifier_reference.npz")


def _inputs(model, reference):
  return {name: reference[name] for name in model.feature_names}


def _copy_checkpoint(families_dir, family, tmp_path):
  folder = tmp_path / family
  folder.mkdir()
  source = _folder(families_dir, family)
  for name in ("config.json", "model.safetensors"):
    (folder / name).write_bytes((source / name).read_bytes())
  return folder


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_and_every_hidden_state_match_hugging_face(families_dir, family):
  reference = _reference(families_dir, family)
  model = from_pretrained(_folder(families_dir, family),
                          output_hidden_states=True)
  assert model.backbone.model_type == family
  inputs = _inputs(model, reference)
  # Only ELECTRA (type_vocab_size 2) takes token types.
  assert ("token_type_ids" in inputs) == (family == "electra")
  hidden_states = model.backbone(inputs)["hidden_states"]
  assert len(hidden_states) == len(reference["hidden_states"])
  for i, hidden in enumerate(hidden_states):
    np.testing.assert_allclose(hidden, reference["hidden_states"][i],
                               atol=1e-4, rtol=0, err_msg=f"hidden state {i}")
  np.testing.assert_allclose(model(inputs), reference["logits"], atol=1e-4,
                             rtol=0)


def test_roberta_positions_skip_padding(families_dir):
  # Hugging Face numbers positions from pad_token_id + 1 over non-padding
  # tokens: a sequence gives the same outputs wherever padding sits.
  model = from_pretrained(_folder(families_dir, "roberta"), task="backbone")
  ids = np.array([[0, 10, 11, 12, 2]], np.int32)
  padded = np.array([[0, 10, 11, 12, 2, 1, 1]], np.int32)
  plain = model({"input_ids": ids, "attention_mask": np.ones_like(ids)})
  with_padding = model({"input_ids": padded,
                        "attention_mask": (padded != 1).astype(np.int32)})
  np.testing.assert_allclose(with_padding["sequence_output"][:, :5],
                             plain["sequence_output"], atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_save_pretrained_writes_the_family_layout(families_dir, family,
                                                  tmp_path):
  source = _folder(families_dir, family)
  model = from_pretrained(source)
  save_pretrained(model, tmp_path / "out")
  written = load_file(str(tmp_path / "out" / "model.safetensors"))
  original = load_file(str(source / "model.safetensors"))
  assert {k: v.shape for k, v in written.items()} == {
      k: v.shape for k, v in original.items()}
  for name, array in original.items():
    np.testing.assert_array_equal(written[name], array, err_msg=name)
  config = json.loads((tmp_path / "out" / "config.json").read_text())
  hf_config = json.loads((source / "config.json").read_text())
  assert config["model_type"] == family
  assert config["architectures"] == hf_config["architectures"]
  for key in ("vocab_size", "max_position_embeddings", "pad_token_id",
              DEPTH_KEYS[family], "hidden_size", "dim", "embedding_size",
              "type_vocab_size", "intermediate_size", "hidden_dim"):
    assert config.get(key) == hf_config.get(key), key
  reloaded = from_pretrained(tmp_path / "out")
  reference = _reference(families_dir, family)
  np.testing.assert_allclose(reloaded(_inputs(model, reference)),
                             reference["logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_hugging_face_loads_a_saved_successor(families_dir, family, tmp_path):
  import torch  # A test dependency: this test must run in CI.
  from transformers import AutoModelForSequenceClassification
  model = from_pretrained(_folder(families_dir, family))
  theseus = build_theseus_classifier(model, num_modules=2)
  successor = theseus_tf.strip_successor(theseus)
  save_pretrained(successor, tmp_path / "out")
  config = json.loads((tmp_path / "out" / "config.json").read_text())
  assert config[DEPTH_KEYS[family]] == 2

  hf_model, info = AutoModelForSequenceClassification.from_pretrained(
      tmp_path / "out", output_loading_info=True)
  assert not info["missing_keys"] and not info["unexpected_keys"], info
  assert type(hf_model).__name__ == config["architectures"][0]
  hf_model.eval()
  inputs = _inputs(successor, _reference(families_dir, family))
  with torch.no_grad():
    hf_logits = hf_model(**{k: torch.tensor(v, dtype=torch.long)
                            for k, v in inputs.items()}).logits.numpy()
  np.testing.assert_allclose(hf_logits, successor(inputs), atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_theseus_every_grouping_and_init(families_dir, family):
  model = from_pretrained(_folder(families_dir, family))
  inputs = {name: value[:2] for name, value in _inputs(
      model, _reference(families_dir, family)).items()}
  for i, (grouping, init) in enumerate(((None, "bottom"), ([1, 3], "top"),
                                        (None, "every_k"),
                                        ([[0], [1, 2, 3]], [3, 0]))):
    theseus = build_theseus_classifier(
        model, num_modules=None if grouping else 2, grouping=grouping,
        init=init, seed=0,
        schedule=theseus_tf.schedules.ConstantReplacement(0.5))
    # Training does not depend on grouping and init; the CLI test trains
    # every family, here the two with embedding-side differences do.
    if i == 0 and family in ("electra", "distilbert"):
      labels = np.zeros([2], np.float32 if model.is_regression else np.int32)
      theseus.compile(
          "adam", "mse" if model.is_regression else
          theseus_tf.backend.keras.losses.SparseCategoricalCrossentropy(
              from_logits=True))
      theseus.fit(inputs, labels, epochs=1, batch_size=2, verbose=0)
    successor = theseus_tf.strip_successor(theseus)
    assert successor.num_classes == model.num_classes
    assert successor.feature_names == model.feature_names
    assert len(successor.blocks) == 2
    assert successor.head_type == model.head_type
    np.testing.assert_allclose(successor(inputs), theseus(inputs), atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_new_head_of_the_family(families_dir, family):
  backbone = from_pretrained(_folder(families_dir, family), task="backbone")
  classifier = build_classifier(backbone, num_classes=5)
  assert classifier.head_type == {"roberta": "roberta",
                                  "xlm-roberta": "roberta"}.get(family, family)
  assert classifier(_inputs(classifier, _reference(
      families_dir, family))).shape == (8, 5)


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_shape_names_the_tensor_and_both_shapes(families_dir, family,
                                                      tmp_path):
  folder = _copy_checkpoint(families_dir, family, tmp_path)
  name = SOME_TENSOR[family]
  edit_tensors(folder, lambda t: t.update({name: t[name][:, :-1]}))
  shape = list(load_file(str(_folder(families_dir, family) /
                             "model.safetensors"))[name].shape)
  with pytest.raises(ValueError) as error:
    from_pretrained(folder)
  message = str(error.value)
  assert "\n" not in message
  assert name in message
  assert f"shape {[shape[0], shape[1] - 1]}" in message
  assert f"expected {shape}" in message


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_tensor_is_named(families_dir, family, tmp_path):
  folder = _copy_checkpoint(families_dir, family, tmp_path)
  edit_tensors(folder, lambda t: t.pop(SOME_TENSOR[family]))
  with pytest.raises(ValueError, match=SOME_TENSOR[family].split(".", 1)[1]):
    from_pretrained(folder)


def test_distilbert_sinusoidal_positions_are_refused(families_dir, tmp_path):
  folder = _copy_checkpoint(families_dir, "distilbert", tmp_path)
  edit_config(folder, sinusoidal_pos_embds=True)
  with pytest.raises(ValueError, match="sinusoidal_pos_embds=true.*not "
                     "supported"):
    from_pretrained(folder)


def test_unsupported_model_type_lists_every_family(families_dir, tmp_path):
  folder = _copy_checkpoint(families_dir, "roberta", tmp_path)
  edit_config(folder, model_type="deberta-v2")
  with pytest.raises(ValueError) as error:
    from_pretrained(folder)
  assert ("supported model types: bert, distilbert, electra, roberta, "
          "xlm-roberta.") in str(error.value)
  assert SUPPORTED_MODEL_TYPES == ("bert", "distilbert", "electra", "roberta",
                                   "xlm-roberta")


def test_electra_without_projection(families_dir, tmp_path):
  # embedding_size == hidden_size: no embeddings_project, as in Hugging Face.
  folder = _copy_checkpoint(families_dir, "electra", tmp_path)
  edit_config(folder, embedding_size=64)
  with pytest.raises(ValueError, match="embeddings.word_embeddings.weight has "
                     r"shape \[30522, 32\], expected \[30522, 64\]"):
    from_pretrained(folder)
