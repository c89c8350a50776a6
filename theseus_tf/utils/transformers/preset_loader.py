"""Hugging Face checkpoints in and out, for every supported model family.

`from_pretrained` reads a Hugging Face folder (`config.json` +
`model.safetensors`, or sharded safetensors) into a classifier or a backbone,
with the converter that the config's `model_type` names; `save_pretrained`
writes one back in the layout `transformers` loads. Adding a model family is
adding a `convert_<family>.py` (see `convert_bert`) and one line to
`CONVERTERS`.
"""

import logging
import os
import pathlib

import numpy as np

from theseus_tf.models.bert_classifier import default_problem_type
from theseus_tf.models.bert_embeddings import usable_positions
from theseus_tf.utils import file_io
from theseus_tf.utils.transformers import convert_bert
from theseus_tf.utils.transformers import convert_distilbert
from theseus_tf.utils.transformers import convert_electra
from theseus_tf.utils.transformers import convert_roberta
from theseus_tf.utils.transformers.hf_config import CONFIG_NAME
from theseus_tf.utils.transformers.hf_config import read_hf_config
from theseus_tf.utils.transformers.hf_config import write_hf_config
from theseus_tf.utils.transformers.model_folder import TOKENIZER_FILE_NAMES
from theseus_tf.utils.transformers.model_folder import resolve_model_dir
from theseus_tf.utils.transformers.safetensor_utils import SHARDED_WEIGHTS_PATTERNS
from theseus_tf.utils.transformers.safetensor_utils import read_safetensors
from theseus_tf.utils.transformers.safetensor_utils import weight_files
from theseus_tf.utils.transformers.safetensor_utils import write_safetensors

logger = logging.getLogger(__name__)

# Hugging Face `model_type` -> the module converting that family.
CONVERTERS = {
    "bert": convert_bert,
    "distilbert": convert_distilbert,
    "electra": convert_electra,
    "roberta": convert_roberta,
    "xlm-roberta": convert_roberta,
}
SUPPORTED_MODEL_TYPES = tuple(sorted(CONVERTERS))

TASKS = ("sequence_classification", "backbone")

# A folder has a usable tokenizer when it holds one of these: the fast
# tokenizer's file, or a family's vocabulary (WordPiece; byte-level BPE, with
# merges.txt; SentencePiece), from which transformers builds it.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json",
                   "sentencepiece.bpe.model")


def get_converter(hf_config, config_path=CONFIG_NAME):
  """The converter module of a config's `model_type`.

  Raises:
    ValueError: no converter for that `model_type` (one line, listing the
      supported ones).
  """
  model_type = hf_config.get("model_type")
  if model_type not in CONVERTERS:
    raise ValueError(
        f"{config_path} has model_type={model_type!r}; supported model "
        f"types: {', '.join(SUPPORTED_MODEL_TYPES)}.")
  return CONVERTERS[model_type]


def read_checkpoint_config(folder):
  """Reads a checkpoint's `config.json` and checks that it can be converted.

  Returns:
    `(hf_config, converter)`.

  Raises:
    FileNotFoundError, ValueError: no or invalid `config.json`, an
      unsupported `model_type`, or a configuration its converter does not
      support.
  """
  hf_config = read_hf_config(folder)
  config_path = pathlib.Path(folder) / CONFIG_NAME
  converter = get_converter(hf_config, config_path)
  try:
    converter.convert_backbone_config(hf_config)
  except ValueError as error:
    raise ValueError(f"{config_path}: {error}") from error
  return hf_config, converter


def max_tokens_of_config(hf_config):
  """The longest sequence a checkpoint's positions allow, from its config.

  What `theseus_tf.export.signatures.max_tokens` gives for the loaded model
  (RoBERTa's padding offset taken off), without loading it.

  Args:
    hf_config: A checkpoint's `config.json`, as a dict.

  Returns:
    The number of tokens, special tokens included.

  Raises:
    ValueError: an unsupported `model_type` or configuration.
  """
  arguments = get_converter(hf_config).convert_backbone_config(hf_config)
  return usable_positions(arguments["max_sequence_length"],
                          arguments.get("position_offset"))


