"""Chooses the in-graph preprocessor of a tokenizer folder by its family.

| family | preprocessor | tokenizer files | SavedModel | TFLite |
|---|---|---|---|---|
| WordPiece (BERT, ELECTRA, DistilBERT) | `TextPreprocessor` | tokenizer.json or vocab.txt | yes | yes |
| SentencePiece (XLM-R) | `SentencePiecePreprocessor` | tokenizer.json or sentencepiece.bpe.model | yes | yes |
| byte-level BPE (RoBERTa) | `BytePairPreprocessor` | tokenizer.json or vocab.json + merges.txt | yes | no (ids only) |
"""

import json
import os
import pathlib

from theseus_tf.export.byte_pair_preprocessor import BytePairPreprocessor
from theseus_tf.export.sentencepiece_preprocessor import SentencePiecePreprocessor
from theseus_tf.export.text_preprocessor import TextPreprocessor

WORDPIECE = "WordPiece"
SENTENCEPIECE = "SentencePiece"
BYTE_PAIR = "byte-level BPE"

PREPROCESSORS = (TextPreprocessor, SentencePiecePreprocessor,
                 BytePairPreprocessor)

# What each family needs: any one of these groups of files.
REQUIRED_FILES = {
    WORDPIECE: (("tokenizer.json",), ("vocab.txt",)),
    SENTENCEPIECE: (("tokenizer.json",), ("sentencepiece.bpe.model",)),
    BYTE_PAIR: (("tokenizer.json",), ("vocab.json", "merges.txt")),
}

# config.json `model_type`s and tokenizer classes of the supported encoders.
_MODEL_TYPES = {
    "bert": WORDPIECE, "electra": WORDPIECE, "distilbert": WORDPIECE,
    "roberta": BYTE_PAIR, "xlm-roberta": SENTENCEPIECE,
}
_TOKENIZER_CLASSES = {
    "BertTokenizer": WORDPIECE, "ElectraTokenizer": WORDPIECE,
    "DistilBertTokenizer": WORDPIECE, "RobertaTokenizer": BYTE_PAIR,
    "XLMRobertaTokenizer": SENTENCEPIECE,
}
_TOKENIZER_JSON_MODELS = {"WordPiece": WORDPIECE, "Unigram": SENTENCEPIECE,
                          "BPE": BYTE_PAIR}
# Models without token type embeddings: their tokenizers return none.
_NO_TOKEN_TYPES = ("distilbert", "roberta", "xlm-roberta")

BPE_TFLITE_ERROR = (
    "Byte-level BPE (RoBERTa) has no TFLite ops (tensorflow-text has no BPE "
    "kernel), so a raw-text TFLite model cannot tokenize it: export the token-id TFLite model instead (export_tflite(..., "
    "inputs='ids'); CLI: --inputs ids) and tokenize in the app, or serve raw "
    "text with the SavedModel (export_saved_model).")


def _read_json(path):
  if path.is_file():
    return json.loads(path.read_text(encoding="utf-8"))
  return {}


