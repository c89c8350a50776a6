"""Which predecessor layers form each module, and which initialise successors."""

import warnings

SUCCESSOR_INIT_CHOICES = ("bottom", "top", "every_k")


def group_modules(num_layers, num_modules=None, grouping=None):
  """Splits `num_layers` consecutive layers into modules.

  Args:
    num_layers: Depth of the predecessor stack.
    num_modules: Number of equal modules; must divide `num_layers` unless
      `grouping` is given.
    grouping: Explicit grouping for uneven ratios: either module sizes
      (`[3, 3, 2, 2, 2]`) or the layer indices of each module
      (`[[0, 1, 2], [3, 4, 5], ...]`). Modules are consecutive and cover
      every layer once, in order.

  Returns:
    A list of lists of layer indices, one list per module.

  Example:

  ```python
  group_modules(12, num_modules=6)           # [[0, 1], [2, 3], ..., [10, 11]]
  group_modules(12, grouping=[3, 3, 2, 2, 2])  # 12 -> 5
  ```
  """
  if not isinstance(num_layers, int) or num_layers < 1:
    raise ValueError(f"`num_layers` must be a positive integer, got {num_layers!r}.")
  if grouping is not None:
    groups = _normalise_grouping(num_layers, grouping)
    if num_modules is not None and num_modules != len(groups):
      raise ValueError(
          f"`grouping` has {len(groups)} modules but `num_modules` is "
          f"{num_modules}: pass one of them, or make them agree.")
    return _warn_if_no_compression(num_layers, groups)
  if not isinstance(num_modules, int) or num_modules < 1:
    raise ValueError(
        f"`num_modules` must be a positive integer, got {num_modules!r}.")
  if num_modules > num_layers:
    raise ValueError(
        f"Cannot split {num_layers} layers into {num_modules} modules: a "
        "module needs at least one layer.")
  if num_layers % num_modules:
    raise ValueError(
        f"{num_layers} layers do not divide into {num_modules} equal modules. "
        f"Pass an explicit `grouping` of module sizes that sum to {num_layers}, "
        f"e.g. {_example_sizes(num_layers, num_modules)}.")
  size = num_layers // num_modules
  return _warn_if_no_compression(
      num_layers,
      [list(range(i * size, (i + 1) * size)) for i in range(num_modules)])


def _warn_if_no_compression(num_layers, groups):
  if len(groups) == num_layers:
    warnings.warn(
        f"{num_layers} layers in {len(groups)} modules: every module is one "
        "layer, so the successor is as deep as the predecessor and nothing "
        "is compressed. Use fewer modules (e.g. "
        f"num_modules={max(1, num_layers // 2)}).", UserWarning, stacklevel=3)
  return groups


def _example_sizes(num_layers, num_modules):
  base, extra = divmod(num_layers, num_modules)
  return [base + 1] * extra + [base] * (num_modules - extra)


def _normalise_grouping(num_layers, grouping):
  grouping = list(grouping)
  if not grouping:
    raise ValueError("`grouping` is empty: give at least one module.")
  if all(isinstance(g, int) for g in grouping):
    if any(g < 1 for g in grouping) or sum(grouping) != num_layers:
      raise ValueError(
          f"`grouping` sizes {grouping} must be positive and sum to the "
          f"{num_layers} predecessor layers.")
    groups, start = [], 0
    for size in grouping:
      groups.append(list(range(start, start + size)))
      start += size
    return groups
  groups = [list(g) for g in grouping]
  flat = [i for g in groups for i in g]
  if any(not g for g in groups) or flat != list(range(num_layers)):
    raise ValueError(
        f"`grouping` {grouping} must list consecutive, non-empty modules that "
        f"cover layers 0..{num_layers - 1} once each, in order.")
  return groups


def select_successor_layers(num_layers, num_successor_layers, init="bottom"):
  """Indices of the predecessor layers whose weights initialise the successors.

  Args:
    num_layers: Depth of the predecessor stack.
    num_successor_layers: How many successor layers to initialise.
    init: `"bottom"` (layers 0..n-1, the paper's choice), `"top"` (the last
      n), `"every_k"` (every k-th layer, k = num_layers / n: layers k-1,
      2k-1, ... counting from 0), or an explicit list of n layer indices.

  Returns:
    A list of `num_successor_layers` layer indices.
  """
  n = num_successor_layers
  if not isinstance(n, int) or not 1 <= n <= num_layers:
    raise ValueError(
        f"Cannot initialise {n!r} successor layers from {num_layers} "
        "predecessor layers: need 1 <= successors <= predecessors.")
  if isinstance(init, str):
    if init == "bottom":
      return list(range(n))
    if init == "top":
      return list(range(num_layers - n, num_layers))
    if init == "every_k":
      if num_layers % n:
        raise ValueError(
            f"init='every_k' needs the {num_layers} predecessor layers to be "
            f"a multiple of the {n} successor layers; pass an explicit list "
            "of layer indices instead.")
      k = num_layers // n
      return [k * (i + 1) - 1 for i in range(n)]
    raise ValueError(
        f"Unknown successor init {init!r}: use one of "
        f"{', '.join(SUCCESSOR_INIT_CHOICES)} or a list of layer indices.")
  indices = list(init)
  if len(indices) != n or any(
      not isinstance(i, int) or not 0 <= i < num_layers for i in indices):
    raise ValueError(
        f"Successor init {init!r} must list {n} predecessor layer indices in "
        f"[0, {num_layers - 1}].")
  return indices
