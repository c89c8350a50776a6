"""Tiny BERT folders for the benchmark tests (2 layers -> 1, hidden 32)."""

import json

import numpy as np

from trainers.benchmarking import models

# WordPiece over single characters covers any lower-case text.
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = list(dict.fromkeys(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + _CHARS +
    ["##" + c for c in _CHARS] + list(".,!?'-") +
    "the and of to is it film movie this that with but not".split()))


def save_with_vocabulary(model, folder):
  """A Hugging Face folder with the tiny vocabulary as its tokenizer."""
  from theseus_tf.utils.transformers import save_pretrained
  save_pretrained(model, folder)
  (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  (folder / "tokenizer_config.json").write_text(json.dumps(
      {"do_lower_case": True, "tokenizer_class": "BertTokenizer"}),
                                                encoding="utf-8")
  return folder


def tiny_classifier(hidden=32, layers=2, seed=0):
  """A 'fine-tuned' tiny classifier: its head spreads the logits."""
  from theseus_tf.backend import keras
  from theseus_tf.models import BertBackbone, BertClassifier
  keras.utils.set_random_seed(seed)
  backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=layers,
                          num_heads=2, hidden_dim=hidden,
                          intermediate_dim=2 * hidden, max_sequence_length=64)
  model = BertClassifier(backbone, num_classes=2, name="bert_classifier")
  model(models.example_features(2, 8, len(VOCAB)))
  kernel, _ = model.output_dense.get_weights()
  model.output_dense.set_weights([kernel * 100, np.array([0.1, -0.1],
                                                         np.float32)])
  return model


def save_tiny_models(root):
  """Folders: predecessor (2 layers), successor (1), narrow, headless."""
  from theseus_tf import strip_successor
  from theseus_tf.models import build_theseus_classifier
  from theseus_tf.utils.transformers import save_pretrained
  predecessor = tiny_classifier()
  dirs = {"predecessor": save_with_vocabulary(predecessor, root / "predecessor")}
  dirs["successor"] = save_with_vocabulary(
      strip_successor(build_theseus_classifier(predecessor, num_modules=1)),
      root / "successor")
  dirs["narrow"] = save_with_vocabulary(tiny_classifier(hidden=16, layers=1),
                         root / "narrow")
  headless = root / "headless"
  save_pretrained(predecessor.backbone, headless)
  for name in ("vocab.txt", "tokenizer_config.json"):
    (headless / name).write_bytes((dirs["predecessor"] / name).read_bytes())
  dirs["headless"] = headless
  return dirs
