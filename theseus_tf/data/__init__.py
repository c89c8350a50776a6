"""Task data: the GLUE registry and readers (local or TFDS), the user's own
CSV/TSV/JSON Lines files (`FileTask`), tf.data pipelines, and the model input
names they produce (`FEATURE_NAMES`, in `features.py`)."""

from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.data.glue_pipeline import EncodedExamples
from theseus_tf.data.glue_pipeline import GlueDataset
from theseus_tf.data.glue_pipeline import encode_examples
from theseus_tf.data.glue_pipeline import eval_dataset
from theseus_tf.data.glue_pipeline import load_dataset
from theseus_tf.data.glue_pipeline import train_dataset
from theseus_tf.data.glue_reader import GlueExample
from theseus_tf.data.glue_reader import load_examples
from theseus_tf.data.glue_tasks import TASKS
from theseus_tf.data.glue_tasks import GlueDataError
from theseus_tf.data.glue_tasks import GlueTask
from theseus_tf.data.glue_tasks import get_task
from theseus_tf.data.file_task import FileTask
from theseus_tf.data.file_task import make_file_task
from theseus_tf.data.label_vocabulary import LabelVocabulary
from theseus_tf.data.text_files import RowReader
from theseus_tf.data.text_files import TextFileError
