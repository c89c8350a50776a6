"""Export for serving: TF Serving SavedModels and TFLite, with in-graph tokenization.

- `export_saved_model`: a versioned SavedModel for TF Serving, written
  atomically, with a raw-text `serving_default` signature (tensorflow-text
  tokenization matching Hugging Face's) and a token-id `predict_ids` one.
- `export_tflite`: token-id or raw-text TFLite models, float32, float16,
  dynamic-range or int8 quantized.
- In-graph tokenizers (single sentences and pairs), one per family, chosen
  by `load_preprocessor(folder)`: `TextPreprocessor` (WordPiece: BERT,
  ELECTRA, DistilBERT), `SentencePiecePreprocessor` (XLM-R),
  `BytePairPreprocessor` (byte-level BPE: RoBERTa; SavedModel only).
"""

from theseus_tf.export.byte_pair_preprocessor import BytePairPreprocessor
from theseus_tf.export.preprocessor_loader import load_preprocessor
from theseus_tf.export.preprocessor_loader import tokenizer_family
from theseus_tf.export.saved_model_export import export_saved_model
from theseus_tf.export.saved_model_export import next_version
from theseus_tf.export.signatures import head_looks_untrained
from theseus_tf.export.signatures import prepare_model
from theseus_tf.export.sentencepiece_preprocessor import SentencePiecePreprocessor
from theseus_tf.export.text_preprocessor import TextPreprocessor
from theseus_tf.export.tflite_export import INPUT_KINDS
from theseus_tf.export.tflite_export import QUANTIZATIONS
from theseus_tf.export.tflite_export import export_tflite
from theseus_tf.export.tflite_export import representative_texts_from_task

__all__ = [
    "BytePairPreprocessor",
    "INPUT_KINDS",
    "QUANTIZATIONS",
    "SentencePiecePreprocessor",
    "TextPreprocessor",
    "export_saved_model",
    "export_tflite",
    "head_looks_untrained",
    "load_preprocessor",
    "next_version",
    "prepare_model",
    "representative_texts_from_task",
    "tokenizer_family",
]
