"""Tests of reading GLUE examples from local folders and (mocked) TFDS."""

import pytest
import tensorflow as tf

from theseus_tf.data import GlueDataError
from theseus_tf.data import GlueExample
from theseus_tf.data import load_examples


def _write(path, lines, final_newline=True, encoding="utf-8"):
  path.parent.mkdir(parents=True, exist_ok=True)
  text = "\n".join("\t".join(cells) for cells in lines)
  path.write_text(text + ("\n" if final_newline else ""), encoding=encoding)
  return path


# One labelled row per task, in the real files' column layout.
_TASK_FILES = {
    "STS-B": (
        ["index", "genre", "filename", "year", "old_index", "source1",
         "source2", "sentence1", "sentence2", "score"],
        ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none",
         "A plane is taking off.", "An air plane is taking off.", "5.000"],
        GlueExample("A plane is taking off.", "An air plane is taking off.",
                    5.0)),
    "QQP": (
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        ["133273", "213221", "213222", "How is the life of a math student?",
         "Which level of prepration is enough?", "0"],
        GlueExample("How is the life of a math student?",
                    "Which level of prepration is enough?", 0)),
    "MNLI": (
        ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
         "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
         "sentence1", "sentence2", "label1", "gold_label"],
        ["0", "31193", "31193n", "government", "( ( x ) )", "( y )", "(ROOT)",
         "(ROOT)", "Conceptually cream skimming has two basic dimensions.",
         "Product and geography are what make cream skimming work. ",
         "neutral", "neutral"],
        GlueExample("Conceptually cream skimming has two basic dimensions.",
                    "Product and geography are what make cream skimming work. ",
                    2)),
    "QNLI": (
        ["index", "question", "sentence", "label"],
        ["0", "When did the third Digimon series begin?",
         "Unlike the two seasons before it, ...", "not_entailment"],
        GlueExample("When did the third Digimon series begin?",
                    "Unlike the two seasons before it, ...", 1)),
    "WNLI": (
        ["index", "sentence1", "sentence2", "label"],
        ["0", "I stuck a pin through a carrot.", "The carrot had a hole.", "1"],
        GlueExample("I stuck a pin through a carrot.", "The carrot had a hole.",
                    1)),
}


@pytest.mark.parametrize("task", sorted(_TASK_FILES))
def test_reads_each_task_layout(tmp_path, task):
  header, row, expected = _TASK_FILES[task]
  folder = "MNLI" if task == "MNLI" else task
  _write(tmp_path / folder / "train.tsv", [header, row])
  assert load_examples(task, "train", tmp_path) == [expected]


def test_mnli_dev_splits_and_column_order(tmp_path):
  # Columns are found by name: a reordered file reads the same.
  lines = [["gold_label", "sentence2", "sentence1"],
           ["contradiction", "b", "a"]]
  _write(tmp_path / "MNLI" / "dev_matched.tsv", lines)
  _write(tmp_path / "MNLI" / "dev_mismatched.tsv", lines)
  expected = [GlueExample("a", "b", 0)]
  assert load_examples("mnli", "dev_matched", tmp_path) == expected
  assert load_examples("mnli-mm", "dev", tmp_path) == expected


def test_task_folder_itself_and_lowercase_folder(tmp_path):
  _write(tmp_path / "sst2" / "dev.tsv", [["sentence", "label"], ["good", "1"]])
  expected = [GlueExample("good", None, 1)]
  assert load_examples("SST-2", "dev", tmp_path) == expected
  assert load_examples("SST-2", "dev", tmp_path / "sst2") == expected


def test_real_glue_files(glue_dir):
  counts = {("SST-2", "train"): 67349, ("SST-2", "dev"): 872,
            ("MRPC", "train"): 3668, ("MRPC", "dev"): 408,
            ("RTE", "train"): 2490, ("RTE", "dev"): 277,
            ("CoLA", "train"): 8551, ("CoLA", "dev"): 1043}
  for (task, split), count in counts.items():
    assert len(load_examples(task, split, glue_dir)) == count, (task, split)
  # MRPC starts with a BOM before "Quality"; its text keeps raw quotes.
  mrpc = load_examples("mrpc", "dev", glue_dir)
  assert mrpc[0] == GlueExample(
      "He said the foodservice pie business doesn't fit the company's "
      "long-term growth strategy.",
      '"The foodservice pie business does not fit our long-term growth '
      'strategy.', 1)
  # CoLA: no header, dev has no final newline (last row still read).
  cola = load_examples("cola", "dev", glue_dir)
  assert cola[0] == GlueExample(
      "The sailors rode the breeze clear of the rocks.", None, 1)
  assert sum(e.label for e in cola) == 721
  rte = load_examples("rte", "dev", glue_dir / "RTE")
  assert sum(e.label == 0 for e in rte) == 146  # entailment


