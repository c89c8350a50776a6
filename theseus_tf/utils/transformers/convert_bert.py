"""Hugging Face BERT checkpoints in and out of theseus_tf Keras models.

`from_pretrained` reads a Hugging Face folder (`config.json` +
`model.safetensors`, or sharded safetensors with `model.safetensors.index.json`)
into a `BertClassifier` or `BertBackbone`; `save_pretrained` writes one back in
the layout `transformers` loads (`BertForSequenceClassification` / `BertModel`).
Weights are read and written with the safetensors numpy API: no PyTorch, and
pickle checkpoints (`pytorch_model.bin`, `.pt`, `.ckpt`) are refused, never
unpickled.
"""

import fnmatch
import json
import logging
import os
import pathlib
import re
import shutil
import struct
import tempfile

import numpy as np

from theseus_tf.backend import keras

# The model classes are imported inside the functions that need them:
# `theseus_tf.models` re-exports this module's functions, so importing it here
# would make the two packages import each other.

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"

# What `from_pretrained` downloads from the Hub: the config, the safetensors
# weights (single or sharded) and the tokenizer files.
HUB_ALLOW_PATTERNS = [
    CONFIG_NAME, "model*.safetensors", WEIGHTS_INDEX_NAME, "tokenizer.json",
    "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
    "added_tokens.json"
]

# Checkpoint formats that are Python pickles (or otherwise not safetensors).
_UNSUPPORTED_WEIGHT_PATTERNS = ("*.bin", "*.bin.index.json", "*.pt", "*.pth",
                                "*.ckpt", "*.ckpt.*", "*.pkl", "*.h5",
                                "*.msgpack")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

# Tensors that BERT checkpoints may hold besides the encoder and a sequence
# classification head, and that a `BertClassifier` / `BertBackbone` has no use
# for: buffers, and the heads of other tasks (pre-training, masked LM, question
# answering). They are skipped.
_IGNORED_NAME_PATTERNS = (
    re.compile(r"^embeddings\.(position_ids|token_type_ids)$"),
    re.compile(r"^cls\."),
    re.compile(r"^qa_outputs\."),
)

_SUPPORTED_POSITION_EMBEDDINGS = ("absolute",)

# Hugging Face `BertConfig` defaults, for keys a config.json leaves out.
_HF_BERT_DEFAULTS = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}

TASKS = ("sequence_classification", "backbone")


# ----------------------------------------------------------------------------
# Finding the checkpoint folder.
# ----------------------------------------------------------------------------


def _hub_offline():
  for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    if os.environ.get(variable, "").strip().upper() in ("1", "ON", "YES",
                                                         "TRUE"):
      return True
  try:
    from huggingface_hub import constants
  except ImportError:
    return True
  return bool(constants.HF_HUB_OFFLINE)


def _is_hub_id(name):
  if name.startswith((".", "/", "~")) or os.sep in name.replace("/", "", 1):
    return False
  try:
    from huggingface_hub.utils import validate_repo_id
    validate_repo_id(name)
  except Exception:  # pylint: disable=broad-except
    return False
  return True


