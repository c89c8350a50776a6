"""Tests for theseus_tf.utils.transformers.convert_bert (from/save_pretrained)."""

import json
import logging
import struct

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file, save_file

from theseus_tf.models import (BertBackbone, BertClassifier,
                               build_bert_classifier, from_pretrained,
                               load_tokenizer, save_pretrained)
from theseus_tf.utils.transformers import convert_bert

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def _inputs(reference):
  return {name: reference[name] for name in INPUT_NAMES}


def _tiny_batch(batch=3, seq=6, seed=0):
  rng = np.random.default_rng(seed)
  mask = np.ones([batch, seq], np.int32)
  mask[0, seq - 2:] = 0
  return {
      "input_ids": rng.integers(1, 40, [batch, seq]).astype(np.int32) * mask,
      "attention_mask": mask,
      "token_type_ids": np.zeros([batch, seq], np.int32),
  }


def _tiny_classifier(num_labels=3):
  backbone = BertBackbone(vocabulary_size=40, num_layers=2, num_heads=2,
                          hidden_dim=8, intermediate_dim=16,
                          max_sequence_length=16)
  return BertClassifier(backbone, num_classes=num_labels)


def _write_checkpoint(folder, num_labels=3):
  """Saves a tiny random classifier as a Hugging Face folder; returns it."""
  model = _tiny_classifier(num_labels)
  save_pretrained(model, folder)
  return model


def _edit_tensors(folder, edit):
  path = folder / "model.safetensors"
  tensors = load_file(str(path))
  edit(tensors)
  save_file(tensors, str(path), metadata={"format": "pt"})


def _edit_config(folder, **changes):
  path = folder / "config.json"
  config = json.loads(path.read_text())
  config.update(changes)
  path.write_text(json.dumps(config))


# ----------------------------------------------------------------------------
# Parity with the Hugging Face reference outputs.
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_minilm_parity(minilm_dir, fixtures_dir):
  reference = np.load(fixtures_dir / "minilm_reference.npz")
  backbone = from_pretrained(minilm_dir, task="backbone",
                             output_hidden_states=True)
  outputs = backbone(_inputs(reference))
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
  inputs = _inputs(reference)
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
  logits = classifier(_inputs(reference))
  assert logits.dtype == "float32"
  np.testing.assert_allclose(logits, reference["logits"], atol=2e-3, rtol=0)


def test_backbone_task_skips_the_head(fixtures_dir):
  backbone = from_pretrained(fixtures_dir / "tiny-bert-classifier",
                             task="backbone")
  assert isinstance(backbone, BertBackbone)
  assert backbone.num_layers == 4 and backbone.hidden_dim == 64
  with pytest.raises(ValueError, match="Unknown task"):
    from_pretrained(fixtures_dir / "tiny-bert-classifier", task="ner")


# ----------------------------------------------------------------------------
# save_pretrained.
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
  inputs = _inputs(reference)
  np.testing.assert_array_equal(reloaded(inputs), classifier(inputs))
  assert reloaded.id2label == classifier.id2label


def test_save_backbone_as_bert_model(tmp_path):
  backbone = _tiny_classifier().backbone
  save_pretrained(backbone, tmp_path / "encoder")
  config = json.loads((tmp_path / "encoder" / "config.json").read_text())
  assert config["architectures"] == ["BertModel"]
  assert "id2label" not in config
  names = load_file(str(tmp_path / "encoder" / "model.safetensors"))
  assert "embeddings.word_embeddings.weight" in names
  assert "encoder.layer.1.attention.self.query.weight" in names
  reloaded = from_pretrained(tmp_path / "encoder", task="backbone")
  batch = _tiny_batch()
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
  batch = _tiny_batch()
  np.testing.assert_array_equal(reloaded(batch), student(batch))


def test_save_pretrained_refuses_non_bert_blocks(tmp_path):
  from theseus_tf.backend import keras

  class PassThrough(keras.layers.Layer):

    def call(self, x, attention_mask=None):
      return x

  model = _tiny_classifier()
  backbone = model.backbone
  odd = build_bert_classifier(
      backbone.embeddings, [backbone.transformer_layers[0], PassThrough()],
      backbone.pooler, head=model.output_dense)
  with pytest.raises(TypeError,
                     match=r"transformer_layers\[1\] is a PassThrough"):
    save_pretrained(odd, tmp_path / "out")
  assert not tmp_path.joinpath("out").exists()
  with pytest.raises(TypeError, match="BertClassifier or a BertBackbone"):
    save_pretrained(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "x")


