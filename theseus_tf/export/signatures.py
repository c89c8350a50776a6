"""What every export shares: model checks, serving functions, the archive.

Both the SavedModel for TF Serving and the TFLite models are written through
Keras' `ExportArchive` (Keras 3's `keras.export.ExportArchive`, or
`tf_keras.export.ExportArchive` under `TF_USE_LEGACY_KERAS=1`). It saves only
the variables the endpoint functions use (plus those of the tracked, stripped
model), and its SavedModels convert to TFLite with correct numerics in both
Keras modes (a plain `tf.saved_model.save` of a Keras 3 model does not).
"""

import contextlib
import os
import pathlib

import numpy as np
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras
from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.export import preprocessor_loader
from theseus_tf.module_replacing import module_replacing_layers

SERVING_DEFAULT = "serving_default"
PREDICT_IDS = "predict_ids"

# Input names of the raw-text signatures.
TEXT = "text"
TEXT_A = "text_a"
TEXT_B = "text_b"


def prepare_model(model, strip=False, allow_untrained=False):
  """Checks that `model` is fit for export and returns the model to export.

  Args:
    model: a Keras classifier taking the BERT feature dict (e.g. a
      `BertClassifier`), possibly a Theseus model.
    strip: bool. Replace every `ModuleReplacing` layer by its successor
      (`theseus_tf.strip_successor`) instead of refusing the model.
    allow_untrained: bool. Export a model whose classification head is still
      at its initial state (all-zero bias), e.g. for smoke tests.

  Returns:
    The model to export: `model`, or its stripped copy.

  Raises:
    TypeError: not a Keras model.
    ValueError: the model still holds predecessors (without `strip`), or its
      head looks untrained (without `allow_untrained`).
  """
  if not isinstance(model, keras.Model):
    raise TypeError(f"Expected a Keras model, got {type(model).__name__}.")
  replacing = module_replacing_layers(model)
  if replacing:
    if not strip:
      raise ValueError(
          f"'{model.name}' still holds {len(replacing)} ModuleReplacing "
          "layers, i.e. its predecessor's layers as well as the successor's. "
          "Export the compressed model: pass strip=True (CLI: --strip) to "
          "export `theseus_tf.strip_successor(model)`, or strip it yourself.")
    from theseus_tf.strip_successor import strip_successor  # pylint: disable=g-import-not-at-top
    model = strip_successor(model)
  if not allow_untrained and head_looks_untrained(model):
    raise ValueError(
        f"The classification head of '{model.name}' looks untrained: its "
        "bias is exactly zero, as initialised (e.g. a checkpoint without a "
        "fine-tuned head, loaded with num_labels). Fine-tune it first, or "
        "pass allow_untrained=True (CLI: --allow-untrained) to export it "
        "anyway.")
  return model


def head_looks_untrained(model):
  """Whether the model's output layer still has its initial all-zero bias.

  Heads are created with zero bias (Keras `Dense`, Hugging Face
  `_init_weights`), and any optimizer step on a classification or regression
  loss moves it, so an exactly-zero bias means the head was never fit.
  Models without an `output_dense` with a bias are not judged (False).
  """
  head = getattr(model, "output_dense", None)
  bias = getattr(head, "bias", None)
  if bias is None:
    return False
  return not np.any(bias.numpy())


def problem_type(model):
  return getattr(model, "problem_type", None) or "single_label_classification"


def label_names(model):
  id2label = getattr(model, "id2label", None)
  num_classes = getattr(model, "num_classes", None)
  if id2label is None:
    if num_classes is None:
      return None
    id2label = {i: f"LABEL_{i}" for i in range(num_classes)}
  return [str(id2label[i]) for i in sorted(id2label)]


