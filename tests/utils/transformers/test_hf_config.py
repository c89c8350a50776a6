"""Tests for theseus_tf.utils.transformers.hf_config."""

import json

import pytest

from theseus_tf.utils.transformers.hf_config import read_hf_config
from theseus_tf.utils.transformers.hf_config import write_hf_config


def test_write_then_read(tmp_path):
  config = {"model_type": "bert", "id2label": {"0": "neg"}, "hidden_size": 8}
  path = write_hf_config(config, tmp_path)
  assert path == tmp_path / "config.json"
  assert path.read_text().endswith("}\n")
  assert list(json.loads(path.read_text())) == sorted(config)
  assert read_hf_config(tmp_path) == config


def test_missing_and_invalid(tmp_path):
  with pytest.raises(FileNotFoundError, match="No config.json in"):
    read_hf_config(tmp_path)
  (tmp_path / "config.json").write_text("{not json")
  with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
    read_hf_config(tmp_path)