def _read_checkpoint_tensors(folder, converter):
  """Maps canonical names to (array, original name, file) for a checkpoint."""
  tensors = {}
  for path in weight_files(folder):
    for name, array in read_safetensors(path).items():
      canonical = converter.canonical_name(name)
      if canonical in tensors:
        raise ValueError(
            f"{path}: tensor {name} duplicates {tensors[canonical][1]} (in "
            f"{tensors[canonical][2].name}); a checkpoint holds each weight "
            f"once, with or without the {converter.ENCODER_PREFIX!r} prefix.")
      tensors[canonical] = (array, name, path)
  return tensors


def from_pretrained(path_or_hub_id,
                    num_labels=None,
                    *,
                    task="sequence_classification",
                    problem_type=None,
                    output_hidden_states=False,
                    dtype=None,
                    revision=None,
                    cache_dir=None):
  """Loads a Hugging Face checkpoint as a Keras model.

  Reads `config.json` and `model.safetensors` (or the shards listed in
  `model.safetensors.index.json`) with the safetensors numpy API, and
  converts them with the converter of the config's `model_type` (one of
  `SUPPORTED_MODEL_TYPES`: bert, distilbert, electra, roberta,
  xlm-roberta). Encoder names may carry the task models' prefix (`bert.`,
  `roberta.`, ...) or not (`BertModel`). Heads of other tasks (pre-training, question
  answering) are skipped; any other tensor the config does not account for
  is an error.

  With `task="sequence_classification"`, the checkpoint's classifier head is
  loaded when it has one; otherwise a freshly initialised head with
  `num_labels` outputs is created (and a warning logged). It is a regression
  head when `num_labels == 1` or the config's `problem_type` is
  "regression".

  Args:
    path_or_hub_id: a local checkpoint folder, or a Hugging Face Hub model id
      (downloaded with `huggingface_hub.snapshot_download` when online; with
      HF_HUB_OFFLINE=1 only the local Hub cache is used).
    num_labels: number of outputs of the classifier. Default: the
      checkpoint's head, else the config's `id2label`. An error if it differs
      from the checkpoint's head.
    task: "sequence_classification" (a `BertClassifier`) or "backbone" (a
      `BertBackbone`, the head, if any, is ignored).
    problem_type: overrides the config's `problem_type`:
      "single_label_classification", "multi_label_classification" or
      "regression".
    output_hidden_states: whether the backbone also outputs every hidden
      state (`BertBackbone` outputs; for a classifier, those of
      `classifier.backbone`).
    dtype: dtype policy of the layers, e.g. "mixed_float16"; variables stay
      float32.
    revision: Hub revision (branch, tag or commit), for Hub ids.
    cache_dir: Hub cache folder, for Hub ids.

  Returns:
    A `BertClassifier` (float32 logits) or a `BertBackbone`.

  Raises:
    FileNotFoundError, NotADirectoryError, OSError: the checkpoint cannot be
      found or downloaded.
    ValueError: unsupported model type or format (pickle checkpoints), or
      tensors missing, unexpected, or of the wrong shape; the message names
      the file and tensor.

  Example:

  ```python
  classifier = from_pretrained("path/to/bert-folder", num_labels=2)
  backbone = from_pretrained("path/to/bert-folder", task="backbone",
                             output_hidden_states=True)
  ```
  """
  if task not in TASKS:
    raise ValueError(f"Unknown task {task!r}: use one of {TASKS}.")
  folder = resolve_model_dir(path_or_hub_id, revision=revision,
                             cache_dir=cache_dir)
  hf_config, converter = read_checkpoint_config(folder)
  tensors = _read_checkpoint_tensors(folder, converter)

  head_names = set(converter.HEAD_NAMES)
  head_output = converter.HEAD_NAMES[0]
  has_head = bool(head_names & set(tensors))
  if task == "sequence_classification":
    # Argument errors first, before any model is built.
    if has_head:
      if head_output not in tensors:
        raise ValueError(
            f"{folder}: {', '.join(sorted(head_names & set(tensors)))} "
            f"without {head_output}.")
      head_labels = tensors[head_output][0].shape[0]
      if num_labels is not None and num_labels != head_labels:
        raise ValueError(
            f"num_labels={num_labels}, but the checkpoint in {folder} has a "
            f"classifier head with {head_labels} outputs. Pass "
            f"num_labels={head_labels} (or leave it out) to use that head, or "
            "load the encoder alone with task='backbone' and put a new "
            f"{converter.classifier_cls.__name__}(backbone, num_classes=...) "
            "on it.")
      num_labels = head_labels
    elif num_labels is None:
      if "id2label" not in hf_config:
        raise ValueError(
            f"The checkpoint in {folder} has no classifier head and its "
            f"{CONFIG_NAME} no id2label: pass num_labels=<number of classes> "
            "(1 for regression) to create a new head.")
      num_labels = len(hf_config["id2label"])

  backbone = converter.backbone_cls(
      **converter.convert_backbone_config(hf_config),
      output_hidden_states=output_hidden_states,
      dtype=dtype)
  weights = converter.backbone_weights(backbone)
  if task == "backbone":
    model = backbone
    if has_head:
      logger.info("%s: classifier head skipped (task='backbone').", folder)
  else:
    problem_type = (problem_type or hf_config.get("problem_type") or
                    default_problem_type(num_labels))
    id2label = hf_config.get("id2label")
    if id2label is not None and len(id2label) != num_labels:
      id2label = None
    model = converter.classifier_cls(
        backbone,
        num_classes=num_labels,
        problem_type=problem_type,
        id2label=id2label,
        **converter.convert_classifier_config(hf_config, backbone))
    if has_head:
      weights += converter.head_weights(model)
    else:
      logger.warning(
          "%s has no classifier head: a new one with %d output(s) is freshly "
          "initialised and must be trained.", folder, num_labels)

  _assign_weights(weights, tensors, folder, hf_config, converter)
  return model


