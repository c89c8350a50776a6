"""Machine info and the benchmark's files: JSON, Markdown tables, a PNG plot."""

import importlib.metadata
import io
import os
import pathlib
import platform

import tensorflow as tf

from theseus_tf.utils.file_io import atomic_write_bytes, atomic_write_text
from trainers.atomic_io import atomic_write_json
from trainers.training.run_info import package_versions

JSON_FILE = "benchmark.json"
MARKDOWN_FILE = "benchmark.md"
PLOT_FILE = "benchmark.png"

_EXTRA_PACKAGES = ("ai-edge-litert", "tensorflow-text", "matplotlib")


def _cpu_model():
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.lower().startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _memory_gib():
  try:
    with open("/proc/meminfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("MemTotal:"):
          return round(int(line.split()[1]) / 2**20, 1)  # kB -> GiB
  except OSError:
    pass
  return None


def _gpus():
  names = []
  for gpu in tf.config.list_physical_devices("GPU"):
    try:
      details = tf.config.experimental.get_device_details(gpu)
    except (ValueError, RuntimeError):
      details = {}
    names.append(details.get("device_name", gpu.name))
  return names


def machine_info():
  """Where the numbers were measured: CPU, cores, GPUs, memory, versions."""
  versions = package_versions()
  for name in _EXTRA_PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count()
  return {
      "platform": platform.platform(),
      "cpu": _cpu_model(),
      "cpu_cores": os.cpu_count(),
      "cpu_cores_usable": usable,
      "memory_gib": _memory_gib(),
      "gpus": _gpus(),
      "load_average_at_start": list(os.getloadavg()),
      "versions": versions,
  }


def _count(number):
  return (f"{number / 1e6:.1f}M" if number >= 1e6 else
          f"{number / 1e3:.1f}K")


def _plural(count):
  return "" if count == 1 else "s"


def _ratio(value):
  return "-" if value is None else f"{value:.2f}x"


def _ratios(values, batch_sizes):
  return " / ".join(_ratio(values.get(str(b))) for b in batch_sizes)


def _speed_cell(row, batch_size):
  b = str(batch_size)
  if b not in row["ms"]:
    return "-"
  if batch_size == 1:
    return f"{row['ms'][b]:.1f}"
  return f"{row['examples_per_second'][b]:.1f}"


def _score_cell(row):
  if row.get("score") is None:
    return "-"
  source = row.get("score_from")
  return f"{row['score']:.4f}" + (f" (= {source})" if source else "")


def _table(header, rows, text_columns=1):
  """A Markdown table; the first `text_columns` are left-aligned."""
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < text_columns else "---:"
                          for i in range(len(header))) + "|"]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)


def inference_table(result):
  """The inference rows as a Markdown table."""
  settings = result["settings"]
  batch_sizes = settings["batch_sizes"]
  speed = [f"batch {b} (ms)" if b == 1 else f"batch {b} (ex/s)"
           for b in batch_sizes]
  sizes = " / ".join(str(b) for b in batch_sizes)
  header = (["model", "layers", "format", "size (MiB)"] + speed + [
      f"speed-up vs predecessor Keras (batch {sizes})",
      f"speed-up vs predecessor, same format (batch {sizes})", "dev score"])
  rows = []
  for row in result["inference"]:
    rows.append(
        [row["model"], row["num_layers"], row["format"],
         f"{row['size_bytes'] / 2**20:.1f}"] +
        [_speed_cell(row, b) for b in batch_sizes] +
        [_ratios(row["speedup_vs_predecessor_keras"], batch_sizes),
         _ratios(row["speedup_vs_predecessor_same_format"], batch_sizes),
         _score_cell(row)])
  return _table(header, rows, text_columns=3)


def _step_compilation(settings):
  xla = "XLA-compiled" if settings.get("jit_compile") else "tf.function"
  precision = ("mixed precision" if settings.get("mixed_precision") else
               "float32")
  return f"Steps: {xla}, {precision}."


def training_table(result):
  """The training rows as a Markdown table."""
  header = ["configuration", "trainable parameters", "step (ms)",
            "vs fine-tuning", "vs plain", "examples/s", "peak memory (MiB)",
            "PyTorch step (ms)", "vs PyTorch"]
  rows = []
  for row in result["training"]:
    memory = row.get("peak_memory_mib")
    torch_ms = row.get("torch_step_ms")
    rows.append([
        row["name"], _count(row["trainable_parameters"]),
        f"{row['step_ms']:.1f}", _ratio(row["ratio_to_finetuning"]),
        _ratio(row["ratio_to_plain"]), f"{row['examples_per_second']:.1f}",
        "-" if memory is None else f"{memory:.0f}",
        "-" if torch_ms is None else f"{torch_ms:.1f}",
        "-" if torch_ms is None else _ratio(row["ratio_to_torch"])])
  return _table(header, rows)