def head_outputs(model, logits, with_label_names=True):
  """The outputs of every signature, computed from the logits.

  Regression: `logits` and `score` (`[batch]`). Single-label classification:
  `logits`, `probabilities` (softmax), `label` (int64 argmax) and, for
  SavedModels, `label_name`. Multi-label: sigmoid `probabilities` and a
  multi-hot int64 `label` (probability > 0.5).
  """
  logits = tf.cast(logits, tf.float32)
  kind = problem_type(model)
  if kind == "regression":
    return {"logits": logits, "score": logits[:, 0]}
  outputs = {"logits": logits}
  if kind == "multi_label_classification":
    outputs["probabilities"] = tf.sigmoid(logits)
    outputs["label"] = tf.cast(outputs["probabilities"] > 0.5, tf.int64)
    return outputs
  outputs["probabilities"] = tf.nn.softmax(logits, axis=-1)
  outputs["label"] = tf.argmax(logits, axis=-1)
  names = label_names(model)
  if with_label_names and names:
    outputs["label_name"] = tf.gather(tf.constant(names), outputs["label"])
  return outputs


def max_tokens(model):
  """The longest sequence `model`'s positions allow, or None if unknown.

  The position table's size, less RoBERTa's offset (`pad_token_id + 1`).
  """
  backbone = getattr(model, "backbone", None)
  embeddings = getattr(backbone, "embeddings", None)
  return getattr(embeddings, "max_tokens",
                 getattr(backbone, "max_sequence_length", None))


def check_sequence_length(model, max_seq_length):
  limit = max_tokens(model)
  if limit is not None and max_seq_length > limit:
    raise ValueError(
        f"max_seq_length={max_seq_length} exceeds the model's {limit} "
        f"position embeddings: use --max-seq-length {limit} or less.")


def make_preprocessor(tokenizer, max_seq_length, pad_to_max_length, model=None,
                      tflite=False):
  """The in-graph preprocessor of a tokenizer folder (or an existing one, checked).

  A folder gets the preprocessor of its tokenizer family
  (`preprocessor_loader.load_preprocessor`): WordPiece, SentencePiece or
  byte-level BPE. For TFLite (`tflite`), SentencePiece uses its TFLite
  kernel and byte-level BPE, which has none, is refused with the
  alternatives.
  """
  if isinstance(tokenizer, preprocessor_loader.PREPROCESSORS):
    preprocessor = tokenizer
    name = type(preprocessor).__name__
    if (preprocessor.max_seq_length != max_seq_length or
        preprocessor.pad_to_max_length != pad_to_max_length):
      raise ValueError(
          f"The {name} has max_seq_length="
          f"{preprocessor.max_seq_length}, pad_to_max_length="
          f"{preprocessor.pad_to_max_length}; this export needs "
          f"{max_seq_length}, {pad_to_max_length}.")
    if tflite and not preprocessor.tflite_compatible:
      raise NotImplementedError(preprocessor_loader.BPE_TFLITE_ERROR)
    if tflite and getattr(preprocessor, "fast", True) is False:
      raise ValueError(
          f"The {name} uses SentencepieceTokenizer, which has no TFLite "
          "kernel: build it with fast=True, or pass the tokenizer folder.")
  elif isinstance(tokenizer, (str, os.PathLike)):
    preprocessor = preprocessor_loader.load_preprocessor(
        tokenizer, max_seq_length=max_seq_length,
        pad_to_max_length=pad_to_max_length, tflite=tflite)
  else:
    raise TypeError(
        "tokenizer must be a tokenizer folder (with tokenizer.json, or the "
        "family's vocabulary files) or an in-graph preprocessor, got "
        f"{type(tokenizer).__name__}.")
  vocabulary_size = getattr(getattr(model, "backbone", None),
                            "vocabulary_size", None)
  if vocabulary_size is not None and preprocessor.vocab_size > vocabulary_size:
    raise ValueError(
        f"The tokenizer has {preprocessor.vocab_size} tokens but the model "
        f"only {vocabulary_size} token embeddings: pass the tokenizer the "
        "model was trained with (CLI: --tokenizer).")
  return preprocessor


