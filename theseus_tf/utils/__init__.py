"""Utilities: atomic artefact writes (`file_io`) and conversion to and from
other libraries' checkpoints (`transformers`)."""
