"""Tests of the GLUE task registry."""

import pytest

from theseus_tf.data import TASKS
from theseus_tf.data import GlueDataError
from theseus_tf.data import get_task


@pytest.mark.parametrize("alias, name", [
    ("sst2", "SST-2"), ("SST-2", "SST-2"), ("sst_2", "SST-2"),
    ("cola", "CoLA"), ("STS-B", "STS-B"), ("stsb", "STS-B"),
    ("mnli", "MNLI"), ("mnli-m", "MNLI-M"), ("MNLI_MM", "MNLI-MM"),
    ("mnli-mismatched", "MNLI-MM"), ("qqp", "QQP"), ("Qnli", "QNLI"),
    ("rte", "RTE"), ("wnli", "WNLI"), ("mrpc", "MRPC"),
])
def test_names_are_case_insensitive_with_aliases(alias, name):
  assert get_task(alias).name == name


def test_unknown_task_lists_known_ones():
  with pytest.raises(GlueDataError, match=r"unknown GLUE task 'sst5' "
                     r"\(known: CoLA, SST-2, MRPC, STS-B, QQP, MNLI"):
    get_task("sst5")


def test_task_conventions():
  assert get_task("mnli").labels == ("contradiction", "entailment", "neutral")
  assert get_task("rte").labels == ("entailment", "not_entailment")
  assert get_task("qnli").labels == ("entailment", "not_entailment")
  assert get_task("stsb").is_regression and get_task("stsb").num_labels == 1
  assert get_task("mnli").num_labels == 3 and get_task("sst2").num_labels == 2
  assert not get_task("cola").is_pair and get_task("mrpc").is_pair
  assert get_task("mnli").dev_splits == ("dev_matched", "dev_mismatched")
  assert get_task("mnli-mm").dev_splits == ("dev_mismatched",)
  assert get_task("mrpc").score_metrics == ("f1", "accuracy")
  assert get_task("qqp").score_metrics == ("f1", "accuracy")
  assert get_task("stsb").score_metrics == ("pearson", "spearmanr")
  assert get_task("cola").score_metrics == ("matthews_correlation",)
  for name in ("SST-2", "MNLI", "QNLI", "RTE", "WNLI"):
    assert TASKS[name].score_metrics == ("accuracy",)
  for task in TASKS.values():
    assert len(task.tfds_text_features) == len(task.text_columns)
    assert (task.tfds_label_names is None) == task.is_regression


def test_resolve_split():
  assert get_task("sst2").resolve_split("dev") == "dev"
  assert get_task("sst2").resolve_split("validation") == "dev"
  assert get_task("mnli").resolve_split("validation_mismatched") == (
      "dev_mismatched")
  assert get_task("mnli-m").resolve_split("dev") == "dev_matched"
  with pytest.raises(GlueDataError, match=r"unknown split 'dev' for GLUE task "
                     r"MNLI \(known: train, dev_matched, dev_mismatched\)"):
    get_task("mnli").resolve_split("dev")
  with pytest.raises(GlueDataError, match="unknown split 'test'"):
    get_task("rte").resolve_split("test")
