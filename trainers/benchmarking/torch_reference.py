"""The same training steps in PyTorch, as the reference to beat.

Hugging Face `transformers` on PyTorch (CPU or GPU), with the work of
`trainers.benchmarking.training`: the predecessor's
`BertForSequenceClassification`, AdamW, gradient clipping at 1.0 and
cross-entropy on the same random batch, for

- `fine-tuning`: every weight trainable;
- `fine-tuning plain <depth>-layer`: the predecessor's bottom `depth` layers
  alone, every weight trainable;
- `theseus p=<p>`: BERT-of-Theseus as its authors' code runs it (predecessor,
  embeddings, pooler and head frozen; successors copied from the bottom
  layers; one Bernoulli draw per module per step; only the drawn block runs;
  autograd back-propagates only where a trainable tensor lies below).

It runs in its own process, `python -m trainers.benchmarking.torch_reference
REQUEST` (a JSON object), so that the two frameworks never share threads;
`measure_torch_training` starts it and returns its rows, or None when
`torch` is not installed.
"""

import copy
import json
import os
import statistics
import subprocess
import sys
import time

from trainers.benchmarking.formats import torch_available
from trainers.benchmarking.training import FINETUNE, PACKAGE_PARENT
from trainers.benchmarking.training import MeasurementError
from trainers.benchmarking.training import plain_finetune_name


def measure_torch_training(spec, depth, rates, batch_size, seq_length, steps,
                           warmup):
  """Times the PyTorch reference's steps in a subprocess; None without torch.

  Args:
    spec: The predecessor's `PredecessorSpec` (a Hugging Face folder, or the
      config of a random initialisation).
    depth, rates, batch_size, seq_length, steps, warmup: As for
      `trainers.benchmarking.training.measure_training`.

  Returns:
    One row per configuration (`name`, `step_ms`, `threads`,
    `trainable_parameters`), in the order of `measure_training`'s rows.
  """
  if not torch_available():
    return None
  request = json.dumps({
      "folder": spec.folder, "config": spec.config,
      "num_labels": spec.num_labels, "depth": depth, "rates": list(rates),
      "batch_size": batch_size, "seq_length": seq_length, "steps": steps,
      "warmup": warmup})
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      [str(PACKAGE_PARENT)] + [p for p in [env.get("PYTHONPATH")] if p])
  done = subprocess.run(
      [sys.executable, "-m", "trainers.benchmarking.torch_reference", request],
      env=env, capture_output=True, text=True, check=False)
  rows = [json.loads(line) for line in done.stdout.splitlines()
          if line.startswith("{")]
  if done.returncode or not rows:
    tail = " | ".join(done.stderr.strip().splitlines()[-5:])
    raise MeasurementError(
        f"the PyTorch reference failed (exit {done.returncode}): {tail}")
  return rows


def _load_classifier(request):
  from transformers import BertConfig, BertForSequenceClassification  # pylint: disable=import-outside-toplevel
  if request["folder"]:
    return BertForSequenceClassification.from_pretrained(
        request["folder"], num_labels=request["num_labels"],
        attn_implementation="sdpa")
  config = BertConfig(**request["config"])
  config.num_labels = request["num_labels"]
  config._attn_implementation = "sdpa"  # pylint: disable=protected-access
  return BertForSequenceClassification(config)


def _theseus_model(classifier, depth, rate):
  """The reference Theseus forward pass: a loss function of the batch."""
  import torch  # pylint: disable=import-outside-toplevel

  class Theseus(torch.nn.Module):

    def __init__(self):
      super().__init__()
      layers = classifier.bert.encoder.layer
      size = len(layers) // depth
      self.groups = [list(range(i * size, (i + 1) * size))
                     for i in range(depth)]
      self.predecessor = layers
      self.successors = torch.nn.ModuleList(
          [copy.deepcopy(layers[i]) for i in range(depth)])
      for parameter in classifier.parameters():
        parameter.requires_grad = False
      for parameter in self.successors.parameters():
        parameter.requires_grad = True
      self.classifier = classifier

    def forward(self, ids, mask, token_types, labels):
      bert = self.classifier.bert
      hidden = bert.embeddings(input_ids=ids, token_type_ids=token_types)
      bias = ((1.0 - mask[:, None, None, :].float()) *
              torch.finfo(torch.float32).min)
      for group, successor in zip(self.groups, self.successors):
        blocks = ([successor] if torch.rand(()) < rate else
                  [self.predecessor[i] for i in group])
        for block in blocks:
          out = block(hidden, attention_mask=bias)
          hidden = out[0] if isinstance(out, tuple) else out
      logits = self.classifier.classifier(
          self.classifier.dropout(bert.pooler(hidden)))
      return torch.nn.functional.cross_entropy(logits, labels)

  return Theseus()


def _time(name, module, loss_fn, steps, warmup):
  import torch  # pylint: disable=import-outside-toplevel
  parameters = [p for p in module.parameters() if p.requires_grad]
  optimizer = torch.optim.AdamW(parameters, lr=2e-5)
  module.train()
  times = []
  for step in range(warmup + steps):
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn()
    if loss.requires_grad:  # At p = 0 nothing trains: no backward pass.
      loss.backward()
      torch.nn.utils.clip_grad_norm_(parameters, 1.0)
      optimizer.step()
    if step >= warmup:
      times.append(time.perf_counter() - start)
  return {"name": name, "step_ms": 1000.0 * statistics.median(times),
          "step_ms_all": [1000.0 * t for t in times],
          "threads": torch.get_num_threads(),
          "trainable_parameters": sum(p.numel() for p in parameters)}


def main(argv=None):
  """The subprocess: prints one JSON row per configuration."""
  import torch  # pylint: disable=import-outside-toplevel
  request = json.loads((sys.argv[1:] if argv is None else argv)[0])
  torch.manual_seed(0)
  batch, length = request["batch_size"], request["seq_length"]
  steps, warmup = request["steps"], max(1, request["warmup"])
  classifier = _load_classifier(request)
  vocabulary = classifier.config.vocab_size
  ids = torch.randint(min(1000, vocabulary // 2), vocabulary, (batch, length))
  mask = torch.ones(batch, length, dtype=torch.long)
  token_types = torch.zeros(batch, length, dtype=torch.long)
  labels = torch.randint(0, request["num_labels"], (batch,))

  def classifier_loss(model):
    return lambda: model(input_ids=ids, attention_mask=mask,
                         token_type_ids=token_types, labels=labels).loss

  rows = [_time(FINETUNE, classifier, classifier_loss(classifier), steps,
                warmup)]
  plain = _load_classifier(request)
  del plain.bert.encoder.layer[request["depth"]:]
  rows.append(_time(plain_finetune_name(request["depth"]), plain,
                    classifier_loss(plain), steps, warmup))
  for rate in request["rates"]:
    theseus = _theseus_model(_load_classifier(request), request["depth"], rate)
    rows.append(_time(f"theseus p={rate:g}", theseus,
                      lambda model=theseus: model(ids, mask, token_types,
                                                  labels), steps, warmup))
  for row in rows:
    print(json.dumps(row), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