def markdown(result):
  """The whole report as Markdown."""
  machine = result["machine"]
  settings = result["settings"]
  versions = machine["versions"]
  gpus = ", ".join(machine["gpus"]) or "none"
  lines = [
      "# theseus-tf benchmark", "",
      f"Machine: {machine['cpu']}, {machine['cpu_cores_usable']} usable CPU "
      f"cores, {machine['memory_gib']} GiB RAM, GPUs: {gpus}; "
      f"load average at start {machine['load_average_at_start'][0]:.2f}. "
      f"TensorFlow {versions.get('tensorflow')}, {versions.get('keras_in_use')}"
      f", LiteRT {versions.get('ai-edge-litert')}.", "",
      "Ratios are the headline: absolute times depend on the machine and its "
      "load.", ""]
  for model in result["models"]:
    note = f" ({model['note']})" if model["note"] else ""
    lines.append(f"- **{model['name']}**: {model['num_layers']} "
                 f"layer{_plural(model['num_layers'])}, "
                 f"hidden {model['hidden_size']}, "
                 f"{_count(model['num_parameters'])} parameters; "
                 f"{model['source']}{note}")
  lines.append("")
  if result["inference"]:
    devices = [r["device"] for r in result["inference"]
               if not r["format"].startswith("tflite")]
    where = f"Keras and SavedModel run on {devices[0]}, " if devices else ""
    calibration = (f" int8 calibration: {settings['calibration']}."
                   if settings.get("calibration") else "")
    lines += [
        f"## Inference (sequence length {settings['seq_length']})", "",
        f"Median of {settings['runs']} timed calls after {settings['warmup']} "
        f"warm-up call{_plural(settings['warmup'])}, all model/format pairs "
        "interleaved in shuffled "
        "rounds; speed-ups are medians of per-round ratios (> 1: faster than "
        f"the predecessor). {where}TFLite on the CPU with "
        f"{settings['tflite_threads']} threads. Keras size: the float32 "
        f"weights; others: the exported files.{calibration}", "",
        inference_table(result), ""]
    if settings.get("task") is None:
      lines += ["No dev scores: pass --task (with a fine-tuned --model "
                "or --successor) to score the models.", ""]
  if result["training"]:
    memory = result["training"][0]["memory"]
    lines += [
        f"## Training step (batch {settings['train_batch_size']} x "
        f"{settings['seq_length']} tokens)", "",
        f"Median of {settings['train_steps']} optimizer "
        f"step{_plural(settings['train_steps'])} (AdamW, task loss, compiled "
        "step) after warm-up. Theseus trains the successor "
        "layers only, at a constant replacement rate p. Peak memory: "
        f"{memory}. {_step_compilation(settings)} PyTorch: the same steps "
        "with Hugging Face transformers on PyTorch (eager, AdamW), timed in "
        "the same run.", "",
        training_table(result), ""]
  if result["notes"]:
    lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
  return "\n".join(lines)


