"""Tests for theseus_tf.utils.transformers.preset_loader: dispatch, heads,
folders written by save_pretrained."""

import json
import logging
import os
import stat
import subprocess
import sys
import types

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from theseus_tf.backend import keras
from theseus_tf.models import BertBackbone
from theseus_tf.utils.transformers import (SUPPORTED_MODEL_TYPES,
                                          from_pretrained, preset_loader,
                                          save_pretrained)
from tests.utils.transformers.checkpoint_helpers import (edit_config,
                                                         tiny_batch,
                                                         tiny_classifier,
                                                         write_checkpoint)

# ----------------------------------------------------------------------------
# Dispatch on model_type.
# ----------------------------------------------------------------------------


def test_imports_go_one_way_from_converters_to_models():
  # utils.transformers imports models; models must not import it back.
  code = ("import sys, theseus_tf.models; print(sorted(m for m in sys.modules "
          "if m.startswith('theseus_tf.utils')))")
  repo_root = os.path.dirname(__file__) + "/../../.."
  result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True, cwd=repo_root)
  assert result.stdout.strip() == "[]"


def test_unsupported_model_type_lists_the_supported_ones(tmp_path):
  write_checkpoint(tmp_path)
  edit_config(tmp_path, model_type="deberta-v2")
  with pytest.raises(ValueError) as error:
    from_pretrained(tmp_path)
  message = str(error.value)
  assert "\n" not in message
  assert "model_type='deberta-v2'" in message
  assert f"supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}." in message
  assert "bert" in SUPPORTED_MODEL_TYPES


def test_a_registered_converter_is_used(tmp_path, monkeypatch):
  # A family is one converter module plus one CONVERTERS entry: here, BERT's
  # converter under another name, with its config translation observed.
  from theseus_tf.utils.transformers import convert_bert
  seen = []

  def convert_backbone_config(hf_config):
    seen.append(hf_config["model_type"])
    return convert_bert.convert_backbone_config(hf_config)

  family = types.SimpleNamespace(
      **{k: getattr(convert_bert, k) for k in dir(convert_bert)
         if not k.startswith("_")})
  family.convert_backbone_config = convert_backbone_config
  monkeypatch.setitem(preset_loader.CONVERTERS, "bert-twin", family)
  model = write_checkpoint(tmp_path)
  edit_config(tmp_path, model_type="bert-twin")
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(tmp_path)(batch), model(batch))
  assert seen and set(seen) == {"bert-twin"}


def test_unknown_task_and_model_class(fixtures_dir, tmp_path):
  with pytest.raises(ValueError, match="Unknown task"):
    from_pretrained(fixtures_dir / "tiny-bert-classifier", task="ner")
  with pytest.raises(TypeError, match="BertClassifier or a BertBackbone"):
    save_pretrained(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "x")
  assert not (tmp_path / "x").exists()


def test_missing_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="No config.json in"):
    from_pretrained(tmp_path)
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
  with pytest.raises(FileNotFoundError, match="No model.safetensors"):
    from_pretrained(tmp_path)
  (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not a pickle")
  with pytest.raises(ValueError, match="never unpickles"):
    from_pretrained(tmp_path)


def test_sharded_checkpoint(tmp_path):
  model = write_checkpoint(tmp_path)
  tensors = load_file(str(tmp_path / "model.safetensors"))
  (tmp_path / "model.safetensors").unlink()
  names = sorted(tensors)
  weight_map = {}
  for i, shard_names in enumerate((names[:len(names) // 2],
                                   names[len(names) // 2:])):
    shard = f"model-0000{i + 1}-of-00002.safetensors"
    save_file({n: tensors[n] for n in shard_names}, str(tmp_path / shard))
    weight_map.update(dict.fromkeys(shard_names, shard))
  (tmp_path / "model.safetensors.index.json").write_text(
      json.dumps({"metadata": {}, "weight_map": weight_map}))
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(tmp_path)(batch), model(batch))


def test_backbone_task_skips_the_head(fixtures_dir):
  backbone = from_pretrained(fixtures_dir / "tiny-bert-classifier",
                             task="backbone")
  assert isinstance(backbone, BertBackbone)
  assert backbone.num_layers == 4 and backbone.hidden_dim == 64


# ----------------------------------------------------------------------------
# The classifier head.
# ----------------------------------------------------------------------------


def test_head_num_labels(tmp_path, caplog):
  folder = tmp_path / "ckpt"
  write_checkpoint(folder, num_labels=3)
  assert from_pretrained(folder, num_labels=3).num_classes == 3
  with pytest.raises(ValueError,
                     match="num_labels=2, but the checkpoint .* 3 outputs"):
    from_pretrained(folder, num_labels=2)

  encoder = tmp_path / "encoder"
  save_pretrained(tiny_classifier().backbone, encoder)
  with pytest.raises(ValueError, match="no classifier head .* pass num_labels"):
    from_pretrained(encoder)
  with caplog.at_level(logging.WARNING):
    fresh = from_pretrained(encoder, num_labels=4)
  assert fresh.num_classes == 4 and not fresh.is_regression
  assert "freshly initialised" in caplog.text
  assert from_pretrained(encoder, num_labels=1).is_regression

  edit_config(encoder, id2label={"0": "neg", "1": "pos"})
  labelled = from_pretrained(encoder)
  assert labelled.num_classes == 2
  assert labelled.id2label == {0: "neg", 1: "pos"}


# ----------------------------------------------------------------------------
# save_pretrained: where and how the folder is written.
# ----------------------------------------------------------------------------


def test_save_pretrained_into_an_existing_folder(tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  (out / "train_log.txt").write_text("keep me")
  (out / "model.safetensors.index.json").write_text("{}")
  (out / "model-00001-of-00002.safetensors").write_text("stale")
  model = write_checkpoint(out)
  assert sorted(p.name for p in out.iterdir()) == [
      "config.json", "model.safetensors", "train_log.txt"
  ]
  batch = tiny_batch()
  np.testing.assert_array_equal(from_pretrained(out)(batch), model(batch))
  assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_save_pretrained_refuses_a_file(tmp_path):
  (tmp_path / "out").write_text("a file")
  with pytest.raises(FileExistsError, match="not a folder"):
    save_pretrained(tiny_classifier(), tmp_path / "out")


def test_save_pretrained_failure_leaves_nothing_half_written(tmp_path):

  class BrokenTokenizer:

    def save_pretrained(self, folder):
      raise RuntimeError("disk full")

  with pytest.raises(RuntimeError, match="disk full"):
    save_pretrained(tiny_classifier(), tmp_path / "out",
                    tokenizer=BrokenTokenizer())
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_save_pretrained_output_is_readable_by_others(tmp_path, umask):
  # A model server running as another user must read it, as after `cp -r`.
  previous = os.umask(umask)
  try:
    out = save_pretrained(tiny_classifier(), tmp_path / "new" / "out")
  finally:
    os.umask(previous)
  for path in (tmp_path / "new", out):
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask, path
  for path in out.iterdir():
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
