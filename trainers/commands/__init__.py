"""The `theseus-tf` subcommands, one module each (flags, checks, run), sharing
the flag vocabulary of `flags.py` and the config files of `config_files.py`."""