def model_feature_names(model, preprocessor=None):
  """The token-id inputs `model` takes, in `FEATURE_NAMES` order.

  The model's `feature_names` attribute if it has one, else the keys of a
  functional model's dict input when they are feature names, else the
  preprocessor's features, else all of `FEATURE_NAMES` (BERT).
  """
  names = getattr(model, "feature_names", None)
  if names is None:
    try:
      structure = model.input
    except (AttributeError, ValueError):  # Subclassed, or not yet called.
      structure = None
    if isinstance(structure, dict) and set(structure) <= set(FEATURE_NAMES):
      names = list(structure)
  if names is None and preprocessor is not None:
    names = preprocessor.feature_names
  if names is None:
    names = FEATURE_NAMES
  return tuple(n for n in FEATURE_NAMES if n in names)


def text_input_names(text_pair):
  return (TEXT_A, TEXT_B) if text_pair else (TEXT,)


def _check_texts(texts):
  """Asserts that the string inputs are 1-D and of one batch size.

  TF Serving does not check request shapes against the signature, and the
  tokenizer would silently flatten a `[batch, n]` input. The checks compare
  sizes computed at run time, which graph optimizations cannot fold away.
  """
  names = list(texts)
  first = texts[names[0]]
  checks = [(tf.equal(tf.size(value), tf.shape(value)[0]),
             f"{name} must be a 1-D batch of strings [batch]")
            for name, value in texts.items()]
  checks += [(tf.equal(tf.size(texts[name]), tf.size(first)),
              f"{name} and {names[0]} must have the same batch size")
             for name in names[1:]]
  with tf.control_dependencies(_asserts(checks)):
    return [tf.identity(texts[name]) for name in names]


def _asserts(checks):
  """One `Assert` op per `(scalar condition, message)`.

  Only the message travels with each assertion: `tf.debugging.assert_*`
  would also summarize its input tensors on every call, which costs more
  than the whole check at batch size 1.
  """
  return [tf.debugging.Assert(condition, [message])
          for condition, message in checks]


def _check_ids(model, features):
  """Asserts (in the graph) that token-id inputs are consistent and in range.

  Without them a bad request fails deep in an embedding lookup, or worse,
  computes garbage; TF Serving returns these messages to the client.
  """
  backbone = getattr(model, "backbone", None)
  input_ids = features["input_ids"]
  checks = []
  for name in ("attention_mask", "token_type_ids"):
    if name not in features:
      continue
    checks.append((
        tf.reduce_all(tf.equal(tf.shape(features[name]), tf.shape(input_ids))),
        f"{name} must have the shape of input_ids [batch, seq_len]"))
  limits = (("input_ids", "vocabulary_size"), ("token_type_ids", "num_segments"))
  for name, attribute in limits:
    limit = getattr(backbone, attribute, None)
    if limit is not None and name in features:
      values = features[name]
      # An empty batch has no minimum to check (reduce_min would be int max).
      checks.append((tf.reduce_all(values >= 0), f"{name} must be >= 0"))
      checks.append((tf.reduce_all(values < limit),
                     f"{name} must be < {limit} ({attribute} of the model)"))
  max_length = max_tokens(model)
  if max_length is not None:
    checks.append((tf.shape(input_ids)[1] <= max_length,
                   f"sequences must be at most {max_length} tokens long"))
  return _asserts(checks)


