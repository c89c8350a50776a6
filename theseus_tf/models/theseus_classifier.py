"""Turns a BERT classifier into a BERT-of-Theseus model in one call."""

from theseus_tf.backend import IS_KERAS_3
from theseus_tf.module_grouping import group_modules
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.models.bert_classifier import build_bert_classifier
from theseus_tf.replace_modules import replace_modules


def is_keras_hub_model(model):
  """Whether `model`'s class is (or derives from) a KerasHub class."""
  return any((base.__module__ or "").startswith("keras_hub")
             for base in type(model).__mro__)


def _keras_hub_adapter(model):
  """The KerasHub adapter module, imported on first use (it imports keras_hub)."""
  if not IS_KERAS_3:
    raise TypeError(
        f"'{model.name}' is a KerasHub {type(model).__name__}, a Keras 3 "
        "model, but theseus_tf runs under tf-keras (TF_USE_LEGACY_KERAS=1): "
        "KerasHub needs Keras 3. Unset TF_USE_LEGACY_KERAS to compress it.")
  from theseus_tf.models import theseus_text_classifier  # pylint: disable=import-outside-toplevel
  return theseus_text_classifier


def shared_layers(model):
  """The layers a Theseus classifier shares with its predecessor.

  Embeddings, pooler (or the head's dense layer) and classification head:
  frozen in the paper's setting.
  """
  if is_keras_hub_model(model):
    return _keras_hub_adapter(model).shared_layers(model)
  backbone = model.backbone
  layers = [backbone.embeddings, backbone.pooler,
            getattr(model, "head_dense", None), model.output_dense]
  return [layer for layer in layers if layer is not None]


def _check_predecessor(predecessor):
  if isinstance(predecessor, BertClassifier) and predecessor.built:
    return
  if isinstance(predecessor, BertClassifier):
    raise ValueError(
        f"The predecessor '{predecessor.name}' is not built: call it on a "
        "batch (or load it with "
        "`theseus_tf.utils.transformers.from_pretrained`) first.")
  raise TypeError(
      "`build_theseus_classifier` compresses a "
      "`theseus_tf.models.BertClassifier` (e.g. from "
      "`theseus_tf.utils.transformers.from_pretrained`) or, under Keras 3, a "
      "KerasHub text classifier, got "
      f"{type(predecessor).__module__}.{type(predecessor).__name__}. For "
      "another stack of Keras layers, wrap them with "
      "`theseus_tf.replace_modules` and build your model around the modules.")


def set_shared_trainable(model, trainable):
  """Freezes or unfreezes the embeddings, pooler and head of `model`.

  The paper keeps them frozen while modules are replaced; unfreezing them for
  the final successor-only phase is an option. Recompile the model afterwards
  for the change to reach training.

  Args:
    model: A `BertClassifier` (Theseus or stripped), or a Theseus KerasHub
      classifier.
    trainable: Whether the shared layers train.
  """
  for layer in shared_layers(model):
    layer.trainable = trainable


def build_theseus_classifier(predecessor,
                             num_modules=None,
                             grouping=None,
                             init="bottom",
                             schedule=None,
                             seed=None,
                             train_shared=False,
                             name=None):
  """Wraps a fine-tuned classifier for BERT-of-Theseus compression.

  Works for every family `BertClassifier` covers (BERT, RoBERTa,
  XLM-RoBERTa, ELECTRA, DistilBERT).

  The predecessor's transformer layers are grouped into `num_modules`
  modules (or as `grouping` says); each gets a one-layer successor copied
  from the predecessor layer that `init` selects (the bottom layers, as in
  the paper). The result is a `BertClassifier` whose encoder blocks are
  `ModuleReplacing` layers; it shares embeddings, pooler and head with
  `predecessor`. Only the successor layers train unless `train_shared`.

  A KerasHub text classifier (Keras 3; BERT, DistilBERT, RoBERTa,
  XLM-RoBERTa, DeBERTaV3) gives a `TheseusTextClassifier` instead, which
  preprocesses raw strings like its predecessor, and which
  `strip_successor` turns into a classifier of the predecessor's class.

  Args:
    predecessor: A built (fine-tuned) `BertClassifier` or KerasHub text
      classifier.
    num_modules: The successor depth; must divide the predecessor depth
      unless `grouping` is given.
    grouping: Module sizes or layer indices for uneven ratios, e.g.
      `[3, 3, 2, 2, 2]` for 12 -> 5.
    init: Successor initialisation: `"bottom"`, `"top"`, `"every_k"` or a
      list of predecessor layer indices.
    schedule: Optional `ReplacementSchedule`; otherwise given by the
      `ReplacementScheduler` callback.
    seed: Base seed of the modules' draws (module i uses `seed + i`).
    train_shared: Whether embeddings, pooler and head train too.
    name: Model name (default: `"theseus_<predecessor name>"`).

  Returns:
    A `BertClassifier` (a `TheseusTextClassifier` for KerasHub) ready for
    `compile` and `fit`; pass it to `theseus_tf.strip_successor` to get the
    plain compressed classifier.

  Example:

  ```python
  teacher = theseus_tf.utils.transformers.from_pretrained("fine-tuned-bert/")
  model = theseus_tf.models.build_theseus_classifier(teacher, num_modules=6)
  model.compile(keras.optimizers.Adam(2e-5),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(train_ds, epochs=3, callbacks=[theseus_tf.ReplacementScheduler(
      theseus_tf.schedules.LinearReplacement(0.3, slope=4e-4))])
  student = theseus_tf.strip_successor(model)
  ```
  """
  keras_hub_adapter = None
  if is_keras_hub_model(predecessor):
    keras_hub_adapter = _keras_hub_adapter(predecessor)
    keras_hub_adapter.check_supported_classifier(predecessor)
  else:
    _check_predecessor(predecessor)
  backbone = predecessor.backbone
  # Everything that can fail is checked before `replace_modules` freezes the
  # predecessor's layers: on error the caller's model is left as it was.
  group_modules(len(backbone.transformer_layers), num_modules, grouping)
  modules = replace_modules(
      backbone.transformer_layers,
      num_modules=num_modules,
      grouping=grouping,
      init=init,
      schedule=schedule,
      seed=seed,
      name_prefix="theseus_module")
  if keras_hub_adapter is not None:
    return keras_hub_adapter.TheseusTextClassifier(
        predecessor, modules, train_shared=train_shared, name=name)
  model = build_bert_classifier(
      backbone.embeddings,
      modules,
      backbone.pooler,
      head=predecessor.output_dense,
      dropout=predecessor.dropout,
      problem_type=predecessor.problem_type,
      id2label=predecessor.id2label,
      head_type=predecessor.head_type,
      head_dense=predecessor.head_dense,
      name=name or f"theseus_{predecessor.name}")
  set_shared_trainable(model, train_shared)
  return model
