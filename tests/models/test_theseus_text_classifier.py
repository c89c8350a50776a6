"""BERT-of-Theseus compression of KerasHub text classifiers (Keras 3).

Each supported family is built small from its constructors, with a tokenizer
made here from real SST-2 sentences (nothing is downloaded). Its head is
fitted to those sentences by least squares, as a fine-tuned head would be,
so that the Theseus model has a loss to bring down without the cost of
fine-tuning the teacher first. BERT trains with the compiled step, the other
families eagerly (same rewired graph, without a long trace each).
"""

import collections
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import theseus_tf
from tests.conftest import REPO_ROOT
from theseus_tf.backend import IS_KERAS_3
from theseus_tf.backend import keras

keras_hub = pytest.importorskip("keras_hub")

requires_keras_3 = pytest.mark.skipif(
    not IS_KERAS_3,
    reason="KerasHub models are Keras 3 models; this pass runs tf-keras "
    "(TF_USE_LEGACY_KERAS=1), where compressing them is an error (tested).")

NUM_SENTENCES = 256
SEQUENCE_LENGTH = 32
NUM_LAYERS = 4
SMALL_BACKBONE = dict(
    num_layers=NUM_LAYERS, num_heads=2, hidden_dim=32, intermediate_dim=64,
    max_sequence_length=SEQUENCE_LENGTH, dropout=0.0)


def read_sst2(glue_dir):
  lines = (glue_dir / "SST-2" / "train.tsv").read_text("utf-8").splitlines()
  rows = [line.split("\t") for line in lines[1:NUM_SENTENCES + 1]]
  return [text for text, _ in rows], np.array([int(label) for _, label in rows])


def word_piece_vocabulary(texts, specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                           "[MASK]")):
  counts = collections.Counter(word for text in texts for word in text.split())
  return list(specials) + [word for word, _ in counts.most_common(500)]


def byte_level_vocabulary():
  """A byte-level BPE vocabulary with every byte, so that nothing is unknown."""
  # GPT-2's byte-to-unicode table: printable bytes map to themselves.
  printable = (list(range(ord("!"), ord("~") + 1)) +
               list(range(ord("¡"), ord("¬") + 1)) +
               list(range(ord("®"), ord("ÿ") + 1)))
  extra = [b for b in range(256) if b not in printable]
  chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(extra))]
  merges = ["Ġ t", "h e", "Ġt he"]
  tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + chars + [
      "Ġt", "he", "Ġthe"]
  return {token: i for i, token in enumerate(tokens)}, merges


def sentence_piece_proto(texts, **special_pieces):
  import sentencepiece  # pylint: disable=import-outside-toplevel
  proto = io.BytesIO()
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(texts), model_writer=proto, vocab_size=400,
      model_type="WORD", hard_vocab_limit=False, **special_pieces)
  return proto.getvalue()


def make_bert(texts):
  tokenizer = keras_hub.models.BertTokenizer(
      vocabulary=word_piece_vocabulary(texts))
  return (keras_hub.models.BertBackbone, keras_hub.models.BertTextClassifier,
          keras_hub.models.BertTextClassifierPreprocessor, tokenizer)


def make_distil_bert(texts):
  tokenizer = keras_hub.models.DistilBertTokenizer(
      vocabulary=word_piece_vocabulary(texts))
  return (keras_hub.models.DistilBertBackbone,
          keras_hub.models.DistilBertTextClassifier,
          keras_hub.models.DistilBertTextClassifierPreprocessor, tokenizer)


def make_roberta(texts):
  del texts  # Byte-level: every text is covered.
  vocabulary, merges = byte_level_vocabulary()
  tokenizer = keras_hub.models.RobertaTokenizer(
      vocabulary=vocabulary, merges=merges)
  return (keras_hub.models.RobertaBackbone,
          keras_hub.models.RobertaTextClassifier,
          keras_hub.models.RobertaTextClassifierPreprocessor, tokenizer)


def make_xlm_roberta(texts):
  tokenizer = keras_hub.models.XLMRobertaTokenizer(
      proto=sentence_piece_proto(texts, unk_id=0, bos_id=1, eos_id=2))
  return (keras_hub.models.XLMRobertaBackbone,
          keras_hub.models.XLMRobertaTextClassifier,
          keras_hub.models.XLMRobertaTextClassifierPreprocessor, tokenizer)


def make_deberta_v3(texts):
  tokenizer = keras_hub.models.DebertaV3Tokenizer(proto=sentence_piece_proto(
      texts, pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]",
      bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
      user_defined_symbols="[MASK]"))
  return (keras_hub.models.DebertaV3Backbone,
          keras_hub.models.DebertaV3TextClassifier,
          keras_hub.models.DebertaV3TextClassifierPreprocessor, tokenizer)