def build_classifier(backbone, num_classes, **kwargs):
  """A new classifier on `backbone` with the head of the backbone's family.

  The head (BERT's pooler, RoBERTa's, ELECTRA's or DistilBERT's) and its
  dropout follow the family's defaults for `backbone.model_type`; the head's
  weights are freshly initialised.

  Args:
    backbone: a `BertBackbone`, e.g. `from_pretrained(..., task="backbone")`.
    num_classes: number of outputs (1 for regression).
    **kwargs: further `BertClassifier` arguments (`problem_type`,
      `id2label`, `dropout`, `name`).

  Example:

  ```python
  backbone = from_pretrained("path/to/roberta-folder", task="backbone")
  classifier = build_classifier(backbone, num_classes=3)
  ```
  """
  converter = get_converter({"model_type": backbone.model_type})
  arguments = converter.convert_classifier_config({}, backbone)
  arguments.update(kwargs)
  return converter.classifier_cls(backbone, num_classes=num_classes,
                                  **arguments)


def _assign_weights(weights, tensors, folder, hf_config, converter):
  """Assigns the checkpoint's tensors; names what is wrong if they misfit."""
  expected = set()
  missing = []
  for weight in weights:
    expected.update(weight.hf_names)
    if not all(name in tensors for name in weight.hf_names):
      missing.append(weight)
      continue
    arrays = []
    for name, shape in zip(weight.hf_names, weight.hf_shapes()):
      array, original_name, path = tensors[name]
      if array.shape != tuple(shape):
        raise ValueError(
            f"{path}: tensor {original_name} has shape {list(array.shape)}, "
            f"expected {list(shape)} from {pathlib.Path(folder) / CONFIG_NAME} "
            f"({_size_summary(hf_config, converter)}): the config and weights "
            "do not belong together.")
      arrays.append(array)
    weight.variable.assign(weight.to_keras(arrays).astype(np.float32))

  sizes = _size_summary(hf_config, converter)
  for weight in missing:
    if all(name.startswith(converter.OPTIONAL_PREFIXES)
           for name in weight.hf_names):
      logger.warning("%s has no %s: the %s is freshly initialised.", folder,
                     "/".join(weight.hf_names),
                     weight.hf_names[0].split(".")[0])
      continue
    absent = [n for n in weight.hf_names if n not in tensors]
    raise ValueError(
        f"Tensor {absent[0]} (shape {list(weight.hf_shapes()[0])}) is missing "
        f"from the weights in {folder} (names are accepted with or without "
        f"the {converter.ENCODER_PREFIX!r} prefix); the checkpoint does not "
        f"match its {CONFIG_NAME} ({sizes}).")

  unexpected = sorted(
      name for name in tensors
      if name not in expected and name not in converter.HEAD_NAMES and
      not any(p.search(name) for p in converter.IGNORED_NAME_PATTERNS))
  if unexpected:
    shown = [f"{tensors[n][1]} (in {tensors[n][2].name})" for n in unexpected[:5]]
    more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
    raise ValueError(
        f"Unexpected tensor(s) in {folder}: {', '.join(shown)}{more}. A "
        f"{converter.FAMILY} checkpoint with this {CONFIG_NAME} "
        f"({sizes}) has {converter.CHECKPOINT_LAYOUT}: is "
        "this another architecture, or is the config from another model?")


