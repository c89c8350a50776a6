"""Size and batch-1 CPU latency of exported models, and quantized accuracy.

Exports the 6-layer MiniLM predecessor, its 3-layer successor (a stripped
`build_theseus_classifier(minilm, num_modules=3)`) and a plain 3-layer
`BertClassifier` of the same width as Keras weights, SavedModel and TFLite
(float32, float16, dynamic range, int8), and times one example of
`--seq-len` tokens. Prints a table and the checks:

- the exported successor matches the plain 3-layer model in size and latency
  (within 3%: stripping leaves nothing of the predecessor);
- dynamic-range TFLite is at most 0.3x the float32 file and faster.

With `--trained-model-dir`, also measures SST-2 dev accuracy of the float32
and quantized TFLite models of a fine-tuned checkpoint (the quantized ones
should be within 1 point of float32).

  python -m benchmarks.export_benchmark
  python -m benchmarks.export_benchmark --trained-model-dir runs/sst2-minilm-l3
"""

import argparse
import os
import pathlib
import platform
import shutil
import statistics
import tempfile

import numpy as np
import tensorflow as tf

from theseus_tf.data import FEATURE_NAMES
from theseus_tf.export import QUANTIZATIONS
from trainers import locations
from trainers.atomic_io import atomic_write_json
from trainers.benchmarking.inference import folder_bytes, tflite_runner
from trainers.benchmarking.models import build_plain_twin
from trainers.timing import time_interleaved

REPO = pathlib.Path(__file__).resolve().parents[1]
GLUE_DIR = (REPO / locations.GLUE_DIR).resolve()


def minilm_dir():
  return locations.default_model_dir("the MiniLM predecessor")


def build_models():
  """The predecessor, its stripped 3-layer successor, a plain 3-layer model.

  The plain model is a fresh `BertClassifier(num_layers=3)` holding the
  successor's weights: what the successor should be, minus any trace of the
  Theseus wrapping.
  """
  import theseus_tf  # pylint: disable=g-import-not-at-top
  from theseus_tf.utils.transformers import from_pretrained  # pylint: disable=g-import-not-at-top
  from theseus_tf.models.theseus_classifier import build_theseus_classifier  # pylint: disable=g-import-not-at-top
  predecessor = from_pretrained(str(minilm_dir()), num_labels=2)
  successor = theseus_tf.strip_successor(
      build_theseus_classifier(predecessor, num_modules=3))
  return {"predecessor-6L": predecessor, "successor-3L": successor,
          "plain-3L": build_plain_twin(successor)}


def example_features(seq_len, batch=1):
  ids = np.full((batch, seq_len), 1000, np.int32)
  ids[:, 0], ids[:, -1] = 101, 102
  return {"input_ids": ids, "attention_mask": np.ones_like(ids),
          "token_type_ids": np.zeros_like(ids)}


def interleaved_ms(fns, rounds, per_round=5, warmup=3):
  """Median ms per call of each function, timed in interleaved rounds.

  `rounds * per_round` rounds each time one call of every function, in a
  new random order, so that changes in background load hit all of them
  alike (this machine is shared); the result is the median over all calls.
  """
  times = time_interleaved(fns, rounds * per_round, warmup)
  return {key: 1000 * statistics.median(t) for key, t in times.items()}