def test_save_pretrained_into_an_existing_folder(tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  (out / "train_log.txt").write_text("keep me")
  (out / "model.safetensors.index.json").write_text("{}")
  (out / "model-00001-of-00002.safetensors").write_text("stale")
  model = _write_checkpoint(out)
  assert sorted(p.name for p in out.iterdir()) == [
      "config.json", "model.safetensors", "train_log.txt"
  ]
  batch = _tiny_batch()
  np.testing.assert_array_equal(from_pretrained(out)(batch), model(batch))
  assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_save_pretrained_failure_leaves_nothing_half_written(tmp_path):

  class BrokenTokenizer:

    def save_pretrained(self, folder):
      raise RuntimeError("disk full")

  with pytest.raises(RuntimeError, match="disk full"):
    save_pretrained(_tiny_classifier(), tmp_path / "out",
                    tokenizer=BrokenTokenizer())
  assert list(tmp_path.iterdir()) == []


def test_hugging_face_loads_the_saved_checkpoint(fixtures_dir, tmp_path):
  torch = pytest.importorskip(
      "torch", reason="torch is not installed: cannot load the export with "
      "Hugging Face's PyTorch BertForSequenceClassification")
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
  inputs = _inputs(reference)
  with torch.no_grad():
    hf_logits = hf_model(**{
        k: torch.tensor(v, dtype=torch.long) for k, v in inputs.items()
    }).logits.numpy()
  np.testing.assert_allclose(hf_logits, student(inputs), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------
# from_pretrained: checkpoint variants.
# ----------------------------------------------------------------------------


def test_names_without_prefix_and_sharded_checkpoints(tmp_path):
  folder = tmp_path / "ckpt"
  model = _write_checkpoint(folder)
  tensors = load_file(str(folder / "model.safetensors"))
  (folder / "model.safetensors").unlink()
  names = sorted(tensors)
  shards = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
            "model-00002-of-00002.safetensors": names[len(names) // 2:]}
  weight_map = {}
  for shard, shard_names in shards.items():
    # The encoder without the "bert." prefix, as BertModel checkpoints have.
    save_file({n.removeprefix("bert."): tensors[n] for n in shard_names},
              str(folder / shard), metadata={"format": "pt"})
    weight_map.update({n.removeprefix("bert."): shard for n in shard_names})
  (folder / "model.safetensors.index.json").write_text(
      json.dumps({"metadata": {}, "weight_map": weight_map}))
  batch = _tiny_batch()
  np.testing.assert_array_equal(from_pretrained(folder)(batch), model(batch))

  (folder / "model-00002-of-00002.safetensors").unlink()
  with pytest.raises(FileNotFoundError,
                     match="model-00002-of-00002.safetensors"):
    from_pretrained(folder)


def _write_bf16_safetensors(path, tensors):
  header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
  for name, array in tensors.items():
    bits = (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2")
    data = bits.tobytes()
    header[name] = {"dtype": "BF16", "shape": list(array.shape),
                    "data_offsets": [offset, offset + len(data)]}
    chunks.append(data)
    offset += len(data)
  header_bytes = json.dumps(header).encode()
  header_bytes += b" " * (-len(header_bytes) % 8)
  path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes +
                   b"".join(chunks))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints(tmp_path, dtype):
  folder = tmp_path / "ckpt"
  model = _write_checkpoint(folder)
  tensors = load_file(str(folder / "model.safetensors"))
  if dtype == "float16":
    save_file({n: a.astype(np.float16) for n, a in tensors.items()},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
  else:
    _write_bf16_safetensors(folder / "model.safetensors", tensors)
  loaded = from_pretrained(folder)
  assert all(tf.as_dtype(w.dtype) == tf.float32 for w in loaded.weights)
  batch = _tiny_batch()
  np.testing.assert_allclose(loaded(batch), model(batch), atol=5e-3)


def test_skips_pretraining_heads_and_buffers(tmp_path):
  folder = tmp_path / "ckpt"
  model = _write_checkpoint(folder)

  def add_extras(tensors):
    tensors["cls.predictions.bias"] = np.zeros([40], np.float32)
    tensors["cls.seq_relationship.weight"] = np.zeros([2, 8], np.float32)
    tensors["bert.embeddings.position_ids"] = np.arange(16)[None].astype(
        np.int64)

  _edit_tensors(folder, add_extras)
  batch = _tiny_batch()
  np.testing.assert_array_equal(from_pretrained(folder)(batch), model(batch))


def test_old_layer_norm_names(tmp_path):
  folder = tmp_path / "ckpt"
  model = _write_checkpoint(folder)

  def rename(tensors):
    for name in [n for n in tensors if "LayerNorm" in n]:
      new_name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
          "LayerNorm.bias", "LayerNorm.beta")
      tensors[new_name] = tensors.pop(name)

  _edit_tensors(folder, rename)
  batch = _tiny_batch()
  np.testing.assert_array_equal(from_pretrained(folder)(batch), model(batch))


# ----------------------------------------------------------------------------
# from_pretrained: the classifier head.
# ----------------------------------------------------------------------------


def test_head_num_labels(tmp_path, caplog):
  folder = tmp_path / "ckpt"
  _write_checkpoint(folder, num_labels=3)
  assert from_pretrained(folder, num_labels=3).num_classes == 3
  with pytest.raises(ValueError,
                     match="num_labels=2, but the checkpoint .* 3 outputs"):
    from_pretrained(folder, num_labels=2)

  encoder = tmp_path / "encoder"
  save_pretrained(_tiny_classifier().backbone, encoder)
  with pytest.raises(ValueError, match="no classifier head .* pass num_labels"):
    from_pretrained(encoder)
  with caplog.at_level(logging.WARNING):
    fresh = from_pretrained(encoder, num_labels=4)
  assert fresh.num_classes == 4 and not fresh.is_regression
  assert "freshly initialised" in caplog.text
  assert from_pretrained(encoder, num_labels=1).is_regression

  _edit_config(encoder, id2label={"0": "neg", "1": "pos"})
  labelled = from_pretrained(encoder)
  assert labelled.num_classes == 2
  assert labelled.id2label == {0: "neg", 1: "pos"}


def test_regression_from_config(tmp_path):
  folder = tmp_path / "ckpt"
  _write_checkpoint(folder, num_labels=1)
  config = json.loads((folder / "config.json").read_text())
  assert config["problem_type"] == "regression"
  assert from_pretrained(folder).is_regression

  _edit_config(folder, problem_type=None)
  assert from_pretrained(folder).is_regression  # num_labels == 1

  folder2 = tmp_path / "ckpt2"
  _write_checkpoint(folder2, num_labels=2)
  _edit_config(folder2, problem_type="regression")
  two_scores = from_pretrained(folder2)
  assert two_scores.is_regression and two_scores.num_classes == 2


# ----------------------------------------------------------------------------
# from_pretrained: errors.
# ----------------------------------------------------------------------------


def test_refuses_pickle_checkpoints(tmp_path):
  folder = tmp_path / "ckpt"
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
  # Not even a valid pickle: the point is that nothing tries to unpickle it.
  (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not a pickle")
  with pytest.raises(ValueError, match="never unpickles") as error:
    from_pretrained(folder)
  assert "save_pretrained" in str(error.value)
  assert "pytorch_model.bin" in str(error.value)
  with pytest.raises(ValueError, match="never unpickles"):
    from_pretrained(folder / "pytorch_model.bin")


def test_missing_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="No config.json in"):
    from_pretrained(tmp_path)
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
  with pytest.raises(FileNotFoundError, match="No model.safetensors"):
    from_pretrained(tmp_path)
  with pytest.raises(NotADirectoryError, match="pass the folder"):
    from_pretrained(tmp_path / "config.json")
  with pytest.raises(FileNotFoundError, match="No folder"):
    from_pretrained(tmp_path / "missing")
  with pytest.raises(FileNotFoundError, match="No folder"):
    from_pretrained("./relative/missing/folder")


@pytest.mark.parametrize("changes, message", [
    ({"model_type": "roberta"}, "model_type='roberta'.*BERT checkpoints only"),
    ({"position_embedding_type": "relative_key"}, "only 'absolute'"),
    ({"is_decoder": True}, "decoder"),
    ({"hidden_act": "tanh"}, "Unsupported hidden activation"),
])
def test_unsupported_configs(tmp_path, changes, message):
  _write_checkpoint(tmp_path)
  _edit_config(tmp_path, **changes)
  with pytest.raises(ValueError, match=message):
    from_pretrained(tmp_path)


def test_missing_tensor_names_the_tensor(tmp_path):
  _write_checkpoint(tmp_path)
  _edit_tensors(
      tmp_path,
      lambda t: t.pop("bert.encoder.layer.1.attention.self.key.weight"))
  with pytest.raises(ValueError,
                     match=r"encoder\.layer\.1\.attention\.self\.key\.weight "
                     r"\(shape \[8, 8\]\) is missing"):
    from_pretrained(tmp_path)


def test_missing_pooler_is_freshly_initialised(tmp_path, caplog):
  _write_checkpoint(tmp_path)

  def drop_pooler(tensors):
    for name in [n for n in tensors if "pooler" in n]:
      del tensors[name]

  _edit_tensors(tmp_path, drop_pooler)
  with caplog.at_level(logging.WARNING):
    from_pretrained(tmp_path, task="backbone")
  assert "pooler is freshly initialised" in caplog.text


def test_wrong_shape_names_file_tensor_and_expectation(tmp_path):
  _write_checkpoint(tmp_path)

  def widen(tensors):
    tensors["bert.encoder.layer.0.intermediate.dense.weight"] = np.zeros(
        [32, 8], np.float32)

  _edit_tensors(tmp_path, widen)
  with pytest.raises(
      ValueError,
      match=r"model\.safetensors: tensor bert\.encoder\.layer\.0\.intermediate"
      r"\.dense\.weight has shape \[32, 8\], expected \[16, 8\]"):
    from_pretrained(tmp_path)


def test_unexpected_tensors_are_named(tmp_path):
  _write_checkpoint(tmp_path)
  _edit_config(tmp_path, num_hidden_layers=1)
  with pytest.raises(ValueError,
                     match=r"Unexpected tensor\(s\).*bert\.encoder\.layer\.1\."
                     r".*num_hidden_layers=1"):
    from_pretrained(tmp_path)


def test_unreadable_safetensors(tmp_path):
  _write_checkpoint(tmp_path)
  (tmp_path / "model.safetensors").write_bytes(b"garbage")
  with pytest.raises(ValueError, match="not a readable safetensors file"):
    from_pretrained(tmp_path)


# ----------------------------------------------------------------------------
# Hub ids.
# ----------------------------------------------------------------------------


def test_hub_id_offline_says_to_pass_a_local_folder(tmp_path, monkeypatch):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  with pytest.raises(OSError) as error:
    from_pretrained("theseus-tf-tests/no-such-model", cache_dir=tmp_path)
  assert "HF_HUB_OFFLINE" in str(error.value)
  assert "pass its local path" in str(error.value)


def test_hub_id_network_error_says_to_pass_a_local_folder(monkeypatch):
  import huggingface_hub

  def unreachable(*args, **kwargs):
    raise ConnectionError("Temporary failure in name resolution")

  for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    monkeypatch.delenv(variable, raising=False)
  monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
  monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
  with pytest.raises(OSError, match="could not be downloaded.*name resolution"
                     ".*pass its local path"):
    from_pretrained("theseus-tf-tests/no-such-model")


def test_hub_id_is_downloaded_with_snapshot_download(tmp_path, monkeypatch):
  import huggingface_hub
  model = _write_checkpoint(tmp_path / "snapshot")
  calls = []

  def fake_snapshot_download(repo_id, **kwargs):
    calls.append((repo_id, kwargs))
    return str(tmp_path / "snapshot")

  for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    monkeypatch.delenv(variable, raising=False)
  monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
  monkeypatch.setattr(huggingface_hub, "snapshot_download",
                      fake_snapshot_download)
  loaded = from_pretrained("some-org/tiny-bert", revision="v1")
  assert calls[0][0] == "some-org/tiny-bert"
  assert calls[0][1]["revision"] == "v1"
  assert "model*.safetensors" in calls[0][1]["allow_patterns"]
  assert not any(p.endswith(".bin") for p in calls[0][1]["allow_patterns"])
  batch = _tiny_batch()
  np.testing.assert_array_equal(loaded(batch), model(batch))


def test_is_hub_id():
  assert convert_bert._is_hub_id("bert-base-uncased")
  assert convert_bert._is_hub_id("sentence-transformers/all-MiniLM-L6-v2")
  assert not convert_bert._is_hub_id("/abs/path")
  assert not convert_bert._is_hub_id("./rel")
  assert not convert_bert._is_hub_id("a/b/c")
