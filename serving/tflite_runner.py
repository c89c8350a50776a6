#!/usr/bin/env python
"""Runs a theseus_tf TFLite model on a file of texts: the app-side reference.

Reads one text per line (`text_a<TAB>text_b` for sentence-pair models, or
JSON lines with "text" / "text_a" + "text_b"), writes one JSON line per input
with the label, probabilities (or score) and logits.

Raw-text models (`theseus-tf export --format tflite --inputs text`) tokenize
inside the model and need tensorflow-text's TFLite kernels; token-id models
need the tokenizer here (`--tokenizer`, via Hugging Face `transformers`).

```bash
python serving/tflite_runner.py dist/sst2.text.dynamic.tflite reviews.txt \
    --labels negative,positive --output predictions.jsonl
python serving/tflite_runner.py dist/sst2.ids.int8.tflite reviews.txt \
    --tokenizer runs/sst2-student
```

On a device the same three steps apply: load with the tensorflow-text custom
ops registered (raw-text models), resize the inputs to the batch, invoke the
`serving_default` signature.
"""

import argparse
import contextlib
import json
import sys

import numpy as np

SIGNATURE = "serving_default"


class TFLiteClassifier:
  """A TFLite classifier exported by theseus_tf, raw-text or token-id inputs.

  Args:
    model_path: the `.tflite` file.
    tokenizer_dir: folder of the Hugging Face tokenizer; token-id models only.
    num_threads: CPU threads of the interpreter.

  Example:

  ```python
  classifier = TFLiteClassifier("sst2.text.dynamic.tflite")
  classifier.predict(["a gripping thriller"])
  # [{'label': 1, 'probabilities': [0.03, 0.97], 'logits': [...]}]
  ```
  """

  def __init__(self, model_path, tokenizer_dir=None, num_threads=None):
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
    try:
      import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
      registerers = tf_text.tflite_registrar.SELECT_TFTEXT_OPS
    except ImportError:  # Enough for token-id models.
      registerers = []
    self._interpreter = litert.InterpreterWithCustomOps(
        model_path=str(model_path), custom_op_registerers=registerers,
        num_threads=num_threads)
    signatures = self._interpreter.get_signature_list()
    if SIGNATURE not in signatures:
      raise ValueError(f"{model_path} has no '{SIGNATURE}' signature "
                       f"(found {sorted(signatures)}).")
    self.input_names = sorted(signatures[SIGNATURE]["inputs"])
    self._runner = self._interpreter.get_signature_runner(SIGNATURE)
    self.takes_text = "input_ids" not in self.input_names
    self.text_pair = self.input_names == ["text_a", "text_b"]
    self._tokenizer = None
    if not self.takes_text:
      if tokenizer_dir is None:
        raise ValueError(
            f"{model_path} takes token ids: pass --tokenizer (the model's "
            "tokenizer folder), or export with --inputs text.")
      from transformers import AutoTokenizer  # pylint: disable=g-import-not-at-top
      self._tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
      details = self._runner.get_input_details()["input_ids"]
      self.max_seq_length = int(details["shape_signature"][-1])
      # Pair-ness of token-id models is decided by the caller's input.
      self.text_pair = None

  def predict(self, texts):
    """Predictions for a batch of texts (or `(text_a, text_b)` pairs).

    Returns:
      A list of dicts: `label` and `probabilities` (classifiers) or `score`
      (regression), and `logits`.
    """
    pairs = bool(texts) and isinstance(texts[0], (tuple, list))
    if self.takes_text:
      if self.text_pair and not pairs:
        raise ValueError("This model takes sentence pairs (text_a, text_b).")
      if pairs and not self.text_pair:
        raise ValueError("This model takes single sentences, not pairs.")
      if pairs:
        inputs = {"text_a": np.array([a for a, _ in texts], dtype=object),
                  "text_b": np.array([b for _, b in texts], dtype=object)}
      else:
        inputs = {"text": np.array(texts, dtype=object)}
    else:
      encoded = self._tokenizer(
          [t[0] for t in texts] if pairs else list(texts),
          [t[1] for t in texts] if pairs else None,
          truncation=True, max_length=self.max_seq_length,
          padding="max_length", return_tensors="np")
      # The model's own inputs: RoBERTa, XLM-R and DistilBERT models take
      # no token_type_ids (and their tokenizers make none).
      inputs = {name: (encoded[name] if name in encoded else
                       np.zeros_like(encoded["input_ids"])).astype(np.int32)
                for name in self.input_names}
    outputs = self._runner(**inputs)
    rows = []
    for i in range(len(texts)):
      row = {name: value[i].tolist() for name, value in outputs.items()}
      rows.append(row)
    return rows


def read_inputs(path, text_pair):
  """Texts (or pairs) from a text/TSV or JSON-lines file ('-' = stdin)."""
  stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
  items = []
  with stream:
    for number, line in enumerate(stream, 1):
      line = line.rstrip("\n")
      if not line.strip():
        continue
      if line.lstrip().startswith("{"):
        record = json.loads(line)
        item = ((record["text_a"], record["text_b"]) if "text_a" in record
                else record["text"])
      elif text_pair:
        parts = line.split("\t")
        if len(parts) != 2:
          raise ValueError(
              f"{path}:{number}: a sentence-pair model needs text_a<TAB>text_b")
        item = tuple(parts)
      else:
        item = line
      items.append(item)
  return items


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("model", help="the .tflite file")
  parser.add_argument("input", help="text file (one per line; TAB for pairs), "
                      "JSON lines, or '-' for stdin")
  parser.add_argument("--output", default="-", help="JSON lines; '-' = stdout")
  # --tokenizer-dir: the old name, still accepted (as `theseus-tf export`).
  parser.add_argument("--tokenizer", "--tokenizer-dir", dest="tokenizer_dir",
                      default=None, metavar="FOLDER",
                      help="tokenizer folder, for token-id models (as "
                      "'theseus-tf export --tokenizer')")
  parser.add_argument("--labels", default=None,
                      help="comma-separated label names, by label id")
  parser.add_argument("--text-pair", action="store_true",
                      help="token-id models: the input lines are pairs")
  parser.add_argument("--batch-size", type=int, default=32)
  parser.add_argument("--num-threads", type=int, default=None)
  args = parser.parse_args(argv)

  try:
    classifier = TFLiteClassifier(args.model, args.tokenizer_dir,
                                  args.num_threads)
    text_pair = classifier.text_pair if classifier.takes_text else args.text_pair
    items = read_inputs(args.input, text_pair)
  except (ValueError, OSError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  labels = args.labels.split(",") if args.labels else None
  out = (contextlib.nullcontext(sys.stdout) if args.output == "-" else
         open(args.output, "w", encoding="utf-8"))
  with out as out:
    for start in range(0, len(items), args.batch_size):
      batch = items[start:start + args.batch_size]
      for item, prediction in zip(batch, classifier.predict(batch)):
        record = {"text_a": item[0], "text_b": item[1]} if isinstance(
            item, tuple) else {"text": item}
        if labels and isinstance(prediction.get("label"), int):
          prediction["label_name"] = labels[prediction["label"]]
        record.update(prediction)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
