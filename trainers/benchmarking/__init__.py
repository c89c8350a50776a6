"""`theseus-tf benchmark`: speed, memory and dev score of a compression.

- `formats`: the formats a model is run in (the flags' choices).
- `models`: the model variants (predecessor, successor, the plain model of
  the successor's depth, `--compare` models), loaded and checked.
- `inference`: each variant exported to each format and timed.
- `training`: time per step (and peak memory) of fine-tuning vs Theseus.
- `scores`: dev score of each variant in each format.
- `report`: machine info and the JSON, Markdown and PNG outputs.
- `runner`: the whole benchmark, in that order.
"""
