"""Sequence classification / regression on top of a `BertBackbone`."""

from theseus_tf.backend import IS_KERAS_3, keras, refreeze, register_serializable
from theseus_tf.models.bert_backbone import BertBackbone, bert_inputs

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification",
                 "regression")


def default_problem_type(num_classes):
  """Hugging Face's rule: one output is a regression, more are classes."""
  return "regression" if num_classes == 1 else "single_label_classification"


def _normalize_id2label(id2label, num_classes):
  if id2label is None:
    return {i: f"LABEL_{i}" for i in range(num_classes)}
  # JSON (configs, `.keras` files) turns integer keys into strings.
  id2label = {int(i): str(label) for i, label in dict(id2label).items()}
  if sorted(id2label) != list(range(num_classes)):
    raise ValueError(
        f"id2label must name exactly the labels 0..{num_classes - 1}; got "
        f"keys {sorted(id2label)}.")
  return id2label


# Head type -> (activation of the dense layer on the first token, whether
# dropout comes before that layer too). "pooler" uses the backbone's pooler
# instead (BERT).
HEAD_TYPES = {
    "pooler": None,
    # RobertaClassificationHead (RoBERTa, XLM-RoBERTa): dropout, dense, tanh,
    # dropout, out_proj.
    "roberta": ("tanh", True),
    # ElectraClassificationHead: the same with exact GELU.
    "electra": ("gelu", True),
    # DistilBertForSequenceClassification: pre_classifier, ReLU, dropout,
    # classifier.
    "distilbert": ("relu", False),
}


def make_head_dense(head_type, hidden_dim, initializer_range=0.02,
                    dtype=None):
  """A fresh dense layer of a head on the first token, or None for "pooler"."""
  if head_type not in HEAD_TYPES:
    raise ValueError(
        f"Unknown head_type {head_type!r}: use one of {sorted(HEAD_TYPES)}.")
  if HEAD_TYPES[head_type] is None:
    return None
  return keras.layers.Dense(
      hidden_dim,
      activation=HEAD_TYPES[head_type][0],
      kernel_initializer=keras.initializers.RandomNormal(
          stddev=initializer_range),
      dtype=dtype,
      name="head_dense")


def make_classifier_head(num_classes, initializer_range=0.02):
  """A fresh output layer: float32 `Dense` so that logits are float32."""
  return keras.layers.Dense(
      num_classes,
      kernel_initializer=keras.initializers.RandomNormal(
          stddev=initializer_range),
      dtype="float32",
      name="classifier")


