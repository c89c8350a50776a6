"""TFLite models of a classifier: token ids in, or raw text in."""

import os
import pathlib
import tempfile

import numpy as np
import tensorflow as tf

from theseus_tf.export import signatures
from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.utils import file_io

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
INPUT_KINDS = ("ids", "text")

# Calibration examples drawn for int8 when none are given.
DEFAULT_NUM_CALIBRATION_EXAMPLES = 200


def export_tflite(model,
                  output_path,
                  quantize="none",
                  inputs="ids",
                  tokenizer=None,
                  max_seq_length=128,
                  text_pair=False,
                  representative_texts=None,
                  strip=False,
                  allow_untrained=False,
                  overwrite=False):
  """Converts a classifier to a TFLite flatbuffer.

  Two kinds of model, each with one signature `serving_default`:
  - `inputs="ids"`: int32 `input_ids`, `attention_mask`, `token_type_ids`
    (only for models that take them: not RoBERTa, XLM-R, DistilBERT)
    `[batch, max_seq_length]` (batch resizable); builtin ops only.
  - `inputs="text"`: string `text` `[batch]` (or `text_a`, `text_b` with
    `text_pair`), tokenized in the model as the Hugging Face tokenizer
    does; builtins plus tensorflow-text custom ops (no Flex ops). WordPiece
    (BERT, ELECTRA, DistilBERT) and SentencePiece (XLM-R) tokenizers have
    TFLite ops; byte-level BPE (RoBERTa) has none and is refused: export
    its token-id model. Run it with
    `ai_edge_litert.interpreter.InterpreterWithCustomOps(
    custom_op_registerers=tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS)`.
  Outputs: `logits`, and `probabilities` and `label` for classifiers or
  `score` for regression.

  Quantization (`quantize`):
  - "none": float32.
  - "float16": float16 weights (half the size; computed in float32 on CPU).
  - "dynamic": int8 weights, activations quantized on the fly.
  - "int8": int8 weights and activations for the fully connected layers and
    int8 embedding tables (`INT8_OPS`), calibrated on `representative_texts`
    (e.g. `representative_texts_from_task`); attention, softmax, layer norms
    and residual sums stay float, which keeps accuracy within about a point
    of float32. Inputs and outputs keep their types.

  The file is written to a temporary name in the same folder and renamed,
  so a reader never sees a partial file; it is readable by other users
  (0o644 under the common umask 022), like a copied file.

  Args:
    model: a fine-tuned `BertClassifier` (see `export_saved_model`).
    output_path: the `.tflite` file to write.
    quantize: one of `QUANTIZATIONS`.
    inputs: one of `INPUT_KINDS`.
    tokenizer: the tokenizer folder or an in-graph preprocessor (built with
      `pad_to_max_length=True`, SentencePiece with `fast=True`); required
      for text inputs and for int8.
    max_seq_length: int. The sequence length of the model.
    text_pair: bool. Text inputs are sentence pairs.
    representative_texts: texts or `(text_a, text_b)` pairs for int8
      calibration (a few hundred from the training data).
    strip, allow_untrained: as in `export_saved_model`.
    overwrite: bool. Replace an existing file.

  Returns:
    The `pathlib.Path` of the written file.

  Raises:
    ValueError: unknown `quantize` or `inputs`, missing tokenizer or
      calibration data, unstripped or untrained model.
    NotImplementedError: text inputs with a byte-level BPE tokenizer.
    FileExistsError: `output_path` exists and not `overwrite`.

  Example:

  ```python
  export_tflite(student, "sst2.tflite", quantize="dynamic", inputs="text",
                tokenizer="runs/sst2-student")
  ```
  """
  if quantize not in QUANTIZATIONS:
    raise ValueError(
        f"Unknown quantization {quantize!r}: use one of "
        f"{', '.join(QUANTIZATIONS)}.")
  if inputs not in INPUT_KINDS:
    raise ValueError(
        f"Unknown inputs {inputs!r}: use 'ids' (token ids) or 'text' (raw "
        "text, tokenized in the model).")
  if tokenizer is None and (inputs == "text" or quantize == "int8"):
    raise ValueError(
        "A tokenizer (folder or TextPreprocessor) is required for text "
        "inputs and for int8 calibration: pass tokenizer= (CLI: "
        "--tokenizer).")
  if quantize == "int8" and not representative_texts:
    raise ValueError(
        "int8 quantization needs calibration texts: pass representative_texts "
        "(CLI: --task and --data-dir draw them from the training data).")
  output_path = pathlib.Path(os.fspath(output_path))
  if output_path.exists() and not overwrite:
    raise FileExistsError(
        f"{output_path} already exists: choose another output path, or pass "
        "overwrite=True to replace it.")

  model = signatures.prepare_model(model, strip=strip,
                                   allow_untrained=allow_untrained)
  signatures.check_sequence_length(model, max_seq_length)
  preprocessor = None
  if tokenizer is not None:
    preprocessor = signatures.make_preprocessor(
        tokenizer, max_seq_length, pad_to_max_length=True, model=model,
        tflite=inputs == "text")
  text_pair = bool(text_pair)
  flatbuffer = convert(model, preprocessor, quantize=quantize, inputs=inputs,
                       max_seq_length=max_seq_length, text_pair=text_pair,
                       representative_texts=representative_texts)
  file_io.atomic_write_bytes(output_path, flatbuffer, overwrite=overwrite)
  return output_path


