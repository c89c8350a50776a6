"""Tiny Hugging Face BERT checkpoints for the converter tests, and editors."""

import json

import numpy as np
from safetensors.numpy import load_file, save_file

from theseus_tf.data import FEATURE_NAMES
from theseus_tf.models import BertBackbone, BertClassifier
from theseus_tf.utils.transformers import save_pretrained


def reference_inputs(reference):
  """The model inputs of a reference `.npz` of the fixtures."""
  return {name: reference[name] for name in FEATURE_NAMES}


def tiny_batch(batch=3, seq=6, seed=0):
  """Random int32 BERT features for `tiny_classifier`, one padded row."""
  rng = np.random.default_rng(seed)
  mask = np.ones([batch, seq], np.int32)
  mask[0, seq - 2:] = 0
  return {
      "input_ids": rng.integers(1, 40, [batch, seq]).astype(np.int32) * mask,
      "attention_mask": mask,
      "token_type_ids": np.zeros([batch, seq], np.int32),
  }


def tiny_classifier(num_labels=3):
  """A random 2-layer, 8-wide `BertClassifier`."""
  backbone = BertBackbone(vocabulary_size=40, num_layers=2, num_heads=2,
                          hidden_dim=8, intermediate_dim=16,
                          max_sequence_length=16)
  return BertClassifier(backbone, num_classes=num_labels)


def write_checkpoint(folder, num_labels=3):
  """Saves a tiny random classifier as a Hugging Face folder; returns it."""
  model = tiny_classifier(num_labels)
  save_pretrained(model, folder)
  return model


def edit_tensors(folder, edit):
  """Rewrites `folder/model.safetensors` after `edit(tensors)`."""
  path = folder / "model.safetensors"
  tensors = load_file(str(path))
  edit(tensors)
  save_file(tensors, str(path), metadata={"format": "pt"})


def edit_config(folder, **changes):
  """Updates keys of `folder/config.json`."""
  path = folder / "config.json"
  config = json.loads(path.read_text())
  config.update(changes)
  path.write_text(json.dumps(config))
