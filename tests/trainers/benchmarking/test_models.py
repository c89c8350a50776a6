"""The benchmark's model variants, loaded from the flags and checked."""

import argparse
import json

from trainers.benchmarking import models


def _args(**flags):
  defaults = {"model": None, "architecture": None, "successor": None,
              "num_layers": None, "compare": []}
  return argparse.Namespace(**dict(defaults, **flags))


def test_fresh_heads_are_not_scored(tiny_dirs):
  from trainers.inputs import resolve_task
  loaded = models.load_variants(
      _args(model=str(tiny_dirs["headless"]),
            compare=[f"other={tiny_dirs['successor']}"]), resolve_task("sst2"))
  names = [v.name for v in loaded.variants]
  assert names == ["predecessor", "successor", "plain", "other"]
  trained = {v.name: v.trained_head for v in loaded.variants}
  assert trained == {"predecessor": False, "successor": False,
                     "plain": False, "other": True}
  assert loaded["plain"].score_from == "successor"
  assert loaded.successor_depth == 1
  assert models.weight_bytes(loaded["plain"].model) == models.weight_bytes(
      loaded["successor"].model)


def test_random_architecture_from_a_config_folder(tiny_dirs, tmp_path):
  folder = tmp_path / "arch"
  folder.mkdir()
  config = json.loads((tiny_dirs["predecessor"] / "config.json").read_text())
  config["num_hidden_layers"] = 4
  (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
  (folder / "vocab.txt").write_bytes(
      (tiny_dirs["predecessor"] / "vocab.txt").read_bytes())
  loaded = models.load_variants(_args(architecture=str(folder)), None)
  predecessor = loaded["predecessor"]
  assert predecessor.num_layers == 4 and not predecessor.trained_head
  assert predecessor.tokenizer_dir == folder
  assert loaded.predecessor_spec.folder is None
  assert loaded.predecessor_spec.config["num_hidden_layers"] == 4
  assert loaded["successor"].num_layers == 2
  assert models.architecture_config("bert-base") == {"model_type": "bert"}


def test_equal_grouping():
  assert models.equal_grouping(12, 5) == [3, 3, 2, 2, 2]


def test_example_texts_fill_the_sequence_length():
  # One word per token of MiniLM's vocabulary: seq_length words fill it
  # once [CLS] and [SEP] are added and the sentence is truncated.
  texts = models.example_texts(3, 16, seed=1)
  assert len(texts) == 3 and all(len(t.split()) == 16 for t in texts)
  assert len(set(texts)) == 3  # Different sentences, not one repeated.
  assert texts == models.example_texts(3, 16, seed=1)
  lengths = {len(t.split()) for t in models.synthetic_sentences(50, 4, 60)}
  assert min(lengths) >= 4 and max(lengths) <= 60 and len(lengths) > 10


def test_random_architecture_of_other_families(fixtures_dir, tmp_path):
  import numpy as np
  import pytest
  for family in ("roberta", "distilbert"):
    source = fixtures_dir / "families" / f"tiny-{family}-classifier"
    if not source.is_dir():
      pytest.skip(f"{source} not found")
    path = tmp_path / f"{family}.json"
    path.write_text((source / "config.json").read_text())
    loaded = models.load_variants(_args(architecture=str(path)), None)
    predecessor, plain = loaded["predecessor"].model, loaded["plain"].model
    assert predecessor.backbone.model_type == family
    assert predecessor.head_type == plain.head_type == (
        "roberta" if family == "roberta" else "distilbert")
    assert loaded["successor"].num_layers == 2
    features = models.model_inputs(
        plain, models.example_features(2, 8, plain.backbone.vocabulary_size))
    assert "token_type_ids" not in features
    np.testing.assert_allclose(plain(features),
                               loaded["successor"].model(features), atol=1e-5)


def test_tokenizer_checks_cover_the_families(families_dir):
  # A RoBERTa checkpoint with its own byte-level BPE tokenizer: its
  # vocabulary is counted, and positions end at the table less the offset.
  import pytest
  from theseus_tf.utils.transformers import from_pretrained
  from trainers.errors import UsageError
  folder = families_dir / "tiny-roberta-classifier"
  variant = argparse.Namespace(name="predecessor", tokenizer_dir=folder,
                               model=from_pretrained(str(folder)))
  models.check_tokenizers([variant], 48)  # 50 positions - (pad id 1 + 1).
  with pytest.raises(UsageError, match="has only 48 position embeddings"):
    models.check_tokenizers([variant], 49)
