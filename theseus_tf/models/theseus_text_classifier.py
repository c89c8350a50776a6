"""BERT-of-Theseus compression of a KerasHub text classifier (Keras 3 only).

Imported only when a KerasHub model reaches `build_theseus_classifier`, so
that `import theseus_tf` never imports `keras_hub`.
"""

import keras_hub

from theseus_tf.backend import keras
from theseus_tf.module_replacing import ModuleReplacing

# The KerasHub classifiers whose backbone is an embedding, a chain of
# transformer layers that all take the same extra arguments (padding mask,
# relative embeddings), and a pooler: the shape that module replacing needs,
# and that a backbone of the same class rebuilds with fewer layers.
SUPPORTED_CLASSIFIERS = (
    keras_hub.models.BertTextClassifier,
    keras_hub.models.DistilBertTextClassifier,
    keras_hub.models.RobertaTextClassifier,
    keras_hub.models.XLMRobertaTextClassifier,
    keras_hub.models.DebertaV3TextClassifier,
)


def supported_classifier_names():
  return ", ".join(
      f"keras_hub.models.{cls.__name__}" for cls in SUPPORTED_CLASSIFIERS)


def check_supported_classifier(predecessor):
  """Raises a TypeError naming the supported classes unless it is one of them."""
  # Exact classes: a subclass may wire its backbone differently.
  if type(predecessor) not in SUPPORTED_CLASSIFIERS:
    raise TypeError(
        "`build_theseus_classifier` compresses these KerasHub text "
        f"classifiers: {supported_classifier_names()}; got "
        f"{type(predecessor).__module__}.{type(predecessor).__name__}. "
        "Other families are not supported: ALBERT shares one transformer "
        "layer across its stack, ELECTRA has no KerasHub text classifier, "
        "and the others are untested here. For another model, wrap its "
        "layers with `theseus_tf.replace_modules`.")


def shared_layers(classifier):
  """The layers of a KerasHub (Theseus) classifier outside its layer stack.

  Embeddings, pooler and classification head: frozen in the paper's setting.
  """
  backbone = classifier.backbone
  stack = {id(layer) for layer in getattr(backbone, "transformer_layers", ())}
  containers = {id(backbone), id(classifier.preprocessor)}
  return [
      layer for layer in backbone.layers + classifier.layers
      if layer.weights and id(layer) not in stack | containers and
      not isinstance(layer, ModuleReplacing)
  ]


def _copy_weights(target, source):
  target.set_weights(source.get_weights())


