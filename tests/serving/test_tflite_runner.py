"""The reference TFLite runner: file in, JSON-line predictions out."""

import json

import numpy as np
import pytest

from serving import tflite_runner


@pytest.fixture(scope="module")
def tiny(fixtures_dir):
  from theseus_tf.utils.transformers import from_pretrained
  folder = fixtures_dir / "tiny-bert-classifier"
  model = from_pretrained(str(folder))
  model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  return model, folder


@pytest.fixture(scope="module")
def text_model(tmp_path_factory, tiny):
  from theseus_tf.export import export_tflite
  model, folder = tiny
  path = tmp_path_factory.mktemp("runner") / "tiny.text.none.tflite"
  export_tflite(model, path, inputs="text", tokenizer=folder, max_seq_length=32)
  return path


def test_text_model_file_in_predictions_out(tmp_path, tiny, text_model):
  model, folder = tiny
  texts = ["a gripping thriller", "", "dull " * 200]
  source = tmp_path / "in.txt"
  source.write_text("\n".join(texts) + "\n", encoding="utf-8")
  target = tmp_path / "out.jsonl"
  code = tflite_runner.main([str(text_model), str(source), "--output",
                             str(target), "--labels", "neg,neu,pos",
                             "--batch-size", "2"])
  assert code == 0
  rows = [json.loads(line) for line in target.read_text().splitlines()]
  # The empty line is skipped, as blank lines are.
  assert [r["text"] for r in rows] == [texts[0], texts[2]]
  from theseus_tf.utils.transformers import load_tokenizer
  encoded = load_tokenizer(str(folder))([texts[0], texts[2]], truncation=True,
                                        max_length=32, padding="max_length",
                                        return_tensors="np")
  want = model({k: encoded[k].astype(np.int32) for k in
                ("input_ids", "attention_mask", "token_type_ids")},
               training=False).numpy()
  np.testing.assert_allclose([r["logits"] for r in rows], want, atol=1e-4)
  assert [r["label_name"] for r in rows] == [
      ["neg", "neu", "pos"][i] for i in want.argmax(-1)]


def test_token_id_model_needs_the_tokenizer(tmp_path, tiny, capsys):
  from theseus_tf.export import export_tflite
  model, folder = tiny
  path = export_tflite(model, tmp_path / "ids.tflite", max_seq_length=32)
  source = tmp_path / "pairs.jsonl"
  source.write_text(json.dumps({"text_a": "a", "text_b": "b"}) + "\n")
  assert tflite_runner.main([str(path), str(source)]) == 2
  assert "pass --tokenizer (" in capsys.readouterr().err
  for flag in ("--tokenizer", "--tokenizer-dir"):  # The old name still works.
    output = tmp_path / f"{flag}.jsonl"
    assert tflite_runner.main([str(path), str(source), flag, str(folder),
                               "--text-pair", "--output", str(output)]) == 0
    assert len(output.read_text().splitlines()) == 1
  classifier = tflite_runner.TFLiteClassifier(path, tokenizer_dir=folder)
  assert classifier.max_seq_length == 32 and not classifier.takes_text
  (row,) = classifier.predict([("a", "b")])
  assert set(row) == {"logits", "probabilities", "label"}


def test_pair_lines_need_a_tab(tmp_path):
  source = tmp_path / "bad.tsv"
  source.write_text("no tab here\n")
  with pytest.raises(ValueError, match="text_a<TAB>text_b"):
    tflite_runner.read_inputs(str(source), text_pair=True)


def test_token_id_model_without_token_types(tmp_path, fixtures_dir):
  # RoBERTa: the runner feeds the model's own inputs, from its tokenizer.
  from theseus_tf.export import export_tflite
  from theseus_tf.utils.transformers import from_pretrained, load_tokenizer
  folder = fixtures_dir / "families" / "tiny-roberta-classifier"
  if not folder.is_dir():
    pytest.skip(f"{folder} not found")
  model = from_pretrained(str(folder))
  path = export_tflite(model, tmp_path / "roberta.tflite", max_seq_length=32,
                       allow_untrained=True)
  classifier = tflite_runner.TFLiteClassifier(path, tokenizer_dir=folder)
  rows = classifier.predict(["a gripping thriller", "dull"])
  encoded = load_tokenizer(str(folder))(
      ["a gripping thriller", "dull"], truncation=True, max_length=32,
      padding="max_length", return_tensors="np")
  want = model({k: encoded[k].astype(np.int32) for k in
                ("input_ids", "attention_mask")}).numpy()
  np.testing.assert_allclose([r["logits"] for r in rows], want, atol=1e-4)