def resolve_model_dir(path_or_hub_id, revision=None, cache_dir=None,
                      allow_patterns=None):
  """Returns the local folder of a checkpoint, downloading Hub ids if online.

  Args:
    path_or_hub_id: a local folder, or a Hugging Face Hub model id such as
      "sentence-transformers/all-MiniLM-L6-v2".
    revision: optional Hub revision (branch, tag or commit).
    cache_dir: optional Hub cache folder.
    allow_patterns: the files to download; `HUB_ALLOW_PATTERNS` by default.

  Returns:
    A `pathlib.Path` to an existing folder.

  Raises:
    FileNotFoundError: `path_or_hub_id` is neither a folder nor a Hub id.
    NotADirectoryError: it is a file, not a folder.
    OSError: the Hub id could not be downloaded (offline, network error,
      unknown id) and is not in the local cache.
  """
  path = pathlib.Path(os.path.expanduser(os.fspath(path_or_hub_id)))
  if path.is_dir():
    return path
  if path.exists():
    if path.name.endswith(_PICKLE_SUFFIXES):
      raise ValueError(_pickle_message(path.parent, [path.name]))
    raise NotADirectoryError(
        f"{path} is a file: pass the folder that holds it (a Hugging Face "
        f"model folder with {CONFIG_NAME} and {WEIGHTS_NAME}).")
  name = os.fspath(path_or_hub_id)
  if not _is_hub_id(name):
    raise FileNotFoundError(
        f"No folder {path}: pass an existing local model folder (with "
        f"{CONFIG_NAME} and {WEIGHTS_NAME}) or a Hugging Face Hub id such as "
        "'org/model-name'.")

  offline = _hub_offline()
  try:
    from huggingface_hub import snapshot_download
    folder = snapshot_download(
        name,
        revision=revision,
        cache_dir=cache_dir,
        allow_patterns=allow_patterns or HUB_ALLOW_PATTERNS,
        local_files_only=offline)
  except Exception as error:  # pylint: disable=broad-except
    how_to_fix = (
        f"Download it where the Hub is reachable (for example `hf download "
        f"{name} --local-dir ./{name.split('/')[-1]}`), copy the folder here "
        "and pass its local path instead of the Hub id.")
    if offline:
      raise OSError(
          f"'{name}' is not a local folder, and it is not in the Hugging Face "
          "cache while Hub access is off (HF_HUB_OFFLINE / "
          f"TRANSFORMERS_OFFLINE). {how_to_fix}") from error
    raise OSError(
        f"'{name}' is not a local folder and could not be downloaded from the "
        f"Hugging Face Hub ({type(error).__name__}: {error}). If this machine "
        f"is offline or the id is wrong: {how_to_fix}") from error
  return pathlib.Path(folder)


def _pickle_message(folder, names):
  return (
      f"{folder} holds {', '.join(sorted(names))} but no {WEIGHTS_NAME}: "
      "theseus_tf only reads safetensors and never unpickles PyTorch "
      "checkpoints (loading a pickle can run arbitrary code). Convert it once, "
      "where PyTorch is installed and you trust the file, e.g.\n"
      "  python -c \"from transformers import AutoModel; "
      f"AutoModel.from_pretrained('{folder}').save_pretrained('{folder}-safetensors')\"\n"
      "(use AutoModelForSequenceClassification to keep a classifier head; "
      f"transformers writes {WEIGHTS_NAME}), then pass the new folder.")


# ----------------------------------------------------------------------------
# Reading config.json and safetensors.
# ----------------------------------------------------------------------------


def read_hf_config(folder):
  """Reads and checks the `config.json` of a BERT checkpoint folder."""
  config_path = pathlib.Path(folder) / CONFIG_NAME
  if not config_path.is_file():
    raise FileNotFoundError(
        f"No {CONFIG_NAME} in {folder}: from_pretrained expects a Hugging Face "
        f"model folder ({CONFIG_NAME} + {WEIGHTS_NAME}), as written by "
        "transformers' save_pretrained.")
  try:
    config = json.loads(config_path.read_text(encoding="utf-8"))
  except ValueError as error:
    raise ValueError(f"{config_path} is not valid JSON: {error}") from error
  model_type = config.get("model_type")
  if model_type != "bert":
    raise ValueError(
        f"{config_path} has model_type={model_type!r}; theseus_tf loads BERT "
        "checkpoints only (model_type 'bert'). Pick a BERT checkpoint, or "
        "convert the model to the BERT architecture first.")
  position_type = config.get("position_embedding_type", "absolute")
  if position_type not in _SUPPORTED_POSITION_EMBEDDINGS:
    raise ValueError(
        f"{config_path} has position_embedding_type={position_type!r}; only "
        "'absolute' position embeddings are supported.")
  if config.get("is_decoder") or config.get("add_cross_attention"):
    raise ValueError(
        f"{config_path} describes a BERT decoder (is_decoder / "
        "add_cross_attention); only the bidirectional encoder is supported.")
  return config