@register_serializable
class BertClassifier(keras.Model):
  """Sequence classifier or regressor of every supported encoder family.

  A Functional model. With `head_type="pooler"` (BERT,
  `BertForSequenceClassification`): `backbone -> pooled_output -> Dropout ->
  Dense`. The other head types read the first token of the sequence output
  through `head_dense`, as Hugging Face's heads of those families:

  - "roberta" (RoBERTa, XLM-RoBERTa): Dropout, Dense + tanh, Dropout, Dense.
  - "electra": Dropout, Dense + GELU, Dropout, Dense.
  - "distilbert": Dense + ReLU, Dropout, Dense.

  It takes the backbone's inputs (a dict of int32 `input_ids`,
  `attention_mask` and, where the backbone uses them, `token_type_ids`) and
  returns float32 logits `[batch, num_classes]`, also under mixed
  precision. With `num_classes=1` (or
  `problem_type="regression"`) the outputs are regression scores; compile it
  with `keras.losses.MeanSquaredError()` then, and with
  `keras.losses.SparseCategoricalCrossentropy(from_logits=True)` for classes.

  To reuse an existing head layer, e.g. with a backbone built by
  `BertBackbone.from_layers`, use `BertClassifier.from_layers` or
  `build_bert_classifier`.

  Args:
    backbone: a `BertBackbone`.
    num_classes: int. Number of labels (1 for regression).
    dropout: float. Dropout on the pooled output (Hugging Face
      `classifier_dropout`, else `hidden_dropout_prob`).
    problem_type: "single_label_classification",
      "multi_label_classification" or "regression"; by default "regression"
      when `num_classes == 1`, else single-label classification. Recorded for
      `save_pretrained` and `is_regression`; it does not change the outputs.
    id2label: optional dict from label index to label name (Hugging Face
      `id2label`); "LABEL_i" by default.
    head_type: "pooler" (BERT; the backbone needs a pooler), "roberta",
      "electra" or "distilbert" (see above).
    **kwargs: `name` and `trainable`.

  Example:

  ```python
  backbone = BertBackbone(vocabulary_size=100, num_layers=2, num_heads=2,
                          hidden_dim=16, intermediate_dim=32)
  classifier = BertClassifier(backbone, num_classes=3)
  classifier.compile(
      optimizer="adam",
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  logits = classifier({
      "input_ids": tf.constant([[2, 7, 9, 3, 0]]),
      "attention_mask": tf.constant([[1, 1, 1, 1, 0]]),
      "token_type_ids": tf.constant([[0, 0, 0, 0, 0]]),
  })  # float32 [1, 3]

  # A DistilBERT-style classifier: no token types, no pooler.
  distil = BertClassifier(
      BertBackbone(vocabulary_size=100, num_layers=2, num_heads=2,
                   hidden_dim=16, intermediate_dim=32, num_segments=0,
                   use_pooler=False, model_type="distilbert"),
      num_classes=2, head_type="distilbert")
  logits = distil({"input_ids": tf.constant([[2, 7, 9, 3, 0]]),
                   "attention_mask": tf.constant([[1, 1, 1, 1, 0]])})
  ```
  """

  def __init__(self,
               backbone,
               num_classes,
               dropout=0.1,
               problem_type=None,
               id2label=None,
               head_type="pooler",
               **kwargs):
    initializer_range = getattr(backbone, "initializer_range", 0.02)
    output_dense = make_classifier_head(num_classes, initializer_range)
    head_dense = make_head_dense(
        head_type, backbone.embeddings.hidden_dim, initializer_range,
        dtype=backbone.dtype_policy)
    self._build_graph(backbone, output_dense, dropout, problem_type, id2label,
                      head_type, head_dense, **kwargs)
    self._built_from_layers = False

  @classmethod
  def from_layers(cls, backbone, output_dense, dropout=0.1, problem_type=None,
                  id2label=None, head_type="pooler", head_dense=None,
                  **kwargs):
    """Builds a classifier around an existing head layer.

    Args:
      backbone: a `BertBackbone`, e.g. from `BertBackbone.from_layers`.
      output_dense: the layer mapping the pooled output to logits, e.g.
        another classifier's `output_dense`; used, not copied (shared
        weights). Its `units` is `num_classes`.
      dropout, problem_type, id2label, head_type, **kwargs: as in
        `BertClassifier`.
      head_dense: the dense layer on the first token for head types other
        than "pooler" (e.g. another classifier's `head_dense`), shared.

    Returns:
      A `BertClassifier`.
    """
    classifier = cls.__new__(cls)
    classifier._build_graph(backbone, output_dense, dropout, problem_type,
                            id2label, head_type, head_dense, **kwargs)
    classifier._built_from_layers = True
    return classifier

  def _build_graph(self, backbone, output_dense, dropout, problem_type,
                   id2label, head_type, head_dense, **kwargs):
    num_classes = output_dense.units
    problem_type = problem_type or default_problem_type(num_classes)
    if problem_type not in PROBLEM_TYPES:
      raise ValueError(
          f"Unknown problem_type {problem_type!r}: use one of {PROBLEM_TYPES}.")
    if head_type not in HEAD_TYPES:
      raise ValueError(
          f"Unknown head_type {head_type!r}: use one of {sorted(HEAD_TYPES)}.")
    uses_pooler = HEAD_TYPES[head_type] is None
    if uses_pooler and getattr(backbone, "pooler", None) is None:
      raise ValueError(
          "head_type='pooler' needs a backbone with a pooler (use_pooler="
          "True); use the head type of the backbone's family instead.")
    if not uses_pooler and head_dense is None:
      raise ValueError(f"head_type={head_type!r} needs a head_dense layer.")
    output_dropout = keras.layers.Dropout(dropout, name="classifier_dropout")

    inputs = bert_inputs(backbone.feature_names)
    outputs = backbone(inputs)
    if uses_pooler:
      logits = output_dense(output_dropout(outputs["pooled_output"]))
    else:
      x = outputs["sequence_output"][:, 0, :]
      if HEAD_TYPES[head_type][1]:
        x = output_dropout(x)
      x = output_dropout(head_dense(x))
      logits = output_dense(x)
    super().__init__(inputs=inputs, outputs=logits, **kwargs)
    # Functional models take no `dtype`, but the model's policy decides
    # whether `compile` adds loss scaling (mixed_float16): use the layers'.
    if IS_KERAS_3:
      self.dtype_policy = backbone.dtype_policy
    else:
      self._set_dtype_policy(backbone.dtype_policy)

    self.backbone = backbone
    self.output_dropout = output_dropout
    self.output_dense = output_dense
    self.head_type = head_type
    self.head_dense = None if uses_pooler else head_dense
    self.num_classes = num_classes
    self.dropout = dropout
    self.problem_type = problem_type
    self.id2label = _normalize_id2label(id2label, num_classes)
    # Layers frozen before they were built (on loading) get frozen weights.
    refreeze(self)

  @property
  def feature_names(self):
    """The names of the model's inputs (`token_type_ids` only if used)."""
    return self.backbone.feature_names

  @property
  def is_regression(self):
    """Whether the outputs are regression scores rather than class logits."""
    return self.problem_type == "regression"

  def with_blocks(self, blocks):
    """A classifier over `blocks` sharing every other layer with this one.

    `theseus_tf.strip_successor` uses it to swap each `ModuleReplacing`
    block for its successor while keeping the model a `BertClassifier`.
    """
    return BertClassifier.from_layers(
        self.backbone.with_blocks(blocks), self.output_dense,
        dropout=self.dropout, problem_type=self.problem_type,
        id2label=self.id2label, head_type=self.head_type,
        head_dense=self.head_dense, name=self.name)

  @property
  def blocks(self):
    """The encoder blocks, bottom first (see `with_blocks`)."""
    return self.backbone.transformer_layers

  def get_config(self):
    config = {
        "name": self.name,
        "trainable": self.trainable,
        "backbone": keras.layers.serialize(self.backbone),
        "dropout": self.dropout,
        "problem_type": self.problem_type,
        "id2label": {str(i): label for i, label in self.id2label.items()},
        "head_type": self.head_type,
    }
    if self._built_from_layers:
      config["output_dense"] = keras.layers.serialize(self.output_dense)
      if self.head_dense is not None:
        config["head_dense"] = keras.layers.serialize(self.head_dense)
    else:
      config["num_classes"] = self.num_classes
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    config["backbone"] = keras.layers.deserialize(
        config["backbone"], custom_objects=custom_objects)
    if "output_dense" in config:
      for name in ("output_dense", "head_dense"):
        if config.get(name) is not None:
          config[name] = keras.layers.deserialize(
              config[name], custom_objects=custom_objects)
      return cls.from_layers(**config)
    return cls(**config)


