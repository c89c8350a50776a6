"""The `theseus-tf` command line: GLUE fine-tuning, BERT-of-Theseus compression
and its baselines, evaluation, and the offline demo (see docs/CLI.md)."""
