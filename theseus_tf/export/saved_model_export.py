"""Versioned SavedModels for TF Serving, with in-graph tokenization."""

import json
import os
import pathlib
import re

import numpy as np
import tensorflow as tf

from theseus_tf.export import signatures
from theseus_tf.utils import file_io

WARMUP_FILE = "tf_serving_warmup_requests"
METADATA_FILE = "theseus_tf_export.json"
ASSETS_EXTRA = "assets.extra"

DEFAULT_WARMUP_TEXTS = (
    "A short warm-up request.",
    "TF Serving replays these requests when it loads the model, so that the "
    "first real request does not pay for graph initialisation.",
)

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def export_saved_model(model,
                       tokenizer,
                       base_path,
                       model_name,
                       version=None,
                       max_seq_length=128,
                       strip=False,
                       text_pair=False,
                       allow_untrained=False,
                       warmup_texts=None,
                       jit_compile=False):
  """Exports a classifier as a TF Serving model version, tokenizing in-graph.

  Writes `<base_path>/<model_name>/<version>/`, the layout
  `tensorflow_model_server --model_base_path=<base_path>/<model_name>` polls.
  The version is written to a hidden temporary folder beside it (TF Serving
  ignores names that are not integers) and renamed into place only when
  complete, so the server never loads a half-written version; on any error
  the temporary folder (and folders this call created) are removed.

  Signatures:
  - `serving_default`: string `text` `[batch]` (or `text_a` and `text_b` with
    `text_pair`), tokenized in the graph with tensorflow-text exactly as the
    Hugging Face tokenizer does (truncated to `max_seq_length`).
  - `predict_ids`: int32 `input_ids`, `attention_mask`, `token_type_ids`
    `[batch, seq_len]` (the model's inputs: no `token_type_ids` for
    DistilBERT, RoBERTa, XLM-R), checked for consistent shapes and ranges.
  The tokenizer is the folder's family (`load_preprocessor`): WordPiece
  (BERT, ELECTRA, DistilBERT), SentencePiece (XLM-R) or byte-level BPE
  (RoBERTa), each reproducing the Hugging Face fast tokenizer's ids.
  Both return `logits`, `probabilities`, `label` (int64) and `label_name` for
  classifiers, `logits` and `score` for regression.

  The version also holds `assets.extra/tf_serving_warmup_requests` (one
  request per signature) and `assets.extra/theseus_tf_export.json` (labels,
  inputs, tokenizer settings). Loading it in Python needs
  `import tensorflow_text` (the tokenizer ops); TF Serving needs a build with
  tensorflow-text ops (see serving/README.md).

  Args:
    model: a fine-tuned `BertClassifier` (or any Keras model taking the BERT
      feature dict and returning logits). A Theseus model (with
      `ModuleReplacing` layers) is refused unless `strip`.
    tokenizer: the model's tokenizer folder (`tokenizer.json`, or the
      family's vocabulary files, with `tokenizer_config.json`), or an
      in-graph preprocessor (`TextPreprocessor`,
      `SentencePiecePreprocessor`, `BytePairPreprocessor`) built with this
      `max_seq_length` and `pad_to_max_length=False`.
      None: a token-id model only, its `serving_default` the `predict_ids`
      signature.
    base_path: the TF Serving base folder (created if missing).
    model_name: the served model's name: a folder under `base_path`.
    version: positive int; by default one more than the highest existing
      version (1 for the first).
    max_seq_length: int. Token budget, special tokens included.
    strip: bool. Export `strip_successor(model)` if it holds predecessors.
    text_pair: bool. The text signature takes sentence pairs.
    allow_untrained: bool. Export even if the head looks never trained.
    warmup_texts: optional list of texts (or `(text_a, text_b)` pairs) for
      the warm-up request; two generic sentences by default.
    jit_compile: bool. Compile the encoder with XLA in both signatures:
      faster at small batches on a CPU (see docs/RESULTS.md), compiled once
      per input shape on first use. TF Serving runs such a model only when
      started with `--xla_cpu_compilation_enabled=true`; without it every
      request fails.

  Returns:
    The `pathlib.Path` of the new version folder.

  Raises:
    FileExistsError: the version already exists (nothing is touched).
    FileNotFoundError: no tokenizer vocabulary.
    ValueError: bad name, version or length; unstripped or untrained model.

  Example:

  ```python
  student = theseus_tf.strip_successor(theseus_model)
  path = export_saved_model(student, "runs/sst2-student", "serving/models",
                            "sst2")
  # serving/models/sst2/1/ ; then, in Python:
  import tensorflow_text  # registers the tokenizer ops
  served = tf.saved_model.load(str(path))
  served.signatures["serving_default"](text=tf.constant(["great movie"]))
  ```
  """
  if not isinstance(model_name, str) or not _MODEL_NAME.fullmatch(model_name):
    raise ValueError(
        f"Invalid model name {model_name!r}: use letters, digits, '.', '_' "
        "and '-', starting with a letter or digit.")
  if version is not None and (isinstance(version, bool) or
                              not isinstance(version, int) or version < 1):
    raise ValueError(
        f"version must be a positive integer (TF Serving versions are "
        f"integer folder names), got {version!r}.")
  model_dir = pathlib.Path(os.fspath(base_path)) / model_name
  if version is None:
    version = next_version(model_dir)
  final_dir = model_dir / str(version)
  if final_dir.exists():
    raise FileExistsError(
        f"{final_dir} already exists. Versions are immutable once TF Serving "
        "may have loaded them: omit --version to write the next one "
        f"({next_version(model_dir)}), or remove the old version first.")

  text_pair = bool(text_pair)
  model = signatures.prepare_model(model, strip=strip,
                                   allow_untrained=allow_untrained)
  signatures.check_sequence_length(model, max_seq_length)
  preprocessor = None
  if tokenizer is not None:
    preprocessor = signatures.make_preprocessor(
        tokenizer, max_seq_length, pad_to_max_length=False, model=model)
  archive = signatures.new_archive(model)
  signatures.add_endpoints(archive, model, preprocessor, text_pair=text_pair,
                           jit_compile=jit_compile,
                           text=preprocessor is not None)
  feature_names = signatures.model_feature_names(model, preprocessor)
  warmup = _warmup_inputs(preprocessor, text_pair, warmup_texts,
                          feature_names, max_seq_length)

  created = [d for d in (model_dir.parent, model_dir) if not d.exists()]
  try:
    # TF Serving ignores the staging folder: its name is not an integer.
    with file_io.staging_dir(final_dir) as staging:
      signatures.write_archive(archive, staging)
      extra = staging / ASSETS_EXTRA
      extra.mkdir()
      write_warmup_requests(extra / WARMUP_FILE, model_name, warmup)
      metadata = _metadata(model, preprocessor, model_name, version, text_pair,
                           feature_names, jit_compile)
      (extra / METADATA_FILE).write_text(
          json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
      if final_dir.exists():  # Another export took this version meanwhile.
        raise FileExistsError(f"{final_dir} appeared during the export.")
      file_io.move_into_place(staging, final_dir)
  except BaseException:
    for folder in reversed(created):
      try:
        folder.rmdir()  # Only if still empty.
      except OSError:
        pass
    raise
  return final_dir


def next_version(model_dir):
  """One more than the highest integer-named folder in `model_dir` (or 1)."""
  model_dir = pathlib.Path(os.fspath(model_dir))
  versions = []
  if model_dir.is_dir():
    versions = [int(p.name) for p in model_dir.iterdir()
                if p.is_dir() and p.name.isdigit()]
  return max(versions, default=0) + 1


def write_warmup_requests(path, model_name, requests):
  """Writes TF Serving warm-up `PredictionLog` records.

  Args:
    path: the file to write (`assets.extra/tf_serving_warmup_requests`).
    model_name: the served model name.
    requests: list of `(signature_name, {input name: numpy array})`.
  """
  from tensorflow_serving.apis import model_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=g-import-not-at-top
  with tf.io.TFRecordWriter(os.fspath(path)) as writer:
    for signature_name, inputs in requests:
      request = predict_pb2.PredictRequest(
          model_spec=model_pb2.ModelSpec(name=model_name,
                                         signature_name=signature_name))
      for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())


