"""Own data at scale: rows/s and peak memory of tokenising and of predict.

Generates CSVs of N rows (default 100k and 1M) from the real GLUE sentences
(SST-2, CoLA, MRPC and RTE train sentences, cycled, each row numbered so no
two rows are equal) into a temporary folder, and measures, each in a fresh
process so that its peak RSS is its own:

- `tokenize`: `make_file_task` (the full validation pass over the file),
  streaming tokenisation into the token cache (`encode_file_split`, a cache
  miss), and building the endless training pipeline and taking 10 batches;
- `cached`: the same run again, now loading the token cache;
- `predict`: `theseus-tf predict` over the whole file (JSON Lines out) with
  the tiny fixture classifier, batch 256, length 64.

It prints one row per (phase, N): seconds, rows/s, peak RSS, and the token
cache's size, which is what memory may grow by with the file.

  nice -n 10 python -m benchmarks.own_data_scale --rows 100000,1000000
  ... --predict-max-rows 100000    # predict on the 100k file only
"""

import argparse
import csv
import itertools
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
GLUE_DIR = REPO_ROOT.parent / "shared" / "data" / "glue"
TINY_MODEL = REPO_ROOT.parent / "shared" / "fixtures" / "tiny-bert-classifier"


def glue_sentences(glue_dir):
  """Every training sentence of the local GLUE tasks, with its task label."""
  # pylint: disable=import-outside-toplevel
  from theseus_tf.data import load_examples
  sentences = []
  for task in ("sst2", "cola", "mrpc", "rte"):
    for example in load_examples(task, "train", glue_dir):
      sentences.append((example.text_a, example.label))
  return sentences


def write_csv(path, rows, sentences):
  with open(path, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "text", "label"])
    for index, (text, label) in zip(range(rows), itertools.cycle(sentences)):
      writer.writerow([index, f"{text} ({index})",
                       "positive" if label else "negative"])


def _peak_rss_mib():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_tokenize(path, cache_dir, max_seq_length):
  """One process: validate, tokenise (or load the cache), build the input."""
  # pylint: disable=import-outside-toplevel
  from theseus_tf.data import make_file_task, train_dataset
  from theseus_tf.data.token_cache import encode_file_split
  from theseus_tf.utils.transformers import load_tokenizer
  tokenizer = load_tokenizer(TINY_MODEL)
  baseline = _peak_rss_mib()
  began = time.perf_counter()
  task = make_file_task(path)
  checked = time.perf_counter()
  encoded, hit = encode_file_split(task, "train", tokenizer, max_seq_length,
                                   cache_dir=cache_dir)
  encoded_at = time.perf_counter()
  data = train_dataset(encoded, 32, seed=0)
  for _ in data.dataset.take(10):
    pass
  done = time.perf_counter()
  return {"rows": len(encoded), "cache_hit": hit,
          "check_seconds": checked - began,
          "tokenize_seconds": encoded_at - checked,
          "seconds": done - began,
          "rows_per_second": len(encoded) / (done - began),
          "baseline_rss_mib": baseline, "peak_rss_mib": _peak_rss_mib()}


def _child(argv):
  done = subprocess.run(
      [sys.executable, "-m", "benchmarks.own_data_scale"] + argv,
      cwd=REPO_ROOT, capture_output=True, text=True, check=True,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  return json.loads(done.stdout.strip().splitlines()[-1])


def measure_predict(path, output):
  began = time.perf_counter()
  done = subprocess.run(
      [sys.executable, "-c",
       "import resource, sys; from trainers import cli; status = cli.main("
       "sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_SELF)"
       ".ru_maxrss / 1024); sys.exit(status)",
       "predict", "--model", str(TINY_MODEL), "--input-file", str(path),
       "--output-file", str(output), "--eval-batch-size", "256",
       "--max-seq-length", "64", "--no-progress-bar", "--overwrite"],
      cwd=REPO_ROOT, capture_output=True, text=True, check=True,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  seconds = time.perf_counter() - began
  rows = int(done.stdout.split("predict: ")[1].split()[0])
  return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
          "peak_rss_mib": float(done.stdout.strip().splitlines()[-1])}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--rows", default="100000,1000000")
  parser.add_argument("--max-seq-length", type=int, default=64)
  parser.add_argument("--predict-max-rows", type=int, default=None,
                      help="run predict only on files of at most this many "
                      "rows (default: all)")
  parser.add_argument("--work-dir", help="default: a temporary folder")
  parser.add_argument("--child-tokenize", nargs=2, metavar=("CSV", "CACHE"),
                      help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child_tokenize:
    print(json.dumps(measure_tokenize(*args.child_tokenize,
                                      args.max_seq_length)))
    return
  sentences = glue_sentences(GLUE_DIR)
  with tempfile.TemporaryDirectory() as temporary:
    work = pathlib.Path(args.work_dir or temporary)
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(sentences)} GLUE training sentences; work folder {work}",
          flush=True)
    print("| phase | rows | seconds | rows/s | peak RSS (MiB) | "
          "token cache (MiB) |\n|---|---|---|---|---|---|", flush=True)
    for rows in (int(n) for n in args.rows.split(",")):
      path = work / f"rows-{rows}.csv"
      write_csv(path, rows, sentences)
      cache = work / f"cache-{rows}"
      for phase in ("tokenize", "cached"):
        result = _child(["--child-tokenize", str(path), str(cache),
                         "--max-seq-length", str(args.max_seq_length)])
        size = sum(p.stat().st_size for p in cache.rglob("*.bin")) / 2**20
        work_name = "read cache" if result["cache_hit"] else "tokenize"
        print(f"| {phase} (check {result['check_seconds']:.1f} s, {work_name} "
              f"{result['tokenize_seconds']:.1f} s; RSS before "
              f"{result['baseline_rss_mib']:.0f} MiB) | {rows:,} | "
              f"{result['seconds']:.1f} | {result['rows_per_second']:,.0f} | "
              f"{result['peak_rss_mib']:.0f} | {size:.1f} |", flush=True)
      if args.predict_max_rows is None or rows <= args.predict_max_rows:
        result = measure_predict(path, work / f"pred-{rows}.jsonl")
        print(f"| predict | {rows:,} | {result['seconds']:.1f} | "
              f"{result['rows_per_second']:,.0f} | "
              f"{result['peak_rss_mib']:.0f} | - |", flush=True)
      path.unlink()


if __name__ == "__main__":
  main()
