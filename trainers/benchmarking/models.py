"""The model variants of a benchmark, loaded from the flags and checked.

- `predecessor`: `--model` (a fine-tuned Hugging Face folder), a
  randomly initialised `--architecture`, or by default all-MiniLM-L6-v2 with
  a fresh classifier head.
- `successor`: `--successor` (a compress run's `final_model/`), or by
  default the stripped `build_theseus_classifier(predecessor, --num-layers)`.
- `plain`: a fresh `BertClassifier` of the successor's configuration holding
  the successor's weights: what the successor must match in size and speed
  if stripping leaves nothing of the Theseus wrapping behind.
- one variant per `--compare NAME=PATH` (baselines, other runs).
"""

import dataclasses
import functools
import json
import logging
import os
import pathlib
import random
import re
from typing import Optional

import numpy as np

from theseus_tf.backend import keras
from theseus_tf.data import FEATURE_NAMES
from theseus_tf.export import preprocessor_loader
from theseus_tf.export import signatures
from theseus_tf.models import (BertBackbone, BertClassifier,
                               build_theseus_classifier)
from theseus_tf.strip_successor import strip_successor
from theseus_tf.utils.transformers import (SUPPORTED_MODEL_TYPES,
                                          build_classifier, from_pretrained,
                                          load_tokenizer, resolve_model_dir)
from theseus_tf.utils.transformers.preset_loader import (
    TOKENIZER_FILES, get_converter, read_checkpoint_config)
from trainers.errors import UsageError
from trainers.locations import default_model_dir
from trainers.evaluation import count_parameters
from trainers.model_io import head_labels, load_task_classifier

# Random-initialisation presets of --architecture (Hugging Face config keys;
# what they leave out is BERT-base, `BertConfig`'s defaults).
ARCHITECTURES = {
    "bert-base": {},
    "bert-large": {"hidden_size": 1024, "num_hidden_layers": 24,
                   "num_attention_heads": 16, "intermediate_size": 4096},
}
RESERVED_NAMES = ("predecessor", "successor", "plain")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclasses.dataclass
class Variant:
  """One model of the benchmark.

  Attributes:
    name: `predecessor`, `successor`, `plain` or a `--compare` name.
    model: The Keras `BertClassifier`.
    source: Where it came from (a folder, or how it was built).
    tokenizer_dir: The tokenizer folder (for SavedModel export, int8
      calibration and scores).
    trained_head: False when the classifier head is freshly initialised:
      its dev score would mean nothing, so none is computed.
    score_from: The variant whose scores this one shares (the plain model
      holds the successor's weights), or None.
    note: What the reader should know about it, for the report.
  """
  name: str
  model: object
  source: str
  tokenizer_dir: pathlib.Path
  trained_head: bool
  score_from: Optional[str] = None
  note: str = ""

  @property
  def num_layers(self):
    return len(self.model.backbone.transformer_layers)

  def describe(self):
    """A JSON-serialisable summary (no model)."""
    backbone = self.model.backbone
    return {
        "name": self.name,
        "source": self.source,
        "num_layers": self.num_layers,
        "hidden_size": int(backbone.hidden_dim),
        "num_parameters": count_parameters(self.model),
        "trained_head": self.trained_head,
        "score_from": self.score_from,
        "note": self.note,
    }


@dataclasses.dataclass
class PredecessorSpec:
  """How to rebuild the predecessor in another process (training timing).

  Attributes:
    folder: Its Hugging Face folder, or None for a random initialisation.
    config: The Hugging Face config of a random initialisation.
    num_labels: Outputs of the classifier head.
  """
  folder: Optional[str]
  config: Optional[dict]
  num_labels: int

  def to_json(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, value):
    return cls(**value)


@dataclasses.dataclass
class Variants:
  """The loaded variants and what training needs to rebuild them.

  Attributes:
    variants: `Variant`s in report order: predecessor, successor, plain,
      then the `--compare` models.
    predecessor_spec: A `PredecessorSpec`.
    successor_depth: Number of successor layers (= Theseus modules).
  """
  variants: list
  predecessor_spec: PredecessorSpec
  successor_depth: int

  def __getitem__(self, name):
    for variant in self.variants:
      if variant.name == name:
        return variant
    raise KeyError(name)


def weight_bytes(model):
  """Bytes of the model's weights as they are held (float32: 4 per scalar)."""
  return int(sum(np.prod(v.shape) * np.dtype(_dtype_name(v)).itemsize
                 for v in model.weights))