def plot_png(result):
  """`benchmark.png`: dev score (or size) vs the smallest batch's latency."""
  # The Agg canvas directly: no pyplot global state, no display needed.
  import matplotlib  # pylint: disable=import-outside-toplevel
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  from matplotlib.lines import Line2D  # pylint: disable=import-outside-toplevel
  batch = str(min(result["settings"]["batch_sizes"]))
  rows = [r for r in result["inference"] if batch in r["ms"]]
  scored = [r for r in rows if r.get("score") is not None]
  models = list(dict.fromkeys(r["model"] for r in rows))
  formats = list(dict.fromkeys(r["format"] for r in rows))
  palette = matplotlib.colormaps["tab10"]
  colors = {m: palette(i % 10) for i, m in enumerate(models)}
  markers = dict(zip(formats, "osD^vP*Xh"))
  figure = Figure(figsize=(10, 6), dpi=110)
  FigureCanvasAgg(figure)
  axes = figure.subplots()
  points = scored or rows
  placed = []
  for row in points:
    x = row["ms"][batch]
    y = row["score"] if scored else row["size_bytes"] / 2**20
    # Later models smaller: coinciding points (successor and plain) stay
    # visible as concentric markers.
    size = max(20, 110 - 35 * models.index(row["model"]))
    axes.scatter(x, y, color=colors[row["model"]],
                 marker=markers.get(row["format"], "o"), s=size, zorder=3,
                 edgecolors="white", linewidths=0.5)
    placed.append((x, y, f"{row['model']} / {row['format']}"))
  xs = [x for x, _, _ in placed]
  if xs and max(xs) > 10 * min(xs):
    axes.set_xscale("log")
  _label_points(figure, axes, placed)
  # Legends: colour = model, marker = format.
  handles = [Line2D([], [], color=colors[m], marker="o", ls="",
                           label=m) for m in models]
  handles += [Line2D([], [], color="grey", marker=markers.get(f, "o"),
                            ls="", label=f) for f in formats]
  axes.legend(handles=handles, fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
  seq = result["settings"]["seq_length"]
  axes.set_xlabel(f"latency at batch {batch}, sequence length {seq} (ms, "
                  "median)")
  if scored:
    task = result["settings"]["task"]
    axes.set_ylabel(f"{task} dev score")
    left_out = len(rows) - len(scored)
    title = f"{task} dev score vs batch-{batch} latency"
    if left_out:
      title += f" ({left_out} unscored model/format pairs not shown)"
  else:
    axes.set_ylabel("size (MiB)")
    title = (f"size vs batch-{batch} latency (no dev scores: pass --task with "
             "a fine-tuned model)")
  axes.set_title(title, fontsize=10)
  axes.grid(True, alpha=0.3)
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", bbox_inches="tight")
  return buffer.getvalue()


def _label_points(figure, axes, points, fontsize=7):
  """Labels each point, nudging labels so that they do not overlap.

  Greedy: each label takes the first of a few offsets (right of the point,
  above or below it, then left) whose box, estimated from the text length,
  stays inside the axes and overlaps no label placed before; failing that,
  the offset with the least overlap.
  """
  figure.canvas.draw()  # Fixes the limits, hence the data -> pixel mapping.
  scale = figure.dpi / 72.0  # Points -> pixels.
  height = (fontsize + 2) * scale
  frame = axes.get_window_extent()
  boxes = []

  def overlap(a, b):
    return (max(0.0, min(a[2], b[2]) - max(a[0], b[0])) *
            max(0.0, min(a[3], b[3]) - max(a[1], b[1])))

  for x, y, text in sorted(points, key=lambda p: (p[0], p[1])):
    px, py = axes.transData.transform((x, y))
    width = len(text) * fontsize * 0.62 * scale
    rises = [2, 11, -11, 20, -20, 29, -29, 38, -38, 47, -47]
    candidates = [(4, dy) for dy in rises]
    candidates += [(-4 - width / scale, dy) for dy in rises[:5]]
    best = None
    for dx, dy in candidates:
      left, bottom = px + dx * scale, py + dy * scale - height / 2
      box = (left, bottom, left + width, bottom + height)
      outside = (box[2] - box[0]) * (box[3] - box[1]) - overlap(
          box, (frame.x0, frame.y0, frame.x1, frame.y1))
      cost = outside + sum(overlap(box, other) for other in boxes)
      if best is None or cost < best[0]:
        best = (cost, (dx, dy), box)
      if cost == 0:
        break
    _, chosen, box = best
    boxes.append(box)
    leader = None if chosen == candidates[0] else {
        "arrowstyle": "-", "lw": 0.4, "color": "grey"}
    axes.annotate(text, (x, y), fontsize=fontsize, xytext=chosen,
                  textcoords="offset points", va="center", arrowprops=leader)


def write_report(output_dir, result):
  """Writes benchmark.json, benchmark.md and (with inference) benchmark.png.

  Each file is written atomically; the PNG and Markdown are rendered before
  anything is written, so a rendering error leaves the folder as it was.

  Returns:
    The written paths.
  """
  output_dir = pathlib.Path(output_dir)
  text = markdown(result)
  png = plot_png(result) if result["inference"] else None
  paths = [atomic_write_json(output_dir / JSON_FILE, result),
           atomic_write_text(output_dir / MARKDOWN_FILE, text)]
  if png is not None:
    paths.append(atomic_write_bytes(output_dir / PLOT_FILE, png))
  return paths