def backbone_kwargs_from_hf_config(config):
  """Maps a Hugging Face BERT config dict to `BertBackbone` arguments."""
  get = lambda key: config.get(key, _HF_BERT_DEFAULTS[key])  # pylint: disable=unnecessary-lambda-assignment
  pad_token_id = get("pad_token_id")
  return {
      "vocabulary_size": get("vocab_size"),
      "num_layers": get("num_hidden_layers"),
      "num_heads": get("num_attention_heads"),
      "hidden_dim": get("hidden_size"),
      "intermediate_dim": get("intermediate_size"),
      "hidden_activation": get("hidden_act"),
      "dropout": get("hidden_dropout_prob"),
      "attention_dropout": get("attention_probs_dropout_prob"),
      "max_sequence_length": get("max_position_embeddings"),
      "num_segments": get("type_vocab_size"),
      "layer_norm_epsilon": get("layer_norm_eps"),
      "initializer_range": get("initializer_range"),
      "pad_token_id": 0 if pad_token_id is None else pad_token_id,
  }


def _read_bf16(path, name):
  # numpy has no bfloat16, so the safetensors numpy API cannot return these:
  # read the raw bits and widen them (bfloat16 is the top half of a float32).
  with open(path, "rb") as f:
    header_size = struct.unpack("<Q", f.read(8))[0]
    entry = json.loads(f.read(header_size))[name]
    begin, end = entry["data_offsets"]
    f.seek(8 + header_size + begin)
    bits = np.frombuffer(f.read(end - begin), dtype="<u2")
  return (bits.astype(np.uint32) << 16).view(np.float32).reshape(entry["shape"])


def read_safetensors(path):
  """Reads every tensor of one safetensors file as float32 numpy arrays.

  Floating tensors of any width (including bfloat16) come back as float32;
  integer tensors (buffers such as `position_ids`) keep their dtype.
  """
  from safetensors import SafetensorError, safe_open
  tensors = {}
  try:
    with safe_open(os.fspath(path), framework="np") as f:
      for name in f.keys():
        dtype = f.get_slice(name).get_dtype()
        if dtype == "BF16":
          tensors[name] = _read_bf16(path, name)
        else:
          array = f.get_tensor(name)
          if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32, copy=False)
          tensors[name] = array
  except SafetensorError as error:
    raise ValueError(
        f"{path} is not a readable safetensors file: {error}") from error
  return tensors


def _weight_files(folder):
  """The safetensors files of a checkpoint folder, single or sharded."""
  folder = pathlib.Path(folder)
  single = folder / WEIGHTS_NAME
  if single.is_file():
    return [single]
  index_path = folder / WEIGHTS_INDEX_NAME
  if index_path.is_file():
    try:
      weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (ValueError, KeyError) as error:
      raise ValueError(
          f"{index_path} is not a safetensors index (a JSON object with a "
          f"'weight_map'): {error}") from error
    shards = [folder / shard for shard in sorted(set(weight_map.values()))]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
      raise FileNotFoundError(
          f"{index_path} lists shard(s) {missing} that are not in {folder}: "
          "download the complete checkpoint.")
    return shards
  present = [
      p.name for p in folder.iterdir() if any(
          fnmatch.fnmatch(p.name, pattern)
          for pattern in _UNSUPPORTED_WEIGHT_PATTERNS)
  ]
  if any(name.endswith(_PICKLE_SUFFIXES + (".bin.index.json",))
         for name in present):
    raise ValueError(_pickle_message(folder, present))
  if present:
    raise ValueError(
        f"{folder} holds {present} but no {WEIGHTS_NAME}: only safetensors "
        "checkpoints are supported. Re-save the model with transformers' "
        "save_pretrained (it writes safetensors).")
  raise FileNotFoundError(
      f"No {WEIGHTS_NAME} (nor a sharded {WEIGHTS_INDEX_NAME}) in {folder}: "
      "the folder needs the model weights in safetensors format.")


def _canonical_name(name):
  """Strips the `bert.` prefix and maps old TF-style LayerNorm names."""
  if name.startswith("bert."):
    name = name[len("bert."):]
  return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight",
                re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))


def _read_checkpoint_tensors(folder):
  """Maps canonical names to (array, original name, file) for a checkpoint."""
  tensors = {}
  for path in _weight_files(folder):
    for name, array in read_safetensors(path).items():
      canonical = _canonical_name(name)
      if canonical in tensors:
        raise ValueError(
            f"{path}: tensor {name} duplicates {tensors[canonical][1]} (in "
            f"{tensors[canonical][2].name}); a checkpoint holds each weight "
            "once, with or without the 'bert.' prefix.")
      tensors[canonical] = (array, name, path)
  return tensors