def build_bert_classifier(embeddings,
                          blocks,
                          pooler,
                          head,
                          dropout=0.1,
                          problem_type=None,
                          id2label=None,
                          output_hidden_states=False,
                          head_type="pooler",
                          head_dense=None,
                          name=None):
  """Builds a `BertClassifier` from existing layers and encoder blocks.

  Shorthand for `BertClassifier.from_layers(BertBackbone.from_layers(...))`.
  The layers are used, not copied, so the new model shares weights with every
  other model that uses them. Each `blocks[i]` is called as
  `x = blocks[i](x, attention_mask=mask)` with the `[batch, seq]` int padding
  mask and must return a tensor of the shape of `x`: a `BertTransformerLayer`
  or, for instance, a wrapper that stands for a group of them.

  Args:
    embeddings: a `BertEmbeddings`, e.g. `classifier.backbone.embeddings`.
    blocks: list of encoder blocks, one per position in the stack.
    pooler: the pooler `Dense`, e.g. `classifier.backbone.pooler`, or None
      (families without a pooler).
    head: an existing output layer (e.g. `classifier.output_dense`), or an
      int: the number of classes of a freshly initialised head.
    dropout: float. Dropout on the pooled output.
    problem_type: as in `BertClassifier`.
    id2label: as in `BertClassifier`.
    output_hidden_states: bool. Whether the inner backbone also outputs its
      hidden states (the classifier itself returns logits only).
    head_type: as in `BertClassifier`.
    head_dense: the existing dense layer of a head other than "pooler",
      e.g. `classifier.head_dense`; a fresh one when None.
    name: optional model name.

  Returns:
    A `BertClassifier` whose `backbone.transformer_layers` are `blocks`.

  Example:

  ```python
  teacher = BertClassifier(
      BertBackbone(vocabulary_size=100, num_layers=4, num_heads=2,
                   hidden_dim=16, intermediate_dim=32),
      num_classes=2)
  layers = teacher.backbone.transformer_layers
  student = build_bert_classifier(
      teacher.backbone.embeddings, [layers[0], layers[3]],
      teacher.backbone.pooler, head=teacher.output_dense)
  ```
  """
  backbone = BertBackbone.from_layers(
      embeddings, blocks, pooler, output_hidden_states=output_hidden_states)
  if isinstance(head, int):
    head = make_classifier_head(head, getattr(embeddings, "initializer_range",
                                              0.02))
  if head_dense is None:
    head_dense = make_head_dense(
        head_type, embeddings.hidden_dim,
        getattr(embeddings, "initializer_range", 0.02),
        dtype=backbone.dtype_policy)
  kwargs = {"name": name} if name else {}
  return BertClassifier.from_layers(
      backbone, head, dropout=dropout, problem_type=problem_type,
      id2label=id2label, head_type=head_type, head_dense=head_dense, **kwargs)
