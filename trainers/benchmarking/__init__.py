"""`theseus-tf benchmark`: speed, memory and dev score of a compression.

- `models`: the model variants (predecessor, successor, the plain model of
  the successor's depth, extra `--model`s), loaded and checked.
- `inference`: each variant exported to each format and timed.
- `training`: time per step (and peak memory) of fine-tuning vs Theseus.
- `scores`: dev score of each variant in each format.
- `report`: machine info and the JSON, Markdown and PNG outputs.
- `runner`: the whole benchmark, in that order.
"""
