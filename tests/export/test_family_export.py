"""Raw-text SavedModel and TFLite export with each family's in-graph tokenizer.

The classifiers of the new families come from their own port; here a
stand-in Keras model that takes `input_ids` and `attention_mask` (no token
types, as RoBERTa, XLM-R and DistilBERT) and returns the ids themselves as
its "logits", so that a served model's output is exactly the ids its
tokenizer produced.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from theseus_tf.backend import keras
from theseus_tf.export import export_saved_model
from theseus_tf.export import export_tflite
from theseus_tf.export import load_preprocessor
from tests.export.test_family_preprocessors import EXTRA_TEXTS
from tests.export.export_helpers import TEXTS

LENGTH = 32

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


def ids_echo_model(vocab_size):
  """Functional model `{input_ids, attention_mask}` -> float ids (0 at pads)."""
  input_ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
  mask = keras.Input(shape=(None,), dtype="int32", name="attention_mask")
  embedding = keras.layers.Embedding(
      vocab_size, 1, embeddings_initializer=keras.initializers.Constant(
          np.arange(vocab_size, dtype=np.float32)[:, None]))
  ids = keras.layers.Reshape((-1,))(embedding(input_ids))
  mask_float = keras.layers.Reshape((-1,))(
      keras.layers.Embedding(2, 1, embeddings_initializer=keras.initializers
                             .Constant([[0.0], [1.0]]))(mask))
  logits = keras.layers.Multiply()([ids, mask_float])
  return keras.Model({"input_ids": input_ids, "attention_mask": mask}, logits)


def _hf_ids(folder, text_a, text_b=None, pad_to=None):
  from theseus_tf.utils.transformers import load_tokenizer
  tokenizer = load_tokenizer(str(folder))
  encoded = tokenizer(list(text_a), None if text_b is None else list(text_b),
                      truncation=True, max_length=LENGTH,
                      padding="max_length" if pad_to else "longest",
                      return_tensors="np")
  return encoded["input_ids"] * encoded["attention_mask"]


@pytest.mark.parametrize("folder_name", ["tiny-roberta-classifier",
                                         "tiny-xlm-roberta-classifier"])
def test_saved_model_serves_raw_text_without_token_types(
    folder_name, families_dir, tmp_path):
  folder = families_dir / folder_name
  model = ids_echo_model(1200)
  texts = TEXTS + EXTRA_TEXTS
  path = export_saved_model(model, folder, tmp_path, "m",
                            max_seq_length=LENGTH)
  path_pair = export_saved_model(model, folder, tmp_path, "pair",
                                 max_seq_length=LENGTH, text_pair=True)
  served = tf.saved_model.load(str(path)).signatures
  assert set(served["predict_ids"].structured_input_signature[1]) == {
      "input_ids", "attention_mask"}
  got = served["serving_default"](text=tf.constant(texts))["logits"].numpy()
  np.testing.assert_array_equal(got, _hf_ids(folder, texts))
  pair = tf.saved_model.load(str(path_pair)).signatures["serving_default"]
  got = pair(text_a=tf.constant(texts),
             text_b=tf.constant(texts[::-1]))["logits"].numpy()
  np.testing.assert_array_equal(got, _hf_ids(folder, texts, texts[::-1]))


def _tflite_runner(path):
  from ai_edge_litert import interpreter
  tflite = interpreter.InterpreterWithCustomOps(
      model_path=str(path),
      custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
  return tflite.get_signature_runner("serving_default")


@pytest.mark.parametrize("folder_name", ["tiny-xlm-roberta-classifier",
                                         "tiny-distilbert-classifier"])
def test_tflite_raw_text_matches_the_saved_model(folder_name, families_dir,
                                                 glue_dir, tmp_path):
  """SentencePiece and WordPiece without token types: builtins plus
  tensorflow-text custom ops, the SavedModel's ids."""
  folder = families_dir / folder_name
  model = ids_echo_model(30522)
  path = export_tflite(model, tmp_path / "m.tflite", inputs="text",
                       tokenizer=folder, max_seq_length=LENGTH,
                       text_pair=True)
  data = path.read_bytes()
  assert b"Flex" not in data
  from theseus_tf.data import load_examples
  texts = TEXTS + EXTRA_TEXTS + [
      e.text_a for e in load_examples("sst2", "dev", str(glue_dir))[:40]]
  got = _tflite_runner(path)(text_a=np.array(texts),
                             text_b=np.array(texts[::-1]))["logits"]
  served = export_saved_model(model, folder, tmp_path, "m",
                              max_seq_length=LENGTH, text_pair=True)
  want = tf.saved_model.load(str(served)).signatures["serving_default"](
      text_a=tf.constant(texts), text_b=tf.constant(texts[::-1]))["logits"]
  want = np.pad(want.numpy(), [(0, 0), (0, LENGTH - want.shape[1])])
  np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(
      got, _hf_ids(folder, texts, texts[::-1], pad_to=LENGTH))


def test_tflite_byte_pair_is_refused_and_ids_model_works(families_dir,
                                                         tmp_path):
  folder = families_dir / "tiny-roberta-classifier"
  model = ids_echo_model(1200)
  with pytest.raises(NotImplementedError, match="inputs='ids'"):
    export_tflite(model, tmp_path / "text.tflite", inputs="text",
                  tokenizer=folder, max_seq_length=LENGTH)
  assert not (tmp_path / "text.tflite").exists()
  path = export_tflite(model, tmp_path / "ids.tflite", max_seq_length=LENGTH)
  run = _tflite_runner(path)
  preprocessor = load_preprocessor(folder, max_seq_length=LENGTH,
                                   pad_to_max_length=True)
  features = preprocessor(tf.constant(TEXTS))
  outputs = run(**{k: v.numpy() for k, v in features.items()})
  np.testing.assert_array_equal(outputs["logits"],
                                _hf_ids(folder, TEXTS, pad_to=LENGTH))
