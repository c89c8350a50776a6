"""Every Python block of README.md runs as written, in order, in both modes.

The blocks run in one namespace (later blocks use what earlier ones made), in
a temporary folder that holds what they name: `my-finetuned-bert/` (the tiny
fixture classifier, with a trained head as a fine-tuned model has),
`my-finetuned-roberta/` (the tiny RoBERTa fixture classifier, head trained
the same way) and `glue/SST-2/` (the first 64 real SST-2 sentences).

Blocks fenced ```python-keras3 use KerasHub, which needs Keras 3: they run
under Keras 3 only, on their own, with `my-finetuned-keras-hub-bert/` (a
small KerasHub BERT preset) beside `glue/`.
"""

import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from theseus_tf.backend import IS_KERAS_3

README = REPO_ROOT / "README.md"
NUM_EXAMPLES = 64


def read_json_file(path):
  return json.loads(pathlib.Path(path).read_text("utf-8"))


def fenced_blocks(text, language):
  return re.findall(rf"^```{re.escape(language)}\n(.*?)^```", text,
                    flags=re.M | re.S)


def python_blocks(text):
  return fenced_blocks(text, "python")


def keras_3_blocks(text):
  return fenced_blocks(text, "python-keras3")


def run_blocks(blocks, kind):
  namespace = {}
  for number, block in enumerate(blocks, 1):
    try:
      exec(compile(block, f"README.md {kind} block {number}", "exec"),  # pylint: disable=exec-used
           namespace)
    except Exception as error:
      raise AssertionError(
          f"README.md {kind} block {number} failed:\n{block}") from error


def write_sst2_subset(glue_dir, folder):
  (folder / "SST-2").mkdir(parents=True)
  for split in ("train", "dev"):
    lines = (glue_dir / "SST-2" / f"{split}.tsv").read_text("utf-8").splitlines()
    (folder / "SST-2" / f"{split}.tsv").write_text(
        "\n".join(lines[:NUM_EXAMPLES + 1]) + "\n", "utf-8")


def write_finetuned_teacher(fixtures_dir, folder):
  from theseus_tf.utils.transformers import from_pretrained, save_pretrained  # pylint: disable=import-outside-toplevel
  source = fixtures_dir / "tiny-bert-classifier"
  teacher = from_pretrained(str(source))
  teacher.output_dense.bias.assign(np.array([0.1, -0.1, 0.05], np.float32))
  save_pretrained(teacher, str(folder))
  for name in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(source / name, folder / name)


def write_finetuned_roberta(fixtures_dir, folder):
  from theseus_tf.utils.transformers import from_pretrained, save_pretrained  # pylint: disable=import-outside-toplevel
  source = fixtures_dir / "families" / "tiny-roberta-classifier"
  teacher = from_pretrained(str(source))
  teacher.output_dense.bias.assign(np.array([0.1, -0.1, 0.05], np.float32))
  save_pretrained(teacher, str(folder))
  for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json",
               "merges.txt"):
    shutil.copy(source / name, folder / name)


def test_readme_has_the_blocks_this_test_expects():
  blocks = python_blocks(README.read_text("utf-8"))
  assert len(blocks) >= 3
  assert any("load_model" in block for block in blocks)
  assert any("keras_hub" in block
             for block in keras_3_blocks(README.read_text("utf-8")))


@pytest.mark.slow
def test_every_python_block_of_the_readme_runs(glue_dir, fixtures_dir,
                                               tmp_path, monkeypatch):
  write_sst2_subset(glue_dir, tmp_path / "glue")
  write_finetuned_teacher(fixtures_dir, tmp_path / "my-finetuned-bert")
  write_finetuned_roberta(fixtures_dir, tmp_path / "my-finetuned-roberta")
  monkeypatch.chdir(tmp_path)
  run_blocks(python_blocks(README.read_text("utf-8")), "python")
  assert read_json_file(tmp_path / "roberta-student" / "config.json")[
      "num_hidden_layers"] == 2
  assert os.path.getsize(tmp_path / "roberta-student.tflite") > 0
  assert (tmp_path / "student" / "config.json").is_file()
  assert (tmp_path / "serving_models" / "sst2" / "1" / "saved_model.pb").is_file()
  assert os.path.getsize(tmp_path / "student.tflite") > 0


@pytest.mark.slow
@pytest.mark.skipif(
    not IS_KERAS_3,
    reason="```python-keras3 blocks use KerasHub, which needs Keras 3")
def test_every_keras_3_block_of_the_readme_runs(glue_dir, tmp_path,
                                                monkeypatch):
  pytest.importorskip("keras_hub")
  from tests.models.test_theseus_text_classifier import build_teacher, read_sst2  # pylint: disable=import-outside-toplevel
  write_sst2_subset(glue_dir, tmp_path / "glue")
  texts, labels = read_sst2(glue_dir)
  build_teacher("bert", texts, labels).save_to_preset(
      str(tmp_path / "my-finetuned-keras-hub-bert"))
  monkeypatch.chdir(tmp_path)
  run_blocks(keras_3_blocks(README.read_text("utf-8")), "python-keras3")
  assert (tmp_path / "student-preset" / "config.json").is_file()