def _warmup_inputs(preprocessor, text_pair, warmup_texts, feature_names,
                   max_seq_length):
  if preprocessor is None:  # Token ids only: one row of 8 real tokens.
    ones = np.ones([1, min(8, max_seq_length)], np.int32)
    features = {"input_ids": ones, "attention_mask": ones,
                "token_type_ids": ones * 0}
    return [(signatures.SERVING_DEFAULT,
             {name: features[name] for name in feature_names})]
  texts = list(warmup_texts or DEFAULT_WARMUP_TEXTS)
  if text_pair:
    pairs = [t if isinstance(t, (tuple, list)) else (t, t) for t in texts]
    text_inputs = {
        signatures.TEXT_A: tf.constant([a for a, _ in pairs]).numpy(),
        signatures.TEXT_B: tf.constant([b for _, b in pairs]).numpy(),
    }
    features = preprocessor(tf.constant([a for a, _ in pairs]),
                            tf.constant([b for _, b in pairs]))
  else:
    if any(isinstance(t, (tuple, list)) for t in texts):
      raise ValueError("Warm-up pairs need a text_pair export.")
    text_inputs = {signatures.TEXT: tf.constant(texts).numpy()}
    features = preprocessor(tf.constant(texts))
  id_inputs = {name: features[name].numpy() if name in features
               else np.zeros_like(features["input_ids"].numpy())
               for name in feature_names}
  return [(signatures.SERVING_DEFAULT, text_inputs),
          (signatures.PREDICT_IDS, id_inputs)]


def _metadata(model, preprocessor, model_name, version, text_pair,
              feature_names, jit_compile):
  import theseus_tf  # pylint: disable=g-import-not-at-top
  backbone = getattr(model, "backbone", None)
  # The keys of both kinds of export, in the order the metadata lists them.
  model_keys = {
      "model_name": model_name,
      "version": version,
      "problem_type": signatures.problem_type(model),
      "labels": signatures.label_names(model),
      "num_layers": getattr(backbone, "num_layers", None),
  }
  version_keys = {
      "theseus_tf_version": theseus_tf.__version__,
      "tensorflow_version": tf.__version__,
  }
  if preprocessor is None:
    return {
        **model_keys,
        "signatures": {signatures.SERVING_DEFAULT: list(feature_names)},
        "jit_compile": bool(jit_compile),
        **version_keys,
    }
  return {
      **model_keys,
      "signatures": {
          signatures.SERVING_DEFAULT: list(
              signatures.text_input_names(text_pair)),
          signatures.PREDICT_IDS: list(feature_names),
      },
      "text_pair": text_pair,
      "jit_compile": bool(jit_compile),
      "max_seq_length": preprocessor.max_seq_length,
      "tokenizer": preprocessor.family,
      "lowercase": preprocessor.lowercase,
      **version_keys,
  }