FAMILIES = {
    "bert": make_bert,
    "distil_bert": make_distil_bert,
    "roberta": make_roberta,
    "xlm_roberta": make_xlm_roberta,
    "deberta_v3": make_deberta_v3,
}


def fit_head(classifier, tokens, labels):
  """Sets the logits layer to the least-squares fit of the labels."""
  logits = classifier.get_layer("logits")
  features = keras.Model(classifier.input, logits.input)(tokens).numpy()
  features = np.concatenate([features, np.ones((len(features), 1))], axis=1)
  targets = 4.0 * (np.eye(classifier.num_classes)[labels] - 0.5)
  solution = np.linalg.solve(
      features.T @ features + np.eye(features.shape[1]),
      features.T @ targets)
  logits.set_weights([solution[:-1], solution[-1]])


def build_teacher(family, texts, labels):
  backbone_class, classifier_class, preprocessor_class, tokenizer = (
      FAMILIES[family](texts))
  backbone = backbone_class(
      vocabulary_size=tokenizer.vocabulary_size(), **SMALL_BACKBONE)
  # A trained encoder's [CLS] features differ from sentence to sentence; a
  # fresh one's, with KerasHub's 0.02 initializer, hardly do.
  for weight in backbone.weights:
    if len(weight.shape) >= 2:
      weight.assign(weight * 5.0)
  # Without dropout, so that training and inference losses agree.
  classifier = classifier_class(
      backbone, num_classes=2, dropout=0.0,
      preprocessor=preprocessor_class(tokenizer,
                                      sequence_length=SEQUENCE_LENGTH))
  fit_head(classifier, classifier.preprocessor(tf.constant(texts)), labels)
  return classifier


def weights_of(layers):
  return {w.path: w.numpy() for layer in layers for w in layer.weights}


def inference_loss(model, tokens, labels):
  logits = model(tokens, training=False)
  return float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
      labels, logits))


# Real data, and a trace of each family's train step and tokenizer: tens of
# seconds each on a shared CPU (skip with -m "not slow").
@pytest.fixture(scope="module", params=[
    pytest.param(family, marks=pytest.mark.slow) for family in FAMILIES])
def compressed(request, glue_dir):
  """A teacher of each family, its Theseus model after `fit`, and the student."""
  if not IS_KERAS_3:
    pytest.skip(requires_keras_3.kwargs["reason"])
  keras.utils.set_random_seed(0)
  texts, labels = read_sst2(glue_dir)
  teacher = build_teacher(request.param, texts, labels)
  tokens = teacher.preprocessor(tf.constant(texts))
  model = theseus_tf.models.build_theseus_classifier(
      teacher, num_modules=2, seed=7)
  frozen_before = weights_of([teacher])
  successors_before = weights_of([m.successor for m in model.blocks])
  loss_before = inference_loss(model, tokens, labels)
  # One family runs the compiled step (tf.cond between the blocks); the
  # others run eagerly, which skips a long trace and takes the same rewired
  # graph.
  model.compile(keras.optimizers.Adam(3e-4),
                run_eagerly=request.param != "bert")
  model.fit(texts, labels, batch_size=32, epochs=2, verbose=0,
            callbacks=[theseus_tf.ReplacementScheduler(
                theseus_tf.schedules.LinearReplacement(0.5, slope=0.05))])
  return collections.namedtuple("Compressed", [
      "teacher", "model", "student", "texts", "tokens", "frozen_before",
      "successors_before", "loss_before", "loss_after"
  ])(teacher, model, theseus_tf.strip_successor(model), texts, tokens,
     frozen_before, successors_before, loss_before,
     inference_loss(model, tokens, labels))


@requires_keras_3
def test_theseus_model_trains_its_successors_only(compressed):
  assert compressed.loss_after < compressed.loss_before
  # Predecessor layers and shared embeddings, pooler and head: bit-identical.
  frozen_after = weights_of([compressed.teacher])
  assert frozen_after.keys() == compressed.frozen_before.keys()
  for path, value in compressed.frozen_before.items():
    np.testing.assert_array_equal(frozen_after[path], value, err_msg=path)
  successors_after = weights_of([m.successor for m in compressed.model.blocks])
  assert any(
      not np.array_equal(successors_after[path], value)
      for path, value in compressed.successors_before.items())


@requires_keras_3
def test_stripped_classifier_is_the_teacher_class_and_computes_the_same(
    compressed):
  student, teacher = compressed.student, compressed.teacher
  assert type(student) is type(teacher)
  assert type(student.backbone) is type(teacher.backbone)
  assert student.backbone.num_layers == 2
  assert len(student.backbone.transformer_layers) == 2
  assert student.preprocessor is teacher.preprocessor
  assert not theseus_tf.module_replacing_layers(student)
  np.testing.assert_allclose(
      student(compressed.tokens), compressed.model(compressed.tokens),
      rtol=0, atol=1e-6)


