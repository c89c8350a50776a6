"""Utilities: atomic artefact writes (`file_io`) and conversion to and from
other libraries' checkpoints (`transformers`), imported on first use."""

import importlib

_SUBMODULES = ("file_io", "transformers")


def __getattr__(name):
  if name in _SUBMODULES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