# ----------------------------------------------------------------------------
# Hugging Face names <-> Keras variables.
# ----------------------------------------------------------------------------


class _Param:
  """One Keras variable and the Hugging Face tensor(s) it is made of."""

  def __init__(self, hf_names, variable, to_keras, to_hf):
    self.hf_names = tuple(hf_names)
    self.variable = variable
    self.to_keras = to_keras  # list of HF arrays -> Keras value
    self.to_hf = to_hf  # Keras value -> list of HF arrays

  def hf_shapes(self):
    zeros = np.zeros(tuple(self.variable.shape), "float32")
    return [a.shape for a in self.to_hf(zeros)]


def _same(prefix, suffix, variable):
  return _Param([f"{prefix}.{suffix}"], variable, lambda a: a[0],
                lambda v: [v])


def _dense(prefix, dense):
  # PyTorch Linear stores [out, in]; Keras Dense [in, out].
  return [
      _Param([f"{prefix}.weight"], dense.kernel, lambda a: a[0].T,
             lambda v: [v.T]),
      _same(prefix, "bias", dense.bias),
  ]


def _layer_norm(prefix, layer_norm):
  return [
      _same(prefix, "weight", layer_norm.gamma),
      _same(prefix, "bias", layer_norm.beta),
  ]


def _transformer_layer_params(prefix, layer):
  # One fused [hidden, 3 * hidden] Keras kernel holds query, key and value.
  qkv_names = [f"{prefix}.attention.self.{n}" for n in ("query", "key", "value")]
  return [
      _Param([f"{n}.weight" for n in qkv_names], layer.qkv_dense.kernel,
             lambda a: np.concatenate([w.T for w in a], axis=1),
             lambda v: [w.T for w in np.split(v, 3, axis=1)]),
      _Param([f"{n}.bias" for n in qkv_names], layer.qkv_dense.bias,
             np.concatenate, lambda v: np.split(v, 3)),
      *_dense(f"{prefix}.attention.output.dense", layer.attention_output_dense),
      *_layer_norm(f"{prefix}.attention.output.LayerNorm",
                   layer.attention_layer_norm),
      *_dense(f"{prefix}.intermediate.dense", layer.intermediate_dense),
      *_dense(f"{prefix}.output.dense", layer.output_dense),
      *_layer_norm(f"{prefix}.output.LayerNorm", layer.output_layer_norm),
  ]


def _check_standard_bert(backbone):
  """Raises unless `backbone` is made of plain BERT layers (for HF export)."""
  from theseus_tf.models.bert_embeddings import BertEmbeddings
  from theseus_tf.models.bert_transformer_layer import BertTransformerLayer
  if not isinstance(backbone.embeddings, BertEmbeddings):
    raise TypeError(
        f"backbone.embeddings is a {type(backbone.embeddings).__name__}, not "
        "a BertEmbeddings: only standard BERT layers map to Hugging Face "
        "names.")
  if not backbone.transformer_layers:
    raise ValueError("The backbone has no transformer layers to save.")
  reference = None
  for i, block in enumerate(backbone.transformer_layers):
    if not isinstance(block, BertTransformerLayer):
      raise TypeError(
          f"backbone.transformer_layers[{i}] is a {type(block).__name__}, not "
          "a BertTransformerLayer: a Hugging Face BERT checkpoint holds plain "
          "transformer layers only. Build a model from the layers to export "
          "first (e.g. the successor's, with BertBackbone.from_layers or "
          "build_bert_classifier) and save that.")
    config = block.get_config()
    for key in ("name", "dtype", "trainable"):  # Not part of the architecture.
      config.pop(key, None)
    if reference is None:
      reference = config
    elif config != reference:
      raise ValueError(
          f"backbone.transformer_layers[{i}] has a different configuration "
          f"from layer 0 ({config} vs {reference}); a Hugging Face config "
          "describes identical layers.")
  pooler = backbone.pooler
  if (not isinstance(pooler, keras.layers.Dense) or not pooler.use_bias or
      getattr(pooler.activation, "__name__", None) != "tanh"):
    raise TypeError(
        f"backbone.pooler is a {type(pooler).__name__}; Hugging Face BERT's "
        "pooler is a Dense layer with bias and tanh activation.")