def convert(model, preprocessor, quantize, inputs, max_seq_length, text_pair,
            representative_texts=None):
  """Converts an export-ready `model` to TFLite bytes (see `export_tflite`)."""
  import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
  archive = signatures.new_archive(model)
  signatures.add_endpoints(
      archive, model, preprocessor, text_pair=text_pair,
      ids_length=max_seq_length, checks=False, with_label_names=False,
      text=inputs == "text", ids=inputs == "ids")
  with tempfile.TemporaryDirectory(prefix="theseus-tflite-") as saved_model:
    signatures.write_archive(archive, saved_model)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model, signature_keys=[signatures.SERVING_DEFAULT])
    # Builtins only: tensorflow-text's ops become custom ops with TFLite
    # kernels; no Flex (SELECT_TF_OPS) delegate is needed at run time.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if inputs == "text":
      converter.allow_custom_ops = True
      # For int8 calibration, which runs the model.
      converter.target_spec._experimental_custom_op_registerers = (  # pylint: disable=protected-access
          list(tf_text.tflite_registrar.SELECT_TFTEXT_OPS))
    if quantize != "none":
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
      converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
      converter.representative_dataset = _representative_dataset(
          preprocessor, inputs, text_pair, representative_texts,
          signatures.model_feature_names(model, preprocessor))
      return _quantize_int8(converter)
    return converter.convert()


# Operators computed in int8 by `quantize="int8"`. Quantizing the others costs
# a BERT classifier several accuracy points for little speed: the attention
# mask bias (-1e9) added to the scores leaves no int8 resolution for the
# scores themselves; attention matmuls, softmax, layer norms and residual
# sums are range-sensitive too. Measured on a 3-layer MiniLM fine-tuned on
# SST-2: all ops int8 -8.8 points, these two -0.8 points, float 0.
INT8_OPS = ("FULLY_CONNECTED", "GATHER")


def _quantize_int8(converter):
  """Calibrates, then quantizes only `INT8_OPS` (weights and activations).

  TFLite's public converter quantizes every operator it can; selecting
  operators goes through the two steps that
  `tf.lite.experimental.QuantizationDebugger` uses (calibration only, then
  `mlir_quantize` with a deny list), without its debug interpreter, which
  cannot load tensorflow-text custom ops.
  """
  try:
    from tensorflow.lite.python import convert as lite_convert  # pylint: disable=g-import-not-at-top
    from tensorflow.lite.python import schema_py_generated as schema  # pylint: disable=g-import-not-at-top
  except ImportError as error:  # A TensorFlow that moved the internals.
    raise NotImplementedError(
        f"Selective int8 quantization needs TFLite internals missing from "
        f"TensorFlow {tf.__version__}: use --quantize dynamic.") from error
  converter.experimental_new_quantizer = True
  converter._experimental_calibrate_only = True  # pylint: disable=protected-access
  calibrated = converter.convert()
  denylisted = [name for name in vars(schema.BuiltinOperator)
                if name.isupper() and name not in INT8_OPS]
  return lite_convert.mlir_quantize(calibrated, denylisted_ops=denylisted)


def representative_texts_from_task(task, data_dir=None,
                                   num_examples=DEFAULT_NUM_CALIBRATION_EXAMPLES,
                                   seed=0):
  """Calibration texts for int8: a random subset of a GLUE training set.

  Args:
    task: GLUE task name (e.g. "sst2", "mrpc").
    data_dir: local GLUE folder (None: tensorflow-datasets).
    num_examples: int. How many examples.
    seed: int. Subset seed.

  Returns:
    A list of texts, or of `(text_a, text_b)` pairs for pair tasks.
  """
  from theseus_tf.data import load_examples  # pylint: disable=g-import-not-at-top
  examples = load_examples(task, "train", data_dir, max_examples=num_examples,
                           seed=seed)
  return [e.text_a if e.text_b is None else (e.text_a, e.text_b)
          for e in examples]


def _representative_dataset(preprocessor, inputs, text_pair, texts,
                            feature_names=FEATURE_NAMES):
  texts = list(texts)

  def generate():
    for item in texts:
      if text_pair:
        text_a, text_b = item if isinstance(item, (tuple, list)) else (item, "")
        if inputs == "text":
          yield {signatures.TEXT_A: np.array([text_a], dtype=object),
                 signatures.TEXT_B: np.array([text_b], dtype=object)}
          continue
        features = preprocessor(tf.constant([text_a]), tf.constant([text_b]))
      else:
        text = item[0] if isinstance(item, (tuple, list)) else item
        if inputs == "text":
          yield {signatures.TEXT: np.array([text], dtype=object)}
          continue
        features = preprocessor(tf.constant([text]))
      yield {name: features[name].numpy() if name in features
             else np.zeros_like(features["input_ids"].numpy())
             for name in feature_names}

  return generate

