"""The training settings a model folder records, and the defaults they set."""

import pytest

from trainers import cli, model_record


def test_recorded_length_of_folders_keras_files_and_hub_ids(tmp_path):
  trained = tmp_path / "best_model"
  trained.mkdir()
  model_record.write_record(trained, command="finetune", max_seq_length=32)
  assert model_record.recorded(trained, "max_seq_length") == 32
  assert model_record.recorded(trained / "model.keras", "command") == (
      "finetune")
  assert model_record.recorded("bert-base-uncased", "max_seq_length") is None
  assert model_record.trained_max_seq_length(
      tmp_path / "unrecorded", trained, default=128) == 32
  assert model_record.trained_max_seq_length(None, default=128) == 128


@pytest.mark.parametrize("argv", [
    ["export", "--format", "tflite", "--output-dir", "o"],
    ["evaluate", "--task", "sst2"],
    ["compress", "--task", "sst2", "--output-dir", "o"],
    ["benchmark", "--output-dir", "o"],
])
def test_commands_default_to_the_recorded_length(tmp_path, argv):
  trained = tmp_path / "best_model"
  trained.mkdir()
  args, _ = cli.parse_args(argv + ["--model", str(trained)])
  assert args.max_seq_length == 128  # Nothing recorded.
  model_record.write_record(trained, max_seq_length=32)
  args, _ = cli.parse_args(argv + ["--model", str(trained)])
  assert args.max_seq_length == 32
  args, _ = cli.parse_args(argv + ["--model", str(trained),
                                   "--max-seq-length", "64"])
  assert args.max_seq_length == 64  # The flag wins.


def test_export_names_are_mirrored():
  from theseus_tf.export import saved_model_export, signatures
  assert model_record.EXPORT_METADATA_FILE == (
      saved_model_export.ASSETS_EXTRA, saved_model_export.METADATA_FILE)
  assert model_record.TEXT_SIGNATURE_INPUTS == (
      [signatures.TEXT], [signatures.TEXT_A, signatures.TEXT_B])
  assert [list(signatures.text_input_names(pair)) for pair in (False, True)
         ] == list(model_record.TEXT_SIGNATURE_INPUTS)