def _backbone_params(backbone, prefix=""):
  embeddings = backbone.embeddings
  params = [
      _same(f"{prefix}embeddings.word_embeddings", "weight",
            embeddings.token_embedding.embeddings),
      _same(f"{prefix}embeddings.position_embeddings", "weight",
            embeddings.position_embedding.embeddings),
      _same(f"{prefix}embeddings.token_type_embeddings", "weight",
            embeddings.segment_embedding.embeddings),
      *_layer_norm(f"{prefix}embeddings.LayerNorm", embeddings.layer_norm),
  ]
  for i, layer in enumerate(backbone.transformer_layers):
    params += _transformer_layer_params(f"{prefix}encoder.layer.{i}", layer)
  params += _dense(f"{prefix}pooler.dense", backbone.pooler)
  return params


# ----------------------------------------------------------------------------
# from_pretrained.
# ----------------------------------------------------------------------------


def from_pretrained(path_or_hub_id,
                    num_labels=None,
                    *,
                    task="sequence_classification",
                    problem_type=None,
                    output_hidden_states=False,
                    dtype=None,
                    revision=None,
                    cache_dir=None):
  """Loads a Hugging Face BERT checkpoint as a Keras model.

  Reads `config.json` and `model.safetensors` (or the shards listed in
  `model.safetensors.index.json`) with the safetensors numpy API. Parameter
  names may carry the `bert.` prefix (task models) or not (`BertModel`).
  Pre-training and question-answering heads (`cls.*`, `qa_outputs.*`) are
  skipped; any other tensor the config does not account for is an error.

  With `task="sequence_classification"`, the checkpoint's `classifier` head
  is loaded when it has one; otherwise a freshly initialised head with
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
  from theseus_tf.models.bert_backbone import BertBackbone
  from theseus_tf.models.bert_classifier import (BertClassifier,
                                                 default_problem_type)
  if task not in TASKS:
    raise ValueError(f"Unknown task {task!r}: use one of {TASKS}.")
  folder = resolve_model_dir(path_or_hub_id, revision=revision,
                             cache_dir=cache_dir)
  config = read_hf_config(folder)
  tensors = _read_checkpoint_tensors(folder)

  head_names = {"classifier.weight", "classifier.bias"}
  has_head = bool(head_names & set(tensors))
  if task == "sequence_classification":
    # Argument errors first, before any model is built.
    if has_head:
      if "classifier.weight" not in tensors:
        raise ValueError(
            f"{folder}: classifier.bias without classifier.weight.")
      head_labels = tensors["classifier.weight"][0].shape[0]
      if num_labels is not None and num_labels != head_labels:
        raise ValueError(
            f"num_labels={num_labels}, but the checkpoint in {folder} has a "
            f"classifier head with {head_labels} outputs. Pass "
            f"num_labels={head_labels} (or leave it out) to use that head, or "
            "load the encoder alone with task='backbone' and put a new "
            "BertClassifier(backbone, num_classes=...) on it.")
      num_labels = head_labels
    elif num_labels is None:
      if "id2label" not in config:
        raise ValueError(
            f"The checkpoint in {folder} has no classifier head and its "
            f"{CONFIG_NAME} no id2label: pass num_labels=<number of classes> "
            "(1 for regression) to create a new head.")
      num_labels = len(config["id2label"])

  backbone = BertBackbone(
      **backbone_kwargs_from_hf_config(config),
      output_hidden_states=output_hidden_states,
      dtype=dtype)
  params = _backbone_params(backbone)
  if task == "backbone":
    model = backbone
    if has_head:
      logger.info("%s: classifier head skipped (task='backbone').", folder)
  else:
    problem_type = (problem_type or config.get("problem_type") or
                    default_problem_type(num_labels))
    id2label = config.get("id2label")
    if id2label is not None and len(id2label) != num_labels:
      id2label = None
    dropout = config.get("classifier_dropout")
    if dropout is None:
      dropout = backbone.dropout
    model = BertClassifier(
        backbone,
        num_classes=num_labels,
        dropout=dropout,
        problem_type=problem_type,
        id2label=id2label)
    if has_head:
      params += _dense("classifier", model.output_dense)
    else:
      logger.warning(
          "%s has no classifier head: a new one with %d output(s) is freshly "
          "initialised and must be trained.", folder, num_labels)

  _assign_params(params, tensors, folder, config, head_names)
  return model


def _assign_params(params, tensors, folder, config, head_names):
  expected = set()
  missing = []
  for param in params:
    expected.update(param.hf_names)
    if not all(name in tensors for name in param.hf_names):
      missing.append(param)
      continue
    arrays = []
    for name, shape in zip(param.hf_names, param.hf_shapes()):
      array, original_name, path = tensors[name]
      if array.shape != tuple(shape):
        raise ValueError(
            f"{path}: tensor {original_name} has shape {list(array.shape)}, "
            f"expected {list(shape)} from {pathlib.Path(folder) / CONFIG_NAME} "
            f"(hidden_size={config.get('hidden_size')}, intermediate_size="
            f"{config.get('intermediate_size')}, vocab_size="
            f"{config.get('vocab_size')}): the config and weights do not "
            "belong together.")
      arrays.append(array)
    param.variable.assign(param.to_keras(arrays).astype(np.float32))

  for param in missing:
    if all(name.startswith("pooler.") for name in param.hf_names):
      # As in Hugging Face: checkpoints saved without a pooler (e.g. masked
      # LM ones) load with a freshly initialised pooler.
      logger.warning("%s has no %s: the pooler is freshly initialised.", folder,
                     "/".join(param.hf_names))
      continue
    absent = [n for n in param.hf_names if n not in tensors]
    raise ValueError(
        f"Tensor {absent[0]} (shape {list(param.hf_shapes()[0])}) is missing "
        f"from the weights in {folder} (names are accepted with or without "
        "the 'bert.' prefix); the checkpoint does not match its "
        f"{CONFIG_NAME} (num_hidden_layers={config.get('num_hidden_layers')}).")

  unexpected = sorted(
      name for name in tensors
      if name not in expected and name not in head_names and
      not any(p.search(name) for p in _IGNORED_NAME_PATTERNS))
  if unexpected:
    shown = [f"{tensors[n][1]} (in {tensors[n][2].name})" for n in unexpected[:5]]
    more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
    raise ValueError(
        f"Unexpected tensor(s) in {folder}: {', '.join(shown)}{more}. A BERT "
        f"checkpoint with this {CONFIG_NAME} (num_hidden_layers="
        f"{config.get('num_hidden_layers')}) has embeddings.*, "
        "encoder.layer.<0..n-1>.*, pooler.* and optionally classifier.* "
        "(each optionally prefixed with 'bert.'): is this another "
        "architecture, or is the config from another model?")


# ----------------------------------------------------------------------------
# save_pretrained.
# ----------------------------------------------------------------------------


def hf_config_from_model(model):
  """The Hugging Face `config.json` dict describing `model`."""
  from theseus_tf.models.bert_backbone import BertBackbone
  from theseus_tf.models.bert_classifier import BertClassifier
  if isinstance(model, BertClassifier):
    backbone = model.backbone
  elif isinstance(model, BertBackbone):
    backbone = model
  else:
    raise TypeError(
        f"save_pretrained takes a BertClassifier or a BertBackbone, not a "
        f"{type(model).__name__}.")
  _check_standard_bert(backbone)
  embeddings = backbone.embeddings
  layer = backbone.transformer_layers[0]
  config = {
      "architectures": ["BertModel"],
      "model_type": "bert",
      "vocab_size": embeddings.vocabulary_size,
      "hidden_size": embeddings.hidden_dim,
      "num_hidden_layers": len(backbone.transformer_layers),
      "num_attention_heads": layer.num_heads,
      "intermediate_size": layer.intermediate_dim,
      "hidden_act": layer.hidden_activation,
      "hidden_dropout_prob": layer.dropout,
      "attention_probs_dropout_prob": layer.attention_dropout,
      "max_position_embeddings": embeddings.max_sequence_length,
      "type_vocab_size": embeddings.num_segments,
      "initializer_range": embeddings.initializer_range,
      "layer_norm_eps": layer.layer_norm_epsilon,
      "pad_token_id": embeddings.pad_token_id,
      "position_embedding_type": "absolute",
      "dtype": "float32",
  }
  if isinstance(model, BertClassifier):
    config["architectures"] = ["BertForSequenceClassification"]
    config["classifier_dropout"] = (None if model.dropout == layer.dropout else
                                    model.dropout)
    config["problem_type"] = model.problem_type
    config["id2label"] = {str(i): label for i, label in model.id2label.items()}
    config["label2id"] = {label: i for i, label in model.id2label.items()}
  return config


def _model_tensors(model):
  """HF name -> float32 numpy array for every weight of `model`."""
  from theseus_tf.models.bert_classifier import BertClassifier
  if isinstance(model, BertClassifier):
    params = _backbone_params(model.backbone, prefix="bert.")
    params += _dense("classifier", model.output_dense)
  else:
    params = _backbone_params(model)
  tensors = {}
  for param in params:
    value = np.asarray(param.variable.numpy(), dtype=np.float32)
    for name, array in zip(param.hf_names, param.to_hf(value)):
      tensors[name] = np.ascontiguousarray(array)
  return tensors


def save_pretrained(model, directory, tokenizer=None):
  """Writes `model` as a Hugging Face BERT checkpoint folder.

  Writes `config.json` and `model.safetensors` in Hugging Face names and
  layout: a `BertClassifier` as `BertForSequenceClassification` (`bert.`
  prefixed encoder + `classifier` head, `id2label`/`label2id`,
  `problem_type`), a `BertBackbone` as `BertModel`. `num_hidden_layers` is the
  saved model's depth. With a `tokenizer`, its files are written too
  (`tokenizer.save_pretrained`).

  Everything is first written to a temporary folder beside `directory`. A new
  (or empty) `directory` is then created by renaming that folder, in one step.
  An existing non-empty `directory` keeps its other files; each written file
  replaces its namesake by an atomic rename (`config.json` last), and stale
  sharded safetensors weights there are removed.

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
  from safetensors.numpy import save_file
  config = hf_config_from_model(model)
  tensors = _model_tensors(model)
  directory = pathlib.Path(directory).expanduser().absolute()
  if directory.exists() and not directory.is_dir():
    raise FileExistsError(f"{directory} exists and is not a folder.")
  directory.parent.mkdir(parents=True, exist_ok=True)

  staging = pathlib.Path(
      tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
  try:
    # mkdtemp makes a private (0700) folder; give it a normal mode as it may
    # become `directory` itself.
    os.chmod(staging, 0o755)
    # "format": "pt" is what transformers checks before loading a file.
    save_file(tensors, os.fspath(staging / WEIGHTS_NAME),
              metadata={"format": "pt"})
    if tokenizer is not None:
      tokenizer.save_pretrained(os.fspath(staging))
    # Written last so that a reader never sees a config without its weights.
    (staging / CONFIG_NAME).write_text(
        json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _move_into_place(staging, directory)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return directory


def _move_into_place(staging, directory):
  if directory.is_dir() and not any(directory.iterdir()):
    directory.rmdir()
  if not directory.exists():
    os.rename(staging, directory)
    return
  # An existing folder may hold the user's other files (logs, checkpoints):
  # replace only what was written, file by file.
  written = {p.name for p in staging.iterdir()}
  for stale in directory.iterdir():
    if stale.name not in written and (
        stale.name == WEIGHTS_INDEX_NAME or
        fnmatch.fnmatch(stale.name, "model-*-of-*.safetensors")):
      stale.unlink()
  for name in sorted(written - {CONFIG_NAME}) + [CONFIG_NAME]:
    target = directory / name
    if target.is_dir() and not (staging / name).is_dir():
      raise FileExistsError(f"{target} is a folder; cannot write a file there.")
    if (staging / name).is_dir():
      shutil.rmtree(target, ignore_errors=True)
    os.replace(staging / name, target)