@requires_keras_3
def test_stripped_classifier_round_trips_through_a_preset(compressed, tmp_path):
  compressed.student.save_to_preset(str(tmp_path))
  loaded = keras_hub.models.TextClassifier.from_preset(str(tmp_path))
  assert type(loaded) is type(compressed.student)
  assert loaded.backbone.num_layers == 2
  texts = compressed.texts[:16]
  np.testing.assert_allclose(
      loaded.predict(texts, verbose=0),  # Raw strings, through the preprocessor.
      compressed.student(compressed.tokens)[:16], rtol=0, atol=1e-5)


@requires_keras_3
def test_stripped_classifier_exports_a_saved_model_on_raw_strings(
    compressed, tmp_path):
  student = compressed.student
  archive = keras.export.ExportArchive()
  archive.track(student)
  archive.track(student.preprocessor)
  archive.add_endpoint(
      "serve_text",
      lambda text: student(student.preprocessor(text), training=False),
      input_signature=[tf.TensorSpec([None], tf.string)])
  archive.write_out(str(tmp_path / "saved_model"), verbose=False)
  served = tf.saved_model.load(str(tmp_path / "saved_model"))
  texts = compressed.texts[:16]
  np.testing.assert_allclose(
      served.serve_text(tf.constant(texts)).numpy(),
      student(compressed.tokens)[:16], rtol=0, atol=1e-5)


@requires_keras_3
def test_stripped_classifier_keeps_keras_export_on_token_ids(
    compressed, tmp_path):
  student = compressed.student
  student.export(str(tmp_path / "exported"), verbose=False)
  served = tf.saved_model.load(str(tmp_path / "exported"))
  # The backbone's inputs are int32; the preprocessor's padding mask is bool.
  token_ids = {name: tf.cast(value, tf.int32)
               for name, value in compressed.tokens.items()}
  np.testing.assert_allclose(
      served.serve(token_ids).numpy(), student(compressed.tokens),
      rtol=0, atol=1e-5)


@pytest.fixture
def bert_teacher(glue_dir):
  if not IS_KERAS_3:
    pytest.skip(requires_keras_3.kwargs["reason"])
  keras.utils.set_random_seed(0)
  return build_teacher("bert", *read_sst2(glue_dir))


@requires_keras_3
def test_options_reach_the_modules(bert_teacher):
  layers = bert_teacher.backbone.transformer_layers
  model = theseus_tf.models.build_theseus_classifier(
      bert_teacher, grouping=[3, 1], init="top", seed=11, train_shared=True)
  modules = model.blocks
  assert list(modules[0].predecessor.block_layers) == list(layers[:3])
  assert modules[1].predecessor is layers[3]
  assert [m.seed for m in modules] == [11, 12]
  # "top": the two successors start as copies of the top two layers.
  for module, source in zip(modules, layers[2:]):
    for copied, original in zip(module.successor.get_weights(),
                                source.get_weights()):
      np.testing.assert_array_equal(copied, original)
  shared = theseus_tf.models.theseus_classifier.shared_layers(model)
  assert {layer.name for layer in shared} >= {
      "token_embedding", "pooled_dense", "logits"}
  assert all(layer.trainable for layer in shared)


@requires_keras_3
def test_only_successors_train_by_default(bert_teacher):
  model = theseus_tf.models.build_theseus_classifier(bert_teacher,
                                                     num_modules=2)
  successor_weights = {
      id(w) for m in model.blocks for w in m.successor.trainable_weights}
  assert {id(w) for w in model.trainable_weights} == successor_weights


@requires_keras_3
def test_theseus_model_checkpoints_with_save_weights(bert_teacher, glue_dir,
                                                    tmp_path):
  model = theseus_tf.models.build_theseus_classifier(bert_teacher,
                                                     num_modules=2)
  for weight in model.blocks[0].successor.weights:
    weight.assign(weight + 1.0)  # As training would change it.
  model.save_weights(str(tmp_path / "theseus.weights.h5"))
  keras.utils.set_random_seed(1)
  other = theseus_tf.models.build_theseus_classifier(
      build_teacher("bert", *read_sst2(glue_dir)), num_modules=2)
  other.load_weights(str(tmp_path / "theseus.weights.h5"))
  tokens = bert_teacher.preprocessor(tf.constant(["a gripping film"]))
  np.testing.assert_array_equal(other(tokens), model(tokens))
  with pytest.raises(NotImplementedError, match="save_weights"):
    model.save(str(tmp_path / "theseus.keras"))


