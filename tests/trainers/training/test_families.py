"""theseus-tf end to end for each encoder family beyond BERT, on real GLUE rows.

finetune -> compress --method theseus -> evaluate -> export (TFLite token
ids; a raw-text SavedModel, tokenizing in the graph), a couple of steps each, from the tiny fixtures of
`../shared/fixtures/families`: `--model` dispatches on `model_type`, and the
checkpoint's own tokenizer decides the features (no token types for RoBERTa,
XLM-R, DistilBERT).
"""

import json

import numpy as np
import pytest

from tests.trainers.cli_helpers import read_json

pytestmark = pytest.mark.slow

FAMILIES = ("roberta", "xlm-roberta", "electra", "distilbert")
DEPTH_KEYS = {"distilbert": "n_layers"}


@pytest.mark.parametrize("family", FAMILIES)
def test_finetune_compress_evaluate_export(run_cli, fixtures_dir, glue_dir,
                                           tmp_path, family):
  from ai_edge_litert import interpreter
  model_dir = fixtures_dir / "families" / f"tiny-{family}-classifier"
  if not model_dir.is_dir():
    pytest.skip(f"{model_dir} not found")
  data = ["--task", "sst2", "--data-dir", glue_dir, "--max-train-examples",
          "16", "--max-eval-examples", "8", "--max-seq-length", "32",
          "--batch-size", "8", "--logging-steps", "1", "--no-progress-bar",
          "--learning-rate", "1e-3"]
  finetuned = tmp_path / "finetuned"
  result = run_cli("finetune", "--model", model_dir, "--reinit-head",
                   "--output-dir", finetuned, "--max-steps", "2",
                   "--eval-steps", "2", "--save-steps", "2", *data)
  assert result.returncode == 0, result.stderr
  config = read_json(finetuned / "final_model/config.json")
  assert config["model_type"] == family

  compressed = tmp_path / "compressed"
  result = run_cli("compress", "--model", finetuned / "best_model",
                   "--method", "theseus", "--num-layers", "2",
                   "--output-dir", compressed, "--replacing-steps", "1",
                   "--max-steps", "2", "--eval-steps", "2", "--save-steps",
                   "2", *data)
  assert result.returncode == 0, result.stderr
  final = compressed / "final_model"
  config = read_json(final / "config.json")
  assert config["model_type"] == family
  assert config[DEPTH_KEYS.get(family, "num_hidden_layers")] == 2
  metrics = read_json(compressed / "metrics.json")

  result = run_cli("evaluate", "--model", final, "--task", "sst2",
                   "--data-dir", glue_dir, "--max-eval-examples", "8",
                   "--max-seq-length", "32")
  assert result.returncode == 0, result.stderr
  np.testing.assert_allclose(
      json.loads(result.stdout)["metrics"]["accuracy"],
      metrics["final"]["metrics"]["accuracy"])

  result = run_cli("export", "--model", final, "--format", "tflite",
                   "--output-dir", tmp_path / "tflite", "--max-seq-length",
                   "32")
  assert result.returncode == 0, result.stderr
  path = result.stdout.strip().splitlines()[-1]
  runner = interpreter.Interpreter(model_path=path).get_signature_runner(
      "serving_default")
  expected = {"input_ids", "attention_mask"} | (
      {"token_type_ids"} if family == "electra" else set())
  assert set(runner.get_input_details()) == expected

  # The served model tokenizes raw text in the graph as the checkpoint's own
  # tokenizer does, and computes the Keras model's logits.
  import tensorflow as tf
  import tensorflow_text  # noqa: F401  (the tokenizer ops)
  from theseus_tf.utils.transformers import from_pretrained, load_tokenizer
  result = run_cli("export", "--model", final, "--format", "saved_model",
                   "--output-dir", tmp_path / "serving", "--max-seq-length",
                   "32")
  assert result.returncode == 0, result.stderr
  served = tf.saved_model.load(result.stdout.strip().splitlines()[-1])
  texts = ["the movie was a charming and often affecting journey .",
           "Héllo, naïve café! 東京 🙂", ""]
  encoded = load_tokenizer(str(final))(
      texts, truncation=True, max_length=32, padding=True, return_tensors="np")
  model = from_pretrained(str(final))
  want = model({name: encoded[name] for name in model.feature_names})
  got = served.signatures["serving_default"](text=tf.constant(texts))
  np.testing.assert_allclose(got["logits"], want, atol=1e-4)

  # predict labels a file with the model's own inputs.
  rows = tmp_path / "rows.jsonl"
  rows.write_text("".join(json.dumps({"sentence": text}) + "\n"
                          for text in texts[:2]), "utf-8")
  result = run_cli("predict", "--model", final, "--input-file", rows,
                   "--text-columns", "sentence", "--output-file",
                   tmp_path / "predictions.jsonl", "--max-seq-length", "32",
                   "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  predicted = [json.loads(line) for line in
               (tmp_path / "predictions.jsonl").read_text("utf-8").splitlines()]
  labels = [model.id2label[i] for i in np.argmax(want[:2], axis=-1)]
  assert [row["predicted_label"] for row in predicted] == labels


@pytest.mark.parametrize("family,method", [("distilbert", "distill"),
                                           ("xlm-roberta", "finetune")])
def test_baselines(run_cli, fixtures_dir, glue_dir, tmp_path, family, method):
  from safetensors.numpy import load_file
  model_dir = fixtures_dir / "families" / f"tiny-{family}-classifier"
  if not model_dir.is_dir():
    pytest.skip(f"{model_dir} not found")
  run = tmp_path / "run"
  result = run_cli(
      "compress", "--model", model_dir, "--output-dir", run, "--method",
      method, "--num-layers", "2", "--init", "1,3", "--replacing-steps", "1",
      "--successor-steps", "1", "--eval-steps", "2", "--task", "sst2",
      "--data-dir", glue_dir, "--max-train-examples", "16",
      "--max-eval-examples", "8", "--max-seq-length", "32", "--batch-size",
      "8", "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  config = read_json(run / "final_model/config.json")
  assert config[DEPTH_KEYS.get(family, "num_hidden_layers")] == 2
  weights = load_file(str(run / "final_model/model.safetensors"))
  source = load_file(str(model_dir / "model.safetensors"))
  # The family's layout, head included; --init 1,3: layer 1 of the student
  # starts from the predecessor's layer 3.
  assert set(weights) == {n for n in source if ".layer.2." not in n and
                          ".layer.3." not in n}