def test_max_examples_is_a_seeded_subset(glue_dir):
  full = load_examples("sst2", "dev", glue_dir)
  subset = load_examples("sst2", "dev", glue_dir, max_examples=50, seed=1)
  assert len(subset) == 50
  assert subset == load_examples("sst2", "dev", glue_dir, max_examples=50,
                                 seed=1)
  assert subset != load_examples("sst2", "dev", glue_dir, max_examples=50,
                                 seed=2)
  positions = [full.index(e) for e in subset]
  assert positions == sorted(positions) and positions != list(range(50))
  assert len(load_examples("rte", "dev", glue_dir, max_examples=10**6)) == 277


# -- Bad input: one GlueDataError naming what is wrong. ----------------------


def test_unknown_task(tmp_path):
  with pytest.raises(GlueDataError, match="unknown GLUE task 'sts' .*STS-B"):
    load_examples("sts", "train", tmp_path)


def test_missing_data_dir(tmp_path):
  with pytest.raises(GlueDataError, match="does not exist"):
    load_examples("rte", "train", tmp_path / "nowhere")


def test_data_dir_without_task(tmp_path):
  (tmp_path / "SST-2").mkdir()
  with pytest.raises(GlueDataError, match=(
      f"no RTE data in {tmp_path}: expected the folder {tmp_path / 'RTE'}")):
    load_examples("rte", "train", tmp_path)


def test_missing_split_file(tmp_path):
  _write(tmp_path / "RTE" / "train.tsv", [["sentence1", "sentence2", "label"]])
  with pytest.raises(GlueDataError, match=(
      r"missing dev file for RTE: .*RTE/dev\.tsv \(\.tsv files found: "
      r"train\.tsv\)")):
    load_examples("rte", "dev", tmp_path)


def test_empty_files(tmp_path):
  (tmp_path / "CoLA").mkdir()
  (tmp_path / "CoLA" / "train.tsv").write_text("")
  with pytest.raises(GlueDataError, match=r"CoLA/train\.tsv is empty"):
    load_examples("cola", "train", tmp_path)
  _write(tmp_path / "SST-2" / "train.tsv", [["sentence", "label"]])
  with pytest.raises(GlueDataError, match="has a header but no examples"):
    load_examples("sst2", "train", tmp_path)


def test_wrong_columns(tmp_path):
  _write(tmp_path / "MRPC" / "train.tsv",
         [["Quality", "#1 ID", "#2 ID", "sentence1", "sentence2"],
          ["1", "1", "2", "a", "b"]])
  with pytest.raises(GlueDataError, match=(
      r"MRPC expects columns \['#1 String', '#2 String', 'Quality'\], missing "
      r"\['#1 String', '#2 String'\]; found \['Quality', '#1 ID', '#2 ID', "
      r"'sentence1', 'sentence2'\]")):
    load_examples("mrpc", "train", tmp_path)


def test_short_row(tmp_path):
  _write(tmp_path / "CoLA" / "train.tsv",
         [["gj04", "1", "", "Fine."], ["gj04", "0"]], final_newline=False)
  with pytest.raises(GlueDataError, match=(
      r"line 2: 2 tab-separated columns, CoLA needs at least 4")):
    load_examples("cola", "train", tmp_path)


def test_bad_labels(tmp_path):
  _write(tmp_path / "RTE" / "train.tsv",
         [["index", "sentence1", "sentence2", "label"],
          ["0", "a", "b", "entailment"], ["1", "c", "d", "neutral"]])
  with pytest.raises(GlueDataError, match=(
      r"RTE/train\.tsv, line 3: bad RTE label 'neutral' \(expected one of "
      r"\['entailment', 'not_entailment'\]\)")):
    load_examples("rte", "train", tmp_path)
  _write(tmp_path / "STS-B" / "train.tsv",
         [["sentence1", "sentence2", "score"], ["a", "b", "high"]])
  with pytest.raises(GlueDataError, match="line 2: bad STS-B score 'high'"):
    load_examples("stsb", "train", tmp_path)