def add_endpoints(archive, model, preprocessor, text_pair, ids_length=None,
                  checks=True, with_label_names=True, text=True, ids=True,
                  jit_compile=False):
  """Adds the raw-text (`serving_default`) and token-id (`predict_ids`) endpoints.

  Args:
    archive: an `ExportArchive` tracking `model`.
    model: the model to export.
    preprocessor: an in-graph preprocessor (needed with `text`).
    text_pair: bool. Whether the text endpoint takes `text_a` and `text_b`.
    ids_length: static sequence length of the token-id inputs, or None.
    checks: bool. Add run-time input assertions (for SavedModels; TFLite
      would need Flex ops for them, and checks input shapes itself).
    with_label_names: bool. Add the string `label_name` output.
    text, ids: which endpoints to add; the first one added is
      `serving_default`.
    jit_compile: bool. Compile the model's forward pass with XLA (the
      tokenizer, the checks and the head's outputs stay outside: they have
      no XLA kernels).
  """

  feature_names = model_feature_names(model, preprocessor)

  def logits_of(features):
    return model(features, training=False)

  if jit_compile:
    # A nested function marked for XLA: the SavedModel keeps the mark, so
    # every runtime that loads it (TF Serving's session included) compiles
    # the encoder once per input shape.
    logits_of = tf.function(logits_of, jit_compile=True)

  def run(features):
    # Only what the model takes; token types it needs but the tokenizer
    # does not make (RoBERTa-style models with one type) are zeros.
    features = {name: features[name] if name in features
                else tf.zeros_like(features["input_ids"])
                for name in feature_names}
    return head_outputs(model, logits_of(features),
                        with_label_names=with_label_names)

  if text:
    # The tokenizer's resources (BPE lookup tables, the SentencePiece model)
    # must be saved with the endpoints; tf-keras' `track` saves lookup
    # tables only, an attribute of the archive saves the rest.
    archive.track(preprocessor)
    if not IS_KERAS_3:
      archive.text_preprocessor = preprocessor
    names = text_input_names(text_pair)
    specs = [tf.TensorSpec([None], tf.string, name=name) for name in names]
    if text_pair:
      def text_fn(text_a, text_b):
        if checks:
          text_a, text_b = _check_texts({TEXT_A: text_a, TEXT_B: text_b})
        return run(preprocessor(text_a, text_b))
    else:
      def text_fn(text):  # pylint: disable=redefined-outer-name
        if checks:
          text, = _check_texts({TEXT: text})
        return run(preprocessor(text))
    archive.add_endpoint(SERVING_DEFAULT, text_fn, specs)

  if ids:
    # One positional argument per model input; the specs' names name the
    # signature's inputs.
    def ids_fn(*tensors):
      features = dict(zip(feature_names, tensors))
      if checks:
        with tf.control_dependencies(_check_ids(model, features)):
          features = {k: tf.identity(v) for k, v in features.items()}
      return run(features)

    specs = [tf.TensorSpec([None, ids_length], tf.int32, name=name)
             for name in feature_names]
    archive.add_endpoint(PREDICT_IDS if text else SERVING_DEFAULT, ids_fn,
                         specs)


def new_archive(model):
  """An `ExportArchive` of the active Keras, holding `model`'s variables."""
  if IS_KERAS_3:
    # Keras 3 collects the variables the endpoints use by itself. Tracking
    # the model as well would store every weight twice (once per Keras
    # variable, once per underlying tf.Variable), doubling the SavedModel.
    return keras.export.ExportArchive()
  import tf_keras  # pylint: disable=g-import-not-at-top
  archive = tf_keras.export.ExportArchive()
  archive.track(model)
  return archive


def write_archive(archive, path):
  """`archive.write_out(path)` without printing the endpoints."""
  if IS_KERAS_3:
    archive.write_out(os.fspath(path), verbose=False)
    return
  with _quiet_keras():
    archive.write_out(os.fspath(path))


@contextlib.contextmanager
def _quiet_keras():
  # tf-keras' write_out always prints; without interactive logging its
  # message goes to absl logging instead of stdout.
  was_enabled = keras.utils.is_interactive_logging_enabled()
  keras.utils.disable_interactive_logging()
  try:
    yield
  finally:
    if was_enabled:
      keras.utils.enable_interactive_logging()


def saved_variable_bytes(saved_model_dir):
  """Number and total bytes of the variables stored in a SavedModel."""
  prefix = os.fspath(pathlib.Path(saved_model_dir) / "variables" / "variables")
  reader = tf.train.load_checkpoint(prefix)
  dtypes = reader.get_variable_to_dtype_map()
  count = 0
  total = 0
  for name, shape in reader.get_variable_to_shape_map().items():
    if name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"):
      continue
    count += 1
    total += int(np.prod(shape)) * dtypes[name].size
  return count, total
