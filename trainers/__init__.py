"""The `theseus-tf` command line (see docs/CLI.md): `cli.py` is the entry point,
`commands/` one module per subcommand, `training/` the finetune/compress run,
`benchmarking/` what `benchmark` measures; the modules here are shared by them.
"""