def test_bad_max_examples(glue_dir):
  with pytest.raises(GlueDataError, match="max_examples"):
    load_examples("rte", "dev", glue_dir, max_examples=0)


# -- tensorflow-datasets. ----------------------------------------------------


class _Label:

  def __init__(self, names):
    self.names = names


class _FakeBuilder:
  """Just the TFDS builder API the reader uses."""

  def __init__(self, features, label_names, error=None):
    self.info = type("Info", (), {"features": {"label": _Label(label_names)}})
    self.data_dir = "/fake"
    self._features = features
    self._error = error
    self.splits = []

  def is_prepared(self):
    return self._error is None

  def download_and_prepare(self):
    raise self._error

  def as_dataset(self, split, shuffle_files):
    assert not shuffle_files
    self.splits.append(split)
    return tf.data.Dataset.from_tensor_slices(self._features)


@pytest.fixture
def fake_tfds(monkeypatch):
  import tensorflow_datasets as tfds
  builders = {}

  def builder(name, data_dir=None):
    del data_dir
    return builders[name]

  monkeypatch.setattr(tfds, "builder", builder)
  return builders


def test_tfds_features_are_mapped(fake_tfds):
  # TFDS orders MNLI classes entailment, neutral, contradiction.
  fake_tfds["glue/mnli"] = _FakeBuilder(
      {"premise": ["p0", "p1", "p2"], "hypothesis": ["h0", "h1", "h2"],
       "label": [0, 1, 2], "idx": [0, 1, 2]},
      ["entailment", "neutral", "contradiction"])
  assert load_examples("mnli", "validation_mismatched") == [
      GlueExample("p0", "h0", 1), GlueExample("p1", "h1", 2),
      GlueExample("p2", "h2", 0)]
  assert fake_tfds["glue/mnli"].splits == ["validation_mismatched"]

  fake_tfds["glue/sst2"] = _FakeBuilder(
      {"sentence": ["bad", "good"], "label": [0, 1], "idx": [0, 1]},
      ["negative", "positive"])
  assert load_examples("sst-2", "dev") == [GlueExample("bad", None, 0),
                                           GlueExample("good", None, 1)]

  fake_tfds["glue/stsb"] = _FakeBuilder(
      {"sentence1": ["a"], "sentence2": ["b"], "label": [3.5], "idx": [0]},
      None)
  assert load_examples("stsb", "train") == [GlueExample("a", "b", 3.5)]


def test_tfds_wrong_features(fake_tfds):
  fake_tfds["glue/rte"] = _FakeBuilder(
      {"premise": ["a"], "hypothesis": ["b"], "label": [0]},
      ["entailment", "not_entailment"])
  with pytest.raises(GlueDataError, match=(
      r"glue/rte: RTE expects TFDS features \['sentence1', 'sentence2', "
      r"'label'\], found \['hypothesis', 'label', 'premise'\]")):
    load_examples("rte", "train")


def test_tfds_network_error_says_use_data_dir(fake_tfds):
  fake_tfds["glue/cola"] = _FakeBuilder(
      {}, ["unacceptable", "acceptable"],
      error=ConnectionError("Failed to resolve 'dl.fbaipublicfiles.com'\n..."))
  with pytest.raises(GlueDataError, match=(
      r"could not load glue/cola from tensorflow-datasets \(ConnectionError: "
      r"Failed to resolve 'dl.fbaipublicfiles.com'\); if you are offline, pass "
      r"a local GLUE folder via --data-dir / data_dir$")):
    load_examples("cola", "train")


def test_tfds_missing_module_says_install_it(fake_tfds):
  fake_tfds["glue/wnli"] = _FakeBuilder(
      {}, ["not_entailment", "entailment"],
      error=ModuleNotFoundError("No module named 'importlib_resources'"))
  with pytest.raises(GlueDataError, match=(
      r"\(ModuleNotFoundError: No module named 'importlib_resources'\); "
      r"install the missing module, or pass a local GLUE folder")):
    load_examples("wnli", "train")


def test_tfds_not_prepared_without_download(tmp_path):
  # The real builder over an empty TFDS dir; nothing is downloaded.
  with pytest.raises(GlueDataError, match=(
      r"glue/rte is not prepared in .* and download is disabled; pass a local "
      r"GLUE folder via --data-dir / data_dir")):
    load_examples("rte", "train", tfds_data_dir=str(tmp_path), download=False)