def export_model(name, model, workdir, args, calibration):
  """Exports one model; returns `{(model, format): (bytes, callable)}`."""
  import tensorflow_text  # pylint: disable=g-import-not-at-top,unused-import
  from theseus_tf.export import export_saved_model, export_tflite  # pylint: disable=g-import-not-at-top
  features = example_features(args.seq_len)
  tensors = {k: tf.constant(v) for k, v in features.items()}
  entries = {}

  weights = workdir / f"{name}.weights.h5"
  model.save_weights(str(weights))
  call = tf.function(lambda f: model(f, training=False))
  entries[(name, "keras")] = (folder_bytes(weights),
                              lambda: call(tensors).numpy())

  path = export_saved_model(model, minilm_dir(), workdir / "serving", name,
                            max_seq_length=args.seq_len, allow_untrained=True)
  loaded = tf.saved_model.load(str(path))
  predict = loaded.signatures["predict_ids"]
  entries[(name, "saved_model ids")] = (
      folder_bytes(path), lambda: predict(**tensors)["logits"].numpy())
  text = loaded.signatures["serving_default"]
  # A sentence that tokenizes to exactly seq_len tokens.
  sentence = tf.constant([" ".join(["word"] * (args.seq_len - 2))])
  entries[(name, "saved_model text")] = (
      folder_bytes(path), lambda: text(text=sentence)["logits"].numpy())

  for quantize in QUANTIZATIONS:
    tflite = export_tflite(
        model, workdir / f"{name}.{quantize}.tflite", quantize=quantize,
        tokenizer=minilm_dir(), max_seq_length=args.seq_len,
        representative_texts=calibration, allow_untrained=True)
    run = tflite_runner(tflite, args.threads)
    entries[(name, f"tflite {quantize}")] = (
        folder_bytes(tflite), lambda run=run: run(**features))
  print(f"  exported {name}", flush=True)
  return entries


def quantized_accuracies(model_dir, glue_dir=GLUE_DIR, seq_len=128,
                         num_calibration=200, inputs="ids", threads=None,
                         quantizations=QUANTIZATIONS, workdir=None):
  """SST-2 dev accuracy of a fine-tuned checkpoint's TFLite models.

  Args:
    model_dir: a fine-tuned SST-2 Hugging Face folder (with its tokenizer).
    glue_dir: the local GLUE folder.
    seq_len: int. Model sequence length.
    num_calibration: int. int8 calibration sentences from SST-2 train.
    inputs: "ids" or "text" TFLite models.
    threads: interpreter threads.
    quantizations: which TFLite models.
    workdir: where to write the files (a temporary folder by default).

  Returns:
    `{quantization: (accuracy, file bytes)}`, plus `"keras": (accuracy, 0)`.
  """
  from theseus_tf.data import load_examples  # pylint: disable=g-import-not-at-top
  from theseus_tf.export import export_tflite, representative_texts_from_task  # pylint: disable=g-import-not-at-top
  from theseus_tf.utils.transformers import from_pretrained, load_tokenizer  # pylint: disable=g-import-not-at-top
  model = from_pretrained(str(model_dir))
  dev = load_examples("sst2", "dev", str(glue_dir))
  labels = np.array([e.label for e in dev])
  texts = [e.text_a for e in dev]
  encoded = load_tokenizer(str(model_dir))(
      texts, truncation=True, max_length=seq_len, padding="max_length",
      return_tensors="np")
  features = {k: encoded[k].astype(np.int32) for k in FEATURE_NAMES}
  logits = model.predict(features, batch_size=64, verbose=0)
  results = {"keras": (float((logits.argmax(-1) == labels).mean()), 0)}
  calibration = representative_texts_from_task(
      "sst2", str(glue_dir), num_examples=num_calibration)
  own_workdir = workdir is None
  workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="theseus-acc-"))
  try:
    for quantize in quantizations:
      path = export_tflite(
          model, workdir / f"sst2.{inputs}.{quantize}.tflite",
          quantize=quantize, inputs=inputs, tokenizer=str(model_dir),
          max_seq_length=seq_len, representative_texts=calibration,
          overwrite=True)
      run = tflite_runner(path, threads)
      predictions = []
      for start in range(0, len(texts), 32):
        if inputs == "text":
          batch = {"text": np.array(texts[start:start + 32], dtype=object)}
        else:
          batch = {k: v[start:start + 32] for k, v in features.items()}
        predictions.append(run(**batch)["label"])
      accuracy = float((np.concatenate(predictions) == labels).mean())
      results[quantize] = (accuracy, path.stat().st_size)
  finally:
    if own_workdir:
      shutil.rmtree(workdir, ignore_errors=True)
  return results