def _dtype_name(variable):
  dtype = variable.dtype
  return getattr(dtype, "name", dtype)


def parse_compare_flags(values):
  """`--compare NAME=PATH` values -> `[(name, path)]`, checked."""
  models = []
  for value in values or ():
    name, sep, path = value.partition("=")
    if not sep or not path:
      raise UsageError(
          f"--compare {value!r}: expected NAME=PATH, e.g. --compare "
          "distill=runs/distill-sst2/final_model")
    if not _NAME.fullmatch(name):
      raise UsageError(
          f"--compare {value!r}: use letters, digits, '.', '_' and '-' in NAME")
    if name in RESERVED_NAMES or name in (n for n, _ in models):
      raise UsageError(
          f"--compare {value!r}: the name {name!r} is taken (reserved: "
          f"{', '.join(RESERVED_NAMES)}); pick another")
    models.append((name, path))
  return models


def _folder(flag, path):
  try:
    return pathlib.Path(resolve_model_dir(path))
  except (OSError, ValueError) as error:
    raise UsageError(f"{flag} {path}: {error}") from None


def _hf_config(flag, folder):
  try:
    return read_checkpoint_config(folder)[0]
  except (OSError, ValueError) as error:
    raise UsageError(f"{flag} {folder}: {error}") from None


def _has_tokenizer(folder):
  return any((pathlib.Path(folder) / name).is_file()
             for name in TOKENIZER_FILES)