def _size_summary(hf_config, converter):
  """E.g. "num_hidden_layers=4, hidden_size=64, ...", for error messages."""
  return ", ".join(f"{key}={hf_config.get(key)}"
                   for key in converter.SIZE_KEYS)


def _converter_for_model(model):
  """The converter of `model`'s family (`model_type` its embeddings record)."""
  model_classes = list(dict.fromkeys(
      cls for converter in CONVERTERS.values()
      for cls in (converter.classifier_cls, converter.backbone_cls)))
  if not isinstance(model, tuple(model_classes)):
    names = " or ".join(f"a {cls.__name__}" for cls in model_classes)
    raise TypeError(
        f"save_pretrained takes {names}, not a {type(model).__name__}.")
  backbone = getattr(model, "backbone", model)
  model_type = getattr(backbone.embeddings, "model_type", "bert")
  if model_type not in CONVERTERS:
    raise ValueError(
        f"The model records model_type={model_type!r}; save_pretrained "
        f"writes {', '.join(SUPPORTED_MODEL_TYPES)}.")
  converter = CONVERTERS[model_type]
  if not isinstance(model, (converter.classifier_cls, converter.backbone_cls)):
    raise TypeError(
        f"A {model_type} model must be a {converter.classifier_cls.__name__} "
        f"or {converter.backbone_cls.__name__}, not a "
        f"{type(model).__name__}.")
  return converter


def _model_tensors(model, converter):
  """Hugging Face name -> float32 numpy array for every weight of `model`."""
  if isinstance(model, converter.classifier_cls):
    weights = converter.backbone_weights(model.backbone,
                                         prefix=converter.ENCODER_PREFIX)
    weights += converter.head_weights(model)
  else:
    weights = converter.backbone_weights(model)
  tensors = {}
  for weight in weights:
    value = np.asarray(weight.variable.numpy(), dtype=np.float32)
    for name, array in zip(weight.hf_names, weight.to_hf(value)):
      tensors[name] = np.ascontiguousarray(array)
  return tensors


