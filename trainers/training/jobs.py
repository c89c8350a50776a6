"""What a run trains: the model, its loss, its phases, and what it exports.

- `finetune`: the loaded classifier, task loss.
- `compress --method theseus`: the predecessor's encoder layers wrapped in
  `ModuleReplacing` modules (`build_theseus_classifier`); only successors
  train (and, with `--unfreeze-shared`, embeddings, pooler and head once
  p = 1); exports the stripped successor.
- `compress --method finetune`: the predecessor layers chosen by `--init`,
  fine-tuned directly as a `--num-layers` classifier.
- `compress --method distill`: a copy of those layers (and of the
  embeddings, pooler and head) trained on the predecessor's soft targets.
"""

import dataclasses
from typing import Callable, Optional

import theseus_tf
from theseus_tf.models import (build_bert_classifier, build_theseus_classifier,
                               set_shared_trainable)
from trainers.training import losses
from trainers.errors import UsageError


@dataclasses.dataclass
class TrainingJob:
  """A model to train and how.

  Attributes:
    model: The model the optimizer trains and the checkpoint saves.
    export_model: The compact `BertClassifier` that is evaluated and written
      out; it shares its variables with `model`.
    loss: `loss(features, labels, logits)` -> float32 per-example losses,
      where `logits = model(features, training=True)`.
    variables: Every variable the optimizer updates in any phase.
    phase_of: `phase_of(step)` -> phase number; the trainer calls
      `enter_phase(phase)` (which may change what is trainable) whenever it
      changes, and at the start.
    enter_phase: See `phase_of`.
    replacement_rate: `replacement_rate()` -> the p of the last training
      step, read from the model's `ModuleReplacing` step counter (theseus
      only, else None).
  """
  model: object
  export_model: object
  loss: Callable
  variables: list
  phase_of: Callable = lambda step: 0
  enter_phase: Callable = lambda phase: None
  replacement_rate: Optional[Callable] = None


def _task_loss(problem_type):
  return lambda features, labels, logits: losses.task_loss(
      logits, labels, problem_type)


def finetune_job(model):
  """Fine-tunes `model` (a `BertClassifier`) as it is."""
  return TrainingJob(model=model, export_model=model,
                     loss=_task_loss(model.problem_type),
                     variables=list(model.trainable_variables))


def successor_depth(args, predecessor):
  """`--num-layers`, `len(--grouping)`, or half the predecessor's depth."""
  if args.grouping is not None:
    return len(args.grouping)
  if args.num_layers is not None:
    return args.num_layers
  return max(1, predecessor.backbone.num_layers // 2)


def _check_structure(args, predecessor, depth):
  """Checks grouping and init against the predecessor, as one-line errors."""
  num_layers = predecessor.backbone.num_layers
  try:
    if args.method == "theseus":
      theseus_tf.group_modules(num_layers, depth, args.grouping)
    return theseus_tf.select_successor_layers(num_layers, depth, args.init)
  except ValueError as error:
    raise UsageError(
        f"--model has {num_layers} layers: {error}") from None


def compress_job(args, predecessor, schedule, replacing_steps):
  """The `TrainingJob` of `compress --method <args.method>`.

  Args:
    args: The validated flags.
    predecessor: The fine-tuned `BertClassifier`; built in the strategy scope.
    schedule: The replacement schedule (theseus).
    replacing_steps: First step of the successor-only phase (theseus).
  """
  depth = successor_depth(args, predecessor)
  indices = _check_structure(args, predecessor, depth)
  backbone = predecessor.backbone
  if args.method == "theseus":
    return _theseus_job(args, predecessor, depth, schedule, replacing_steps)
  if args.method == "finetune":
    layers = [backbone.transformer_layers[i] for i in indices]
    student = build_bert_classifier(
        backbone.embeddings, layers, backbone.pooler,
        head=predecessor.output_dense, dropout=predecessor.dropout,
        problem_type=predecessor.problem_type, id2label=predecessor.id2label,
        head_type=predecessor.head_type, head_dense=predecessor.head_dense,
        name=f"finetune_{depth}_layers")
    return finetune_job(student)
  return _distill_job(args, predecessor, depth)


def _theseus_job(args, predecessor, depth, schedule, replacing_steps):
  model = build_theseus_classifier(
      predecessor, num_modules=depth, grouping=args.grouping, init=args.init,
      schedule=schedule, seed=args.seed)
  variables = list(model.trainable_variables)
  if args.unfreeze_shared:
    set_shared_trainable(model, True)
    variables = list(model.trainable_variables)
    set_shared_trainable(model, False)

  def phase_of(step):
    return int(args.unfreeze_shared and step >= replacing_steps)

  def enter_phase(phase):
    set_shared_trainable(model, bool(phase))

  module = theseus_tf.module_replacing_layers(model)[0]

  def replacement_rate():
    # The step counter counts training calls: the last one drew at step - 1.
    step = max(int(module.replacement_step.numpy()) - 1, 0)
    return float(module.replacement_rate(step))

  loss = _task_loss(model.problem_type)
  if args.alpha is not None:  # Theseus + KD.
    loss = _soft_target_loss(args, predecessor, model.problem_type)

  return TrainingJob(
      model=model, export_model=theseus_tf.strip_successor(model),
      loss=loss, variables=variables,
      phase_of=phase_of, enter_phase=enter_phase,
      replacement_rate=replacement_rate)


def _copy_or_none(layer, name):
  """A trained copy of `layer`; None (a family without it) stays None."""
  return None if layer is None else theseus_tf.copy_layer(layer, name)


def _distill_job(args, teacher, depth):
  backbone = teacher.backbone
  teacher.trainable = False
  student = build_bert_classifier(
      theseus_tf.copy_layer(backbone.embeddings, "student_embeddings"),
      theseus_tf.build_successor_layers(
          backbone.transformer_layers, depth, args.init,
          name_prefix="student_layer"),
      _copy_or_none(backbone.pooler, "student_pooler"),
      head=theseus_tf.copy_layer(teacher.output_dense, "student_classifier"),
      dropout=teacher.dropout, problem_type=teacher.problem_type,
      id2label=teacher.id2label, head_type=teacher.head_type,
      head_dense=_copy_or_none(teacher.head_dense, "student_head_dense"),
      name=f"distill_{depth}_layers")

  return TrainingJob(
      model=student, export_model=student,
      loss=_soft_target_loss(args, teacher, student.problem_type),
      variables=list(student.trainable_variables))


def _soft_target_loss(args, teacher, problem_type):
  """The distillation loss against the frozen `teacher`'s outputs."""

  def loss(features, labels, logits):
    teacher_logits = teacher(features, training=False)
    return losses.distillation_loss(logits, teacher_logits, labels,
                                    problem_type, args.temperature,
                                    args.alpha)

  return loss
