"""The names of a BERT model's inputs, as Hugging Face's tokenizers produce them.

One definition for the data pipeline, the models' `keras.Input`s and the
exported signatures; pure Python, so importing it costs nothing.
"""

FEATURE_NAMES = ("input_ids", "attention_mask", "token_type_ids")