class TheseusTextClassifier(keras_hub.models.TextClassifier):
  """A KerasHub text classifier whose transformer layers are Theseus modules.

  The predecessor's backbone graph is rebuilt with each group of transformer
  layers run by its `ModuleReplacing` module; embeddings, pooler, head and
  preprocessor are the predecessor's own layers, frozen unless
  `train_shared`. Like the predecessor, it preprocesses raw strings in `fit`,
  `evaluate` and `predict`. `theseus_tf.strip_successor` turns it into a
  classifier of the predecessor's class and the successor's depth (see
  `with_blocks`). Build it with `theseus_tf.models.build_theseus_classifier`.

  It is a training-time model: strip it before `save_to_preset`.

  Args:
    predecessor: A built KerasHub text classifier of a supported class (see
      `SUPPORTED_CLASSIFIERS`).
    modules: `ModuleReplacing` layers over the predecessor's transformer
      layers, bottom first, as `theseus_tf.replace_modules` makes them.
    train_shared: Whether embeddings, pooler and head train too.
    name: Model name (default: `"theseus_<predecessor name>"`).

  Example:

  ```python
  teacher = keras_hub.models.BertTextClassifier.from_preset(
      "bert_base_en_uncased", num_classes=2)
  teacher.fit(train_texts, train_labels)
  model = theseus_tf.models.build_theseus_classifier(teacher, num_modules=6)
  model.compile(keras.optimizers.Adam(2e-5))
  model.fit(train_texts, train_labels, callbacks=[
      theseus_tf.ReplacementScheduler(
          theseus_tf.schedules.LinearReplacement(0.3, slope=4e-4))])
  student = theseus_tf.strip_successor(model)  # A BertTextClassifier.
  student.save_to_preset("student")
  ```
  """

  def __init__(self, predecessor, modules, train_shared=False, name=None):
    check_supported_classifier(predecessor)
    predecessor_backbone = predecessor.backbone
    modules = list(modules)
    backbone = _backbone_with_modules(predecessor_backbone, modules)

    # === Layers ===
    self.backbone = backbone
    self.preprocessor = predecessor.preprocessor
    self.theseus_modules = modules

    # === Functional Model ===
    # The predecessor's head graph, over the new backbone.
    graph = keras.models.clone_model(
        predecessor,
        clone_function=lambda layer: (
            backbone if layer is predecessor_backbone else layer))
    super().__init__(
        inputs=graph.input,
        outputs=graph.output,
        name=name or f"theseus_{predecessor.name}")

    # === Config ===
    self.num_classes = predecessor.num_classes
    self.activation = predecessor.activation
    # What `with_blocks` needs to rebuild the predecessor's classes.
    self.predecessor_class = type(predecessor)
    self.predecessor_backbone_class = type(predecessor_backbone)
    self.predecessor_backbone_config = predecessor_backbone.get_config()
    self.predecessor_config = {
        key: value for key, value in predecessor.get_config().items()
        if key not in ("backbone", "preprocessor")
    }
    for layer in shared_layers(self):
      layer.trainable = bool(train_shared)

  @property
  def blocks(self):
    """The `ModuleReplacing` modules, bottom first (see `with_blocks`)."""
    return list(self.theseus_modules)

  def with_blocks(self, blocks):
    """A classifier of the predecessor's class with `blocks` as its layers.

    `theseus_tf.strip_successor` calls it with each module's successor. The
    backbone is rebuilt with `len(blocks)` transformer layers; weights are
    copied (the blocks' into the transformer layers, the other layers' from
    this model), and the preprocessor is shared.

    Args:
      blocks: Built transformer layers of the predecessor's layer class,
        bottom first.

    Returns:
      A classifier of the predecessor's KerasHub class, e.g. a
      `keras_hub.models.BertTextClassifier`.
    """
    backbone = self.predecessor_backbone_class.from_config(
        dict(self.predecessor_backbone_config, num_layers=len(blocks)))
    for layer, block in zip(backbone.transformer_layers, blocks):
      if type(block) is not type(layer):
        raise TypeError(
            f"A {self.predecessor_backbone_class.__name__} holds "
            f"{type(layer).__name__} layers, got a {type(block).__name__} "
            f"('{block.name}'): pass each module's `.successor`.")
      _copy_weights(layer, block)
    stack = {id(layer) for layer in backbone.transformer_layers}
    for layer in backbone.layers:
      if layer.weights and id(layer) not in stack:
        _copy_weights(layer, self.backbone.get_layer(layer.name))

    classifier = self.predecessor_class(
        backbone=backbone,
        preprocessor=self.preprocessor,
        **self.predecessor_config)
    for layer in classifier.layers:
      if layer.weights and layer is not backbone:
        _copy_weights(layer, self.get_layer(layer.name))
    return classifier

  def save_to_preset(self, preset_dir, max_shard_size=10):
    raise NotImplementedError(
        f"'{self.name}' is a Theseus training model, which has no KerasHub "
        "preset: save `theseus_tf.strip_successor(model)` instead, a "
        f"{self.predecessor_class.__name__}.")

  def get_config(self):
    raise NotImplementedError(
        f"'{self.name}' is a Theseus training model that cannot be "
        "serialized: use `save_weights` for checkpoints, and "
        "`theseus_tf.strip_successor(model).save_to_preset(...)` for the "
        "compressed classifier.")


def _backbone_with_modules(backbone, modules):
  """`backbone`'s graph with each group of transformer layers run as a module.

  The first layer of each module's group is replaced by the module; the
  others pass their input through, as the module already ran them.
  """
  module_of_first_layer = {}
  skipped_layers = set()
  for module in modules:
    group = getattr(module.predecessor, "block_layers", [module.predecessor])
    module_of_first_layer[id(group[0])] = module
    skipped_layers.update(id(layer) for layer in group[1:])
  stack = [id(layer) for layer in backbone.transformer_layers]
  if sorted(stack) != sorted(list(module_of_first_layer) + list(skipped_layers)):
    raise ValueError(
        "The modules must replace each transformer layer of "
        f"'{backbone.name}' once: build them with "
        "`theseus_tf.replace_modules(backbone.transformer_layers, ...)`.")

  def call_module(layer, *args, **kwargs):
    if id(layer) in module_of_first_layer:
      return module_of_first_layer[id(layer)](*args, **kwargs)
    if id(layer) in skipped_layers:
      return args[0]
    return layer(*args, **kwargs)

  return keras.models.clone_model(
      backbone, clone_function=lambda layer: layer, call_function=call_module)