def _quiet_loading(function):
  """Runs `function` with the Hugging Face loader's warnings off.

  A checkpoint without a head makes `from_pretrained` warn; the benchmark
  says so itself (the variant's note). The level is restored afterwards:
  the rest of the process (a test session, say) still sees the warnings.
  """

  @functools.wraps(function)
  def quietly(*args, **kwargs):
    logger = logging.getLogger("theseus_tf.utils.transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
      return function(*args, **kwargs)
    finally:
      logger.setLevel(level)

  return quietly


def _load_classifier(flag, path, task, num_labels):
  """A `BertClassifier` from a folder; returns `(model, folder, trained)`."""
  folder = _folder(flag, path)
  _hf_config(flag, folder)
  labels = head_labels(folder)
  if task is not None:
    model = load_task_classifier(flag, folder, task, allow_new_head=True)
  else:
    if labels is not None and num_labels is not None and labels != num_labels:
      raise UsageError(
          f"{flag} {path} has a {labels}-label head, the predecessor a "
          f"{num_labels}-label one: benchmark models of the same task")
    try:
      model = from_pretrained(
          folder, num_labels=None if labels is not None else num_labels or 2)
    except (OSError, ValueError, KeyError, TypeError) as error:
      raise UsageError(f"{flag} {path}: {error}") from None
  return model, folder, labels is not None


def architecture_config(value):
  """The Hugging Face config dict of `--architecture` (preset or file)."""
  if value in ARCHITECTURES:
    return dict(ARCHITECTURES[value], model_type="bert")
  path = pathlib.Path(value).expanduser()
  if path.is_dir():
    path = path / "config.json"
  if not path.is_file():
    raise UsageError(
        f"--architecture {value}: neither a preset ({', '.join(ARCHITECTURES)})"
        " nor a Hugging Face config.json (or a folder holding one)")
  try:
    config = json.loads(path.read_text(encoding="utf-8"))
  except ValueError as error:
    raise UsageError(
        f"--architecture {value}: not valid JSON: {error}") from None
  model_type = config.setdefault("model_type", "bert")
  if model_type not in SUPPORTED_MODEL_TYPES:
    raise UsageError(
        f"--architecture {value}: model_type {model_type!r}; supported model "
        f"types: {', '.join(SUPPORTED_MODEL_TYPES)}")
  return config


@_quiet_loading
def build_predecessor(spec):
  """Builds the predecessor a `PredecessorSpec` describes.

  Returns:
    `(model, trained_head)`.
  """
  if spec.folder is not None:
    model, _, trained = _load_classifier("--model", spec.folder, None,
                                         spec.num_labels)
    return model, trained
  keras.utils.set_random_seed(0)  # The same weights in every process.
  converter = get_converter(spec.config)
  backbone = BertBackbone(**converter.convert_backbone_config(spec.config))
  model = build_classifier(backbone, num_classes=spec.num_labels,
                           name="bert_classifier")
  model(model_inputs(model, example_features(2, 8, backbone.vocabulary_size)))
  return model, False


def model_inputs(model, features):
  """The entries of `features` that `model` takes (no token types for some)."""
  names = getattr(model, "feature_names", FEATURE_NAMES)
  return {name: features[name] for name in names}


def example_features(batch_size, seq_length, vocabulary_size=1000, seed=0):
  """Random token ids `[batch, seq]`, every position a real token (int32)."""
  rng = np.random.default_rng(seed)
  low = min(1000, vocabulary_size // 2)
  ids = rng.integers(low, vocabulary_size, (batch_size, seq_length),
                     dtype=np.int32)
  # FEATURE_NAMES: input_ids, attention_mask, token_type_ids.
  return dict(zip(FEATURE_NAMES, (ids, np.ones_like(ids), np.zeros_like(ids))))


# Common English words (one WordPiece token each in BERT's uncased
# vocabulary): sentences that look real to a tokenizer, with no data set.
_WORDS = (
    "the a movie film story actor plot music scene ending character script "
    "is was feels seems remains becomes looks never always often rarely "
    "good bad great boring funny moving dull clever warm cold slow fast "
    "and but because although while so yet with without about over under "
    "performance direction dialogue camera humor drama heart mind time life "
    "it this that every some no one two many few best worst quite very"
).split()


def synthetic_sentences(count, min_words, max_words, seed=0):
  """`count` English-like sentences of `min_words` to `max_words` words."""
  rng = random.Random(seed)
  return [" ".join(rng.choice(_WORDS)
                   for _ in range(rng.randint(min_words, max_words)))
          for _ in range(count)]


def example_texts(batch_size, seq_length, seed=0):
  """Raw sentences `[batch]` long enough to fill `seq_length` tokens.

  The raw-text formats' counterpart of `example_features`: truncated to
  `seq_length` tokens in the model, so both time the same sequence length.
  """
  return synthetic_sentences(batch_size, seq_length, seq_length, seed)


def build_plain_twin(successor):
  """A fresh `BertClassifier` of `successor`'s configuration and weights.

  Same weights, so that the comparison measures structure only (activation
  values can change kernel speed, e.g. denormals).
  """
  converter = get_converter({"model_type": successor.backbone.model_type})
  backbone = BertBackbone(**converter.convert_backbone_config(
      converter.hf_config_from_model(successor)))
  plain = BertClassifier(backbone, num_classes=successor.num_classes,
                         dropout=successor.dropout,
                         problem_type=successor.problem_type,
                         id2label=successor.id2label,
                         head_type=successor.head_type,
                         name="plain_classifier")
  plain(model_inputs(plain, example_features(2, 8, backbone.vocabulary_size)))
  source_backbone = successor.backbone
  pairs = [(backbone.embeddings, source_backbone.embeddings),
           (backbone.pooler, source_backbone.pooler),
           (plain.head_dense, successor.head_dense),
           (plain.output_dense, successor.output_dense)]
  pairs = [(target, source) for target, source in pairs if target is not None]
  pairs += zip(backbone.transformer_layers, source_backbone.transformer_layers)
  for target, source in pairs:
    target.set_weights(source.get_weights())
  if count_parameters(plain) != count_parameters(successor):
    raise RuntimeError("the plain model does not match the successor's weights")
  return plain


def equal_grouping(num_layers, num_modules):
  """Module sizes as equal as possible, larger ones first (e.g. 3,3,2,2,2)."""
  base, extra = divmod(num_layers, num_modules)
  return [base + 1] * extra + [base] * (num_modules - extra)


@_quiet_loading
def load_variants(args, task):
  """Loads and checks every model the flags name.

  Args:
    args: The parsed `benchmark` flags.
    task: The `GlueTask` of `--task`, or None.

  Returns:
    `Variants`.

  Raises:
    UsageError: A missing or unreadable folder, inconsistent models or flags.
  """
  extras = parse_compare_flags(args.compare)
  num_labels = task.num_labels if task is not None else None
  if args.architecture:
    config = architecture_config(args.architecture)
    spec = PredecessorSpec(None, config, num_labels or 2)
    predecessor, trained = build_predecessor(spec)
    config_dir = pathlib.Path(args.architecture).expanduser()
    if not config_dir.is_dir():
      config_dir = config_dir.parent
    if args.architecture not in ARCHITECTURES and _has_tokenizer(config_dir):
      tokenizer_dir = config_dir
    else:  # The bert-base-uncased vocabulary (30522 tokens).
      tokenizer_dir = default_model_dir(
          "the tokenizer of --architecture (unless its folder holds one)")
    source = f"random initialisation: {args.architecture}"
    note = "random weights and head: timing only"
  else:
    path = args.model or default_model_dir(
        "the default predecessor (or pass --model)")
    predecessor, folder, trained = _load_classifier(
        "--model", path, task, num_labels)
    spec = PredecessorSpec(os.fspath(folder), None,
                           int(predecessor.num_classes))
    tokenizer_dir = folder
    source = os.fspath(path)
    note = "" if trained else "fresh classifier head: timing only, no score"
  num_labels = int(predecessor.num_classes)
  variants = [Variant("predecessor", predecessor, source, tokenizer_dir,
                      trained, note=note)]
  hidden = predecessor.backbone.hidden_dim
  depth = predecessor.backbone.num_layers

  if args.successor:
    if args.num_layers is not None:
      raise UsageError(
          "--num-layers sets the depth of the successor built from the "
          "predecessor; with --successor the depth is that model's: drop one")
    successor, folder, successor_trained = _load_classifier(
        "--successor", args.successor, task, num_labels)
    _check_width("--successor", args.successor, successor, hidden)
    variants.append(Variant(
        "successor", successor, os.fspath(args.successor),
        folder if _has_tokenizer(folder) else tokenizer_dir,
        successor_trained,
        note="" if successor_trained else "fresh classifier head: no score"))
  else:
    successor = _built_successor(predecessor, args.num_layers or
                                 max(1, depth // 2))
    variants.append(Variant(
        "successor", successor,
        f"stripped build_theseus_classifier(predecessor, num_modules="
        f"{len(successor.backbone.transformer_layers)})",
        tokenizer_dir, trained,
        note="the predecessor's bottom layers, not trained"))
  successor_depth = len(successor.backbone.transformer_layers)
  if successor_depth > depth:
    raise UsageError(
        f"the successor has {successor_depth} layers, the predecessor only "
        f"{depth}: a successor replaces modules of one or more predecessor "
        "layers")
  variants.append(Variant(
      "plain", build_plain_twin(successor),
      "a fresh BertClassifier of the successor's configuration",
      variants[1].tokenizer_dir, variants[1].trained_head,
      score_from="successor",
      note="the successor's weights; its score is the successor's"))

  for name, path in extras:
    model, folder, extra_trained = _load_classifier("--compare", path, task,
                                                    num_labels)
    _check_width("--compare", path, model, hidden)
    variants.append(Variant(
        name, model, os.fspath(path),
        folder if _has_tokenizer(folder) else tokenizer_dir, extra_trained,
        note="" if extra_trained else "fresh classifier head: no score"))
  return Variants(variants, spec, successor_depth)


def _check_width(flag, path, model, hidden):
  width = model.backbone.hidden_dim
  if width != hidden:
    raise UsageError(
        f"{flag} {path} has hidden size {width}, the predecessor {hidden}: a "
        "BERT-of-Theseus successor keeps the predecessor's width (pass the "
        "successor compressed from this predecessor)")


def _built_successor(predecessor, num_layers):
  depth = predecessor.backbone.num_layers
  if num_layers > depth:
    raise UsageError(
        f"--num-layers {num_layers}: the predecessor has only {depth} layers")
  # Uneven ratios (6 -> 4) get near-equal modules, as --grouping would.
  return strip_successor(build_theseus_classifier(
      predecessor, grouping=equal_grouping(depth, num_layers)))


def check_tokenizers(variants, seq_length):
  """Checks, before any export, what the exports and scores will need.

  Raises:
    UsageError: No usable tokenizer, a vocabulary larger than a model's, or
      `seq_length` beyond a model's position embeddings.
  """
  sizes = {}
  for variant in variants:
    backbone = variant.model.backbone
    limit = signatures.max_tokens(variant.model)
    if limit is not None and seq_length > limit:
      raise UsageError(
          f"--max-seq-length {seq_length}: the {variant.name} model has only "
          f"{limit} position embeddings; use --max-seq-length {limit} or less")
    folder = variant.tokenizer_dir
    if folder not in sizes:
      try:
        # The family's files, as the exports' in-graph tokenizers need them.
        preprocessor_loader.tokenizer_family(folder)
        sizes[folder] = len(load_tokenizer(folder))
      except (OSError, NotImplementedError, ValueError) as error:
        raise UsageError(
            f"tokenizer of the {variant.name} model: {error}") from None
    vocab = sizes[folder]
    if vocab > backbone.vocabulary_size:
      raise UsageError(
          f"the tokenizer in {folder} has {vocab} tokens, the {variant.name} "
          f"model only {backbone.vocabulary_size} token embeddings")
