"""The `theseus-tf export` subcommand."""

import os
import shutil

import numpy as np
import pytest

from trainers import cli

# TF's int8 calibrator still uses the deprecated tf.lite.Interpreter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


def _run(argv):
  return cli.main(["export"] + [str(a) for a in argv])


@pytest.fixture
def tiny_dir(tiny_model_dir):
  return tiny_model_dir


@pytest.fixture
def trained_tiny_model(tiny_dir):
  """The tiny classifier with a non-zero head bias, as after fine-tuning."""
  from theseus_tf.utils.transformers import from_pretrained
  model = from_pretrained(str(tiny_dir))
  model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  return model


@pytest.fixture
def trained_dir(tmp_path, tiny_dir):
  """A copy of the tiny checkpoint whose head has been 'trained'."""
  from theseus_tf.utils.transformers import from_pretrained, save_pretrained
  model = from_pretrained(str(tiny_dir))
  model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  folder = tmp_path / "tiny-student"
  save_pretrained(model, str(folder))
  for name in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(tiny_dir / name, folder)
  return folder


def test_flags_and_defaults():
  args, _ = cli.parse_args(
      ["export", "--model", "m", "--format", "tflite", "--output-dir", "o"])
  assert (args.quantize, args.inputs, args.max_seq_length) == ("none", "ids",
                                                               128)
  assert not (args.strip or args.allow_untrained or args.overwrite)


def test_unknown_quantization_is_a_usage_error(capsys):
  assert _run(["--model", "m", "--format", "tflite", "--output-dir", "o",
               "--quantize", "int4"]) == 2
  error = capsys.readouterr().err
  assert error.startswith("theseus-tf: error: argument --quantize: invalid "
                          "choice: 'int4'")


def test_saved_model_export_and_errors(tmp_path, trained_dir, capsys):
  base = tmp_path / "serving"
  common = ["--model", trained_dir, "--format", "saved_model",
            "--output-dir", base, "--max-seq-length", 32]
  assert _run(common + ["--task", "mrpc"]) == 0
  version = base / "tiny-student" / "1"
  assert capsys.readouterr().out.strip() == str(version)
  assert (version / "saved_model.pb").is_file()
  umask = os.umask(0)
  os.umask(umask)
  modes = {p.stat().st_mode & 0o777 for p in [version, *version.rglob("*")]}
  assert modes <= {0o777 & ~umask, 0o666 & ~umask}  # Readable by a server.
  assert '"text_pair": true' in (
      version / "assets.extra" / "theseus_tf_export.json").read_text()

  assert _run(common + ["--version", 1]) == 2
  assert "already exists" in capsys.readouterr().err
  assert _run(common + ["--quantize", "dynamic"]) == 2
  assert "--quantize applies to --format tflite only" in capsys.readouterr().err
  tflite = ["--model", trained_dir, "--format", "tflite", "--output-dir", base]
  assert _run(tflite + ["--jit-compile"]) == 2
  assert ("--jit-compile applies to --format saved_model only"
          in capsys.readouterr().err)
  assert _run(common + ["--task", "sst2", "--text-pair"]) == 2
  assert "contradicts" in capsys.readouterr().err
  assert sorted(p.name for p in (base / "tiny-student").iterdir()) == ["1"]


def test_missing_model_and_vocabulary(tmp_path, trained_dir, capsys):
  common = ["--format", "saved_model", "--output-dir", tmp_path / "out",
            "--max-seq-length", 32]
  assert _run(["--model", tmp_path / "nope"] + common) == 2
  assert "No model folder" in capsys.readouterr().err
  (trained_dir / "tokenizer.json").unlink()
  assert _run(["--model", trained_dir] + common) == 2
  err = capsys.readouterr().err
  assert "No vocabulary" in err
  assert not (tmp_path / "out").exists()


def test_untrained_model_needs_the_flag(tmp_path, tiny_dir, capsys):
  common = ["--model", tiny_dir, "--format", "tflite", "--output-dir",
            tmp_path, "--max-seq-length", 32]
  assert _run(common) == 2
  assert "--allow-untrained" in capsys.readouterr().err
  assert _run(common + ["--allow-untrained", "--quantize", "dynamic"]) == 0
  assert (tmp_path / "tiny-bert-classifier.ids.dynamic.tflite").is_file()


def test_int8_tflite_calibrates_on_the_task(tmp_path, trained_dir, glue_dir,
                                            capsys):
  common = ["--model", trained_dir, "--format", "tflite", "--output-dir",
            tmp_path, "--max-seq-length", 32, "--quantize", "int8"]
  assert _run(common) == 2
  assert "pass --task" in capsys.readouterr().err
  assert _run(common + ["--task", "sst2", "--data-dir", glue_dir,
                        "--num-calibration-examples", 8, "--inputs", "text",
                        "--output-file", "sst2.tflite"]) == 0
  assert (tmp_path / "sst2.tflite").is_file()
  assert _run(common + ["--task", "sst2", "--data-dir", tmp_path / "none",
                        "--output-file", "x.tflite"]) == 2
  assert not (tmp_path / "x.tflite").exists()


def test_theseus_keras_file_needs_strip(tmp_path, tiny_dir, trained_tiny_model,
                                        capsys):
  from theseus_tf.models.theseus_classifier import build_theseus_classifier
  theseus = build_theseus_classifier(trained_tiny_model, num_modules=2)
  path = tmp_path / "theseus.keras"
  theseus.save(str(path))
  common = ["--model", path, "--tokenizer", tiny_dir, "--format",
            "saved_model", "--output-dir", tmp_path / "serving",
            "--max-seq-length", 32]
  assert _run(common) == 2
  assert "ModuleReplacing" in capsys.readouterr().err
  assert not (tmp_path / "serving").exists()
  assert _run(common + ["--strip"]) == 0
  assert (tmp_path / "serving" / "theseus" / "1" / "saved_model.pb").is_file()


def test_own_file_decides_pairs_like_training(tmp_path):
  # Without --text-columns the file's default columns decide, as in finetune.
  import argparse
  from trainers.commands import export
  from trainers.errors import UsageError
  pairs = tmp_path / "pairs.csv"
  pairs.write_text("sentence1,sentence2,label\na,b,x\n", "utf-8")
  single = tmp_path / "single.csv"
  single.write_text("text,label\na,x\n", "utf-8")

  def args(path, **flags):
    values = dict(train_file=str(path), text_columns=None, file_format=None,
                  text_pair=False, task=None)
    return argparse.Namespace(**dict(values, **flags))

  assert export._text_pair(args(pairs)) is True
  assert export._text_pair(args(single)) is False
  assert export._text_pair(args(pairs, text_columns=["sentence1"])) is False
  with pytest.raises(UsageError, match="--text-pair contradicts"):
    export._text_pair(args(single, text_pair=True))