@requires_keras_3
@pytest.mark.parametrize("options", [
    dict(num_modules=3),  # 4 layers do not divide into 3 modules.
    dict(num_modules=2, init="middle"),
])
def test_invalid_options_leave_the_teacher_untouched(bert_teacher, options):
  trainable_before = [w.path for w in bert_teacher.trainable_weights]
  with pytest.raises(ValueError):
    theseus_tf.models.build_theseus_classifier(bert_teacher, **options)
  assert [w.path for w in bert_teacher.trainable_weights] == trainable_before


@requires_keras_3
def test_an_unsupported_family_is_refused_naming_the_supported_ones():
  # ALBERT shares one transformer layer across its whole stack.
  backbone = keras_hub.models.AlbertBackbone(
      vocabulary_size=50, num_layers=2, num_heads=2, embedding_dim=16,
      hidden_dim=16, intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH)
  teacher = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2)
  trainable_before = [w.path for w in teacher.trainable_weights]
  with pytest.raises(TypeError, match="AlbertTextClassifier") as error:
    theseus_tf.models.build_theseus_classifier(teacher, num_modules=1)
  for name in ("BertTextClassifier", "DistilBertTextClassifier",
               "RobertaTextClassifier", "XLMRobertaTextClassifier",
               "DebertaV3TextClassifier"):
    assert f"keras_hub.models.{name}" in str(error.value)
  assert [w.path for w in teacher.trainable_weights] == trainable_before


@pytest.mark.skipif(IS_KERAS_3, reason="tests the tf-keras (legacy) pass")
def test_tf_keras_refuses_keras_hub_models_with_a_clear_error():
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
      intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH)
  teacher = keras_hub.models.BertTextClassifier(backbone, num_classes=2)
  trainable_before = [w.path for w in teacher.trainable_weights]
  with pytest.raises(TypeError, match="KerasHub needs Keras 3"):
    theseus_tf.models.build_theseus_classifier(teacher, num_modules=1)
  assert [w.path for w in teacher.trainable_weights] == trainable_before


def test_importing_theseus_tf_does_not_import_keras_hub():
  code = ("import sys, theseus_tf, theseus_tf.models; "
          "sys.exit('keras_hub' in sys.modules)")
  assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                        check=False).returncode == 0


def sorted_values(layer):
  """All of `layer`'s weight values, sorted: equal whatever the kernel layout."""
  return np.sort(np.concatenate([w.ravel() for w in layer.get_weights()]))


@requires_keras_3
def test_a_hugging_face_folder_compresses_as_through_from_pretrained(
    fixtures_dir, tmp_path):
  source = fixtures_dir / "tiny-bert-classifier"
  # KerasHub reads a local Hugging Face BERT folder, but its WordPiece
  # vocabulary from vocab.txt, which the folder's tokenizer.json holds.
  shutil.copytree(source, tmp_path / "bert")
  vocabulary = json.loads(
      (source / "tokenizer.json").read_text("utf-8"))["model"]["vocab"]
  (tmp_path / "bert" / "vocab.txt").write_text(
      "\n".join(sorted(vocabulary, key=vocabulary.get)) + "\n", "utf-8")
  hub_teacher = keras_hub.models.BertTextClassifier.from_preset(
      str(tmp_path / "bert"), num_classes=3, dropout=0.0)
  # Its preprocessor pads to 512 whatever the folder's 128 positions.
  hub_teacher.preprocessor.sequence_length = SEQUENCE_LENGTH
  teacher = theseus_tf.utils.transformers.from_pretrained(str(source))
  # KerasHub loads the encoder and pooler only: the head comes from ours.
  hub_teacher.get_layer("logits").set_weights(
      teacher.output_dense.get_weights())

  schedule = theseus_tf.schedules.LinearReplacement(0.3, slope=0.01)
  hub_model = theseus_tf.models.build_theseus_classifier(
      hub_teacher, num_modules=2, seed=5, schedule=schedule)
  model = theseus_tf.models.build_theseus_classifier(
      teacher, num_modules=2, seed=5, schedule=schedule)
  for hub_module, module in zip(hub_model.blocks, model.blocks):
    np.testing.assert_array_equal(
        [hub_module.uses_successor(step) for step in range(50)],
        [module.uses_successor(step) for step in range(50)])
    np.testing.assert_array_equal(
        sorted_values(hub_module.successor), sorted_values(module.successor))

  hub_tokens = hub_teacher.preprocessor(tf.constant(
      ["a gripping, beautifully acted film", "dull and far too long"]))
  tokens = {
      "input_ids": hub_tokens["token_ids"],
      "attention_mask": tf.cast(hub_tokens["padding_mask"], tf.int32),
      "token_type_ids": hub_tokens["segment_ids"],
  }
  np.testing.assert_allclose(
      theseus_tf.strip_successor(hub_model)(hub_tokens),
      theseus_tf.strip_successor(model)(tokens), rtol=1e-4, atol=1e-6)