def print_table(rows):
  print(f"\n{'model':<16} {'format':<18} {'size MiB':>9} {'batch-1 ms':>11}")
  for name, fmt, size, ms in rows:
    print(f"{name:<16} {fmt:<18} {size / 2**20:>9.2f} {ms:>11.2f}")


def print_checks(rows):
  table = {(name, fmt): (size, ms) for name, fmt, size, ms in rows}
  formats = sorted({fmt for _, fmt, _, _ in rows}, key=[r[1] for r in rows].index)
  print("\nsuccessor-3L vs plain-3L (goal: within 3%)")
  for fmt in formats:
    (s_size, s_ms), (p_size, p_ms) = (table[("successor-3L", fmt)],
                                      table[("plain-3L", fmt)])
    print(f"  {fmt:<18} size {s_size / p_size - 1:+7.2%}   "
          f"latency {s_ms / p_ms - 1:+7.2%}")
  print("\ndynamic-range vs float32 TFLite (goal: size <= 0.30x, faster)")
  for name in ("predecessor-6L", "successor-3L"):
    (d_size, d_ms), (f_size, f_ms) = (table[(name, "tflite dynamic")],
                                      table[(name, "tflite none")])
    print(f"  {name:<16} size {d_size / f_size:.3f}x   latency "
          f"{d_ms / f_ms:.3f}x ({d_ms:.2f} vs {f_ms:.2f} ms)")
  print("\nsuccessor-3L vs predecessor-6L")
  for fmt in formats:
    (s_size, s_ms), (p_size, p_ms) = (table[("successor-3L", fmt)],
                                      table[("predecessor-6L", fmt)])
    print(f"  {fmt:<18} size {s_size / p_size:.3f}x   latency "
          f"{s_ms / p_ms:.3f}x")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--seq-len", type=int, default=128)
  parser.add_argument("--rounds", type=int, default=30,
                      help="interleaved timing rounds (5 calls each)")
  parser.add_argument("--threads", type=int, default=1,
                      help="TFLite interpreter threads")
  parser.add_argument("--num-calibration", type=int, default=100,
                      help="int8 calibration sentences (SST-2 train)")
  parser.add_argument("--glue-dir", default=str(GLUE_DIR))
  parser.add_argument("--trained-model-dir", default=None,
                      help="also measure quantized SST-2 dev accuracy")
  parser.add_argument("--accuracy-only", action="store_true")
  parser.add_argument("--json", default=None, help="also write results here")
  args = parser.parse_args()

  print(f"TensorFlow {tf.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, TFLite threads {args.threads}, seq {args.seq_len}")
  results = {}
  if not args.accuracy_only:
    from theseus_tf.export import representative_texts_from_task  # pylint: disable=g-import-not-at-top
    calibration = representative_texts_from_task(
        "sst2", args.glue_dir, num_examples=args.num_calibration)
    entries = {}
    with tempfile.TemporaryDirectory(prefix="theseus-bench-") as workdir:
      for name, model in build_models().items():
        entries.update(export_model(name, model, pathlib.Path(workdir), args,
                                    calibration))
      latencies = interleaved_ms({k: fn for k, (_, fn) in entries.items()},
                                 rounds=args.rounds)
    rows = [(name, fmt, size, latencies[(name, fmt)])
            for (name, fmt), (size, _) in entries.items()]
    print_table(rows)
    print_checks(rows)
    results["rows"] = rows
  if args.trained_model_dir:
    accuracies = quantized_accuracies(args.trained_model_dir, args.glue_dir,
                                      seq_len=args.seq_len,
                                      threads=args.threads)
    print(f"\nSST-2 dev accuracy of {args.trained_model_dir} (872 sentences)")
    float_accuracy = accuracies["none"][0]
    for name, (accuracy, size) in accuracies.items():
      print(f"  {name:<8} {100 * accuracy:6.2f}%  ({100 * (accuracy - float_accuracy):+.2f} "
            f"vs TFLite float32)  {size / 2**20:7.2f} MiB")
    results["accuracy"] = accuracies
  if args.json:
    atomic_write_json(args.json, results)


if __name__ == "__main__":
  main()