def tokenizer_family(path):
  """The tokenizer family of a Hugging Face folder, and whether it has token types.

  Decided by what the folder says, most specific first: `tokenizer.json`'s
  model type, `tokenizer_config.json`'s `tokenizer_class`, `config.json`'s
  `model_type`, then which tokenizer files it holds.

  Args:
    path: a tokenizer (or model) folder.

  Returns:
    `(family, token_types)`: one of WORDPIECE, SENTENCEPIECE, BYTE_PAIR, and
    a bool.

  Raises:
    FileNotFoundError: no folder, the family's files are missing, or nothing
      in it names a tokenizer.
    NotImplementedError: a tokenizer family without an in-graph version.
  """
  folder = pathlib.Path(os.fspath(path))
  if not folder.is_dir():
    raise FileNotFoundError(
        f"No tokenizer folder {folder}: pass the folder holding the "
        "tokenizer files (usually the model folder).")
  spec = _read_json(folder / "tokenizer.json")
  config = _read_json(folder / "tokenizer_config.json")
  model_config = _read_json(folder / "config.json")
  model_type = model_config.get("model_type")
  tokenizer_class = str(config.get("tokenizer_class") or "")
  tokenizer_class = tokenizer_class[:-4] if tokenizer_class.endswith(
      "Fast") else tokenizer_class

  family = None
  if spec:
    kind = (spec.get("model") or {}).get("type")
    family = _TOKENIZER_JSON_MODELS.get(kind)
    if family is None:
      raise NotImplementedError(
          f"{folder / 'tokenizer.json'} is a {kind} tokenizer; in-graph "
          "tokenization supports WordPiece, SentencePiece unigram and "
          "byte-level BPE: export with token-id inputs instead.")
  elif tokenizer_class in _TOKENIZER_CLASSES:
    family = _TOKENIZER_CLASSES[tokenizer_class]
  elif model_type in _MODEL_TYPES:
    family = _MODEL_TYPES[model_type]
  elif (folder / "vocab.txt").is_file():
    family = WORDPIECE
  elif (folder / "sentencepiece.bpe.model").is_file():
    family = SENTENCEPIECE
  elif (folder / "vocab.json").is_file() or (folder / "merges.txt").is_file():
    family = BYTE_PAIR
  elif model_type or tokenizer_class:
    raise NotImplementedError(
        f"{folder} holds a {tokenizer_class or model_type} tokenizer, which "
        "has no in-graph version: export with token-id inputs instead.")
  else:
    raise FileNotFoundError(
        f"No vocabulary in {folder}: expected tokenizer.json (or vocab.txt, "
        "sentencepiece.bpe.model, vocab.json + merges.txt): save the "
        "tokenizer there with tokenizer.save_pretrained(folder), or pass the "
        "folder it came with (CLI: --tokenizer).")

  groups = REQUIRED_FILES[family]
  if not any(all((folder / name).is_file() for name in group)
             for group in groups):
    missing = [name for name in groups[-1] if not (folder / name).is_file()]
    raise FileNotFoundError(
        f"No vocabulary in {folder}: its {family} tokenizer needs "
        f"tokenizer.json or {' + '.join(groups[-1])} (missing: "
        f"{', '.join(missing)}); save the tokenizer there with "
        "tokenizer.save_pretrained(folder), or pass the folder it came with "
        "(CLI: --tokenizer).")

  names = config.get("model_input_names")
  if names:
    token_types = "token_type_ids" in names
  else:
    token_types = not (model_type in _NO_TOKEN_TYPES or tokenizer_class in (
        "DistilBertTokenizer", "RobertaTokenizer", "XLMRobertaTokenizer"))
  if family != WORDPIECE:
    token_types = False
  return family, token_types


def load_preprocessor(path, max_seq_length=128, pad_to_max_length=False,
                      tflite=False):
  """The in-graph preprocessor of a Hugging Face tokenizer folder.

  Args:
    path: the tokenizer (or model) folder.
    max_seq_length: int. Length after special tokens and truncation.
    pad_to_max_length: bool. Pad every batch to `max_seq_length`.
    tflite: bool. For a TFLite model: SentencePiece uses
      `FastSentencepieceTokenizer`; byte-level BPE is refused.

  Returns:
    A `TextPreprocessor`, `SentencePiecePreprocessor` or
    `BytePairPreprocessor`; each is called as `preprocessor(text_a,
    text_b=None)` and returns a dict of int32 features named
    `preprocessor.feature_names`.

  Raises:
    FileNotFoundError: no folder, or the files its family needs are missing.
    NotImplementedError: a tokenizer without an in-graph version, or
      byte-level BPE with `tflite`.

  Example:

  ```python
  preprocessor = load_preprocessor("roberta-sst2/", max_seq_length=128)
  features = preprocessor(tf.constant(["a fine film"]))
  ```
  """
  family, token_types = tokenizer_family(path)
  if family == WORDPIECE:
    return TextPreprocessor.from_pretrained(
        path, max_seq_length=max_seq_length,
        pad_to_max_length=pad_to_max_length, token_types=token_types)
  if family == SENTENCEPIECE:
    return SentencePiecePreprocessor.from_pretrained(
        path, max_seq_length=max_seq_length,
        pad_to_max_length=pad_to_max_length, fast=tflite)
  if tflite:
    raise NotImplementedError(BPE_TFLITE_ERROR)
  return BytePairPreprocessor.from_pretrained(
      path, max_seq_length=max_seq_length,
      pad_to_max_length=pad_to_max_length)
