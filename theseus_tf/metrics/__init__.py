"""Evaluation metrics (numpy only)."""

from theseus_tf.metrics.glue_metrics import METRICS
from theseus_tf.metrics.glue_metrics import MULTI_LABEL_METRICS
from theseus_tf.metrics.glue_metrics import accuracy
from theseus_tf.metrics.glue_metrics import average_ranks
from theseus_tf.metrics.glue_metrics import compute_glue_metrics
from theseus_tf.metrics.glue_metrics import f1_macro
from theseus_tf.metrics.glue_metrics import f1_micro
from theseus_tf.metrics.glue_metrics import f1_score
from theseus_tf.metrics.glue_metrics import matthews_corrcoef
from theseus_tf.metrics.glue_metrics import multi_label_accuracy
from theseus_tf.metrics.glue_metrics import multi_label_f1_macro
from theseus_tf.metrics.glue_metrics import multi_label_f1_micro
from theseus_tf.metrics.glue_metrics import pearson_corrcoef
from theseus_tf.metrics.glue_metrics import spearman_corrcoef
