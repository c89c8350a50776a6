"""Cost of a BERT-of-Theseus training step against fine-tuning the predecessor.

Times `train_on_batch` on a stack of BERT transformer layers (MiniLM width by
default) wrapped 2:1 into ModuleReplacing modules, at p = 0, 0.5 and 1, and
the same stack fine-tuned whole. Prints medians and the ratio to fine-tuning.

  python -m benchmarks.theseus_train_step                 # 12 -> 6, CPU-sized
  python -m benchmarks.theseus_train_step --hidden 768 --heads 12 \
      --intermediate 3072 --batch 32                      # BERT-base on a GPU
"""

import argparse
import json
import platform

import numpy as np
import tensorflow as tf

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import IS_KERAS_3, keras
from theseus_tf.models import BertTransformerLayer
from trainers.timing import time_calls


def build_stack(args, rate=None):
  """The predecessor stack (+ a head); wrapped 2:1 when `rate` is given."""
  keras.utils.set_random_seed(0)
  hidden = keras.Input((args.seq_len, args.hidden), name="hidden")
  mask = keras.Input((args.seq_len,), dtype="int32", name="mask")
  layers = [
      BertTransformerLayer(args.hidden, args.heads, args.intermediate,
                           name=f"layer_{i}") for i in range(args.layers)
  ]
  x = hidden
  for layer in layers:
    x = layer(x, attention_mask=mask)
  if rate is not None:
    modules = theseus_tf.replace_modules(
        layers, num_modules=args.layers // 2,
        schedule=schedules.LinearReplacement(rate, 0.0))
    x = hidden
    for module in modules:
      x = module(x, attention_mask=mask)
  outputs = keras.layers.Dense(2, name="head")(x[:, 0, :])
  model = keras.Model([hidden, mask], outputs)
  model.compile(keras.optimizers.Adam(1e-5),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=args.jit)
  return model


def time_steps(model, args):
  rng = np.random.default_rng(0)
  x = [rng.normal(size=(args.batch, args.seq_len, args.hidden)).astype("float32"),
       np.ones((args.batch, args.seq_len), "int32")]
  y = rng.integers(0, 2, size=(args.batch,))
  times = time_calls(lambda: model.train_on_batch(x, y), args.steps,
                     args.warmup)
  return float(np.median(times))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--layers", type=int, default=12)
  parser.add_argument("--hidden", type=int, default=384)
  parser.add_argument("--heads", type=int, default=12)
  parser.add_argument("--intermediate", type=int, default=1536)
  parser.add_argument("--seq-len", type=int, default=128)
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--steps", type=int, default=15)
  parser.add_argument("--jit", action="store_true", help="XLA-compile steps.")
  parser.add_argument("--json", help="Also write the results to this file.")
  args = parser.parse_args()

  results = {"finetune": time_steps(build_stack(args), args)}
  for rate in (0.0, 0.5, 1.0):
    results[f"theseus_p={rate}"] = time_steps(build_stack(args, rate), args)

  print(f"{args.layers}-layer stack -> {args.layers // 2} modules, hidden "
        f"{args.hidden}, batch {args.batch} x seq {args.seq_len}, "
        f"{'Keras 3' if IS_KERAS_3 else 'tf-keras'}, TF {tf.__version__}, {platform.processor() or platform.machine()}")
  print(f"{'variant':<18}{'median step (ms)':>18}{'vs fine-tuning':>16}")
  for name, seconds in results.items():
    print(f"{name:<18}{seconds * 1e3:>18.1f}{seconds / results['finetune']:>15.2f}x")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"args": vars(args), "median_step_seconds": results}, f, indent=2)


if __name__ == "__main__":
  main()
