"""Tests for theseus_tf.utils.transformers.model_folder: folders and Hub ids."""

import huggingface_hub
import pytest

from theseus_tf.utils.transformers import model_folder
from theseus_tf.utils.transformers.model_folder import resolve_model_dir


@pytest.fixture
def hub_online(monkeypatch):
  for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    monkeypatch.delenv(variable, raising=False)
  monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_local_folders_and_files(tmp_path):
  assert resolve_model_dir(tmp_path) == tmp_path
  (tmp_path / "config.json").write_text("{}")
  with pytest.raises(NotADirectoryError, match="pass the folder"):
    resolve_model_dir(tmp_path / "config.json")
  with pytest.raises(FileNotFoundError, match="No folder"):
    resolve_model_dir(tmp_path / "missing")
  with pytest.raises(FileNotFoundError, match="No folder"):
    resolve_model_dir("./relative/missing/folder")


def test_a_pickle_file_is_refused(tmp_path):
  (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not a pickle")
  with pytest.raises(ValueError, match="never unpickles"):
    resolve_model_dir(tmp_path / "pytorch_model.bin")


def test_is_hub_id():
  assert model_folder.is_hub_id("bert-base-uncased")
  assert model_folder.is_hub_id("sentence-transformers/all-MiniLM-L6-v2")
  assert not model_folder.is_hub_id("/abs/path")
  assert not model_folder.is_hub_id("./rel")
  assert not model_folder.is_hub_id("a/b/c")
  assert not model_folder.is_hub_id("bad--name..")


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_hub_offline_variables(monkeypatch, hub_online, variable):
  assert not model_folder.hub_offline()
  monkeypatch.setenv(variable, "yes")
  assert model_folder.hub_offline()


def test_hub_id_offline_says_to_pass_a_local_folder(tmp_path, monkeypatch):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  with pytest.raises(OSError) as error:
    resolve_model_dir("theseus-tf-tests/no-such-model", cache_dir=tmp_path)
  assert "HF_HUB_OFFLINE" in str(error.value)
  assert "pass its local path" in str(error.value)


def test_hub_id_network_error_says_to_pass_a_local_folder(monkeypatch,
                                                          hub_online):

  def unreachable(*args, **kwargs):
    raise ConnectionError("Temporary failure in name resolution")

  monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
  with pytest.raises(OSError, match="could not be downloaded.*name resolution"
                     ".*pass its local path"):
    resolve_model_dir("theseus-tf-tests/no-such-model")


def test_hub_id_is_downloaded_with_snapshot_download(tmp_path, monkeypatch,
                                                     hub_online):
  calls = []

  def fake_snapshot_download(repo_id, **kwargs):
    calls.append((repo_id, kwargs))
    return str(tmp_path)

  monkeypatch.setattr(huggingface_hub, "snapshot_download",
                      fake_snapshot_download)
  assert resolve_model_dir("some-org/tiny-bert", revision="v1") == tmp_path
  assert calls[0][0] == "some-org/tiny-bert"
  assert calls[0][1]["revision"] == "v1"
  assert calls[0][1]["local_files_only"] is False
  patterns = calls[0][1]["allow_patterns"]
  assert "model*.safetensors" in patterns and "vocab.txt" in patterns
  assert not any(p.endswith(".bin") for p in patterns)