def save_pretrained(model, directory, tokenizer=None):
  """Writes `model` as a Hugging Face checkpoint folder.

  Writes `config.json` and `model.safetensors` in Hugging Face names and
  layout, for the family the model records (`model_type`: bert, roberta,
  xlm-roberta, electra, distilbert): a `BertClassifier` as
  `<Family>ForSequenceClassification` (e.g. `bert.` prefixed encoder +
  `classifier` head, `id2label`/`label2id`, `problem_type`), a
  `BertBackbone` as `<Family>Model`. `num_hidden_layers` (DistilBERT:
  `n_layers`) is the saved model's depth, so a stripped Theseus successor is
  a regular checkpoint of its family. With a `tokenizer`, its files are written too
  (`tokenizer.save_pretrained`).

  Everything is first written to a temporary folder beside `directory`. A new
  (or empty) `directory` is then created by renaming that folder, in one step.
  An existing non-empty `directory` keeps its other files; each written file
  replaces its namesake by an atomic rename (`config.json` last), and stale
  sharded safetensors weights there are removed. Files and folders get the
  usual permissions (0o644 / 0o755 under the common umask 022).

  Args:
    model: a `BertClassifier` or `BertBackbone` whose transformer layers are
      all `BertTransformerLayer`s with the same configuration.
    directory: the output folder.
    tokenizer: optional Hugging Face tokenizer to save alongside.

  Returns:
    The output folder, as a `pathlib.Path`.

  Example:

  ```python
  save_pretrained(classifier, "exported/bert-3-layers", tokenizer=tokenizer)
  # Loads in transformers:
  # BertForSequenceClassification.from_pretrained("exported/bert-3-layers")
  ```
  """
  converter = _converter_for_model(model)
  hf_config = converter.hf_config_from_model(model)
  tensors = _model_tensors(model, converter)
  directory = pathlib.Path(directory).expanduser().absolute()
  if directory.exists() and not directory.is_dir():
    raise FileExistsError(f"{directory} exists and is not a folder.")
  with file_io.staging_dir(directory) as staging:
    write_safetensors(tensors, staging)
    if tokenizer is not None:
      tokenizer.save_pretrained(os.fspath(staging))
    # Written (and moved) last so that a reader never sees a config without
    # its weights.
    write_hf_config(hf_config, staging)
    file_io.move_into_place(staging, directory, merge=True,
                            remove=SHARDED_WEIGHTS_PATTERNS, last=CONFIG_NAME)
  return directory


def load_tokenizer(path_or_hub_id, revision=None, cache_dir=None):
  """Loads a checkpoint's own Hugging Face (fast) tokenizer from its folder.

  The tokenizer is `transformers.AutoTokenizer.from_pretrained(folder)`: it
  reads `tokenizer.json` when present (else the family's vocabulary:
  `vocab.txt`, `vocab.json` + `merges.txt`, `sentencepiece.bpe.model`)
  together with `tokenizer_config.json`, so lower-casing, accent stripping and special
  tokens are the checkpoint's, and the ids are exactly those Hugging Face
  produces. (Do not build `BertTokenizerFast(vocab_file=...)` instead: in
  transformers 5 it silently ignores the file.)

  Args:
    path_or_hub_id: a checkpoint folder, or a Hugging Face Hub id (resolved
      as in `from_pretrained`).
    revision: optional Hub revision.
    cache_dir: optional Hub cache folder.

  Returns:
    A `transformers` tokenizer. Call it as usual, e.g.
    `tokenizer(texts, pairs, padding=True, truncation=True,
    return_tensors="np")`.

  Raises:
    FileNotFoundError: the folder holds no tokenizer files.

  Example:

  ```python
  tokenizer = load_tokenizer("path/to/bert-folder")
  inputs = tokenizer(["a sentence"], padding=True, return_tensors="np")
  logits = classifier(dict(inputs))
  ```
  """
  folder = resolve_model_dir(
      path_or_hub_id, revision=revision, cache_dir=cache_dir,
      allow_patterns=[*TOKENIZER_FILE_NAMES, CONFIG_NAME])
  if not any((folder / name).is_file() for name in TOKENIZER_FILES):
    raise FileNotFoundError(
        f"No tokenizer in {folder}: expected {' or '.join(TOKENIZER_FILES)} "
        "(with tokenizer_config.json). Save the tokenizer next to the model "
        "with tokenizer.save_pretrained(folder), or pass the folder of the "
        "checkpoint it came with.")
  # Imported here, not at the top: `import transformers` takes about a second
  # and prints a notice on stdout, which loading models alone does not need.
  from transformers import AutoTokenizer  # pylint: disable=g-import-not-at-top
  return AutoTokenizer.from_pretrained(os.fspath(folder))
