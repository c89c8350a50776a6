"""The tokenizer that belongs to a BERT checkpoint."""

import os
import pathlib

from theseus_tf.utils.transformers.convert_bert import resolve_model_dir

# A folder has a usable tokenizer when it holds one of these.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")

_TOKENIZER_ALLOW_PATTERNS = [
    "tokenizer.json", "tokenizer_config.json", "vocab.txt",
    "special_tokens_map.json", "added_tokens.json", "config.json"
]


def load_tokenizer(path_or_hub_id, revision=None, cache_dir=None):
  """Loads a checkpoint's own Hugging Face (fast) tokenizer from its folder.

  The tokenizer is `transformers.AutoTokenizer.from_pretrained(folder)`: it
  reads `tokenizer.json` when present (else `vocab.txt`) together with
  `tokenizer_config.json`, so lower-casing, accent stripping and special
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
  folder = resolve_model_dir(path_or_hub_id, revision=revision,
                             cache_dir=cache_dir,
                             allow_patterns=_TOKENIZER_ALLOW_PATTERNS)
  if not any((pathlib.Path(folder) / name).is_file() for name in TOKENIZER_FILES):
    raise FileNotFoundError(
        f"No tokenizer in {folder}: expected {' or '.join(TOKENIZER_FILES)} "
        "(with tokenizer_config.json). Save the tokenizer next to the model "
        "with tokenizer.save_pretrained(folder), or pass the folder of the "
        "checkpoint it came with.")
  from transformers import AutoTokenizer
  return AutoTokenizer.from_pretrained(os.fspath(folder))
