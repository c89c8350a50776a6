"""A block of layers applied in order, forwarding extra call arguments."""

from theseus_tf.backend import check_keras_layer, keras, register_serializable


@register_serializable
class SequentialBlock(keras.layers.Layer):
  """Applies `layers` in order; keyword arguments go to every layer.

  Unlike `keras.Sequential`, extra call arguments (an attention mask, say)
  reach each layer, which is what a stack of transformer layers needs. It is
  the form `ModuleReplacing` gives to a predecessor or successor made of
  several layers.

  Args:
    layers: A non-empty list of Keras layers; each one's output must be a
      valid input of the next.
    **kwargs: Base layer arguments (`name`, `dtype`, ...).

  Example:

  ```python
  block = theseus_tf.SequentialBlock([encoder_layer_0, encoder_layer_1])
  hidden = block(hidden, attention_mask=mask)
  ```
  """

  def __init__(self, layers, **kwargs):
    super().__init__(**kwargs)
    layers = list(layers)
    if not layers:
      raise ValueError("`SequentialBlock` needs at least one layer, got none.")
    for layer in layers:
      check_keras_layer(layer, "The layers of a `SequentialBlock`")
    self.block_layers = layers

  def build(self, input_shape):
    shape = input_shape
    for layer in self.block_layers:
      if not layer.built:
        layer.build(shape)
      shape = layer.compute_output_shape(shape)
    self.built = True

  def call(self, inputs, training=None, **kwargs):
    outputs = inputs
    for layer in self.block_layers:
      outputs = layer(outputs, training=training, **kwargs)
    return outputs

  def compute_output_shape(self, input_shape):
    shape = input_shape
    for layer in self.block_layers:
      shape = layer.compute_output_shape(shape)
    return shape

  def get_config(self):
    config = super().get_config()
    config["layers"] = [keras.layers.serialize(l) for l in self.block_layers]
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["layers"] = [keras.layers.deserialize(l) for l in config["layers"]]
    return cls(**config)
