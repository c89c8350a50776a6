"""Per-example training losses: the task loss and vanilla distillation."""

import tensorflow as tf


def _kind(problem_type):
  """Hugging Face's problem type; `True`/`False` mean regression or not."""
  if isinstance(problem_type, bool):
    return "regression" if problem_type else "single_label_classification"
  return problem_type or "single_label_classification"


def task_loss(logits, labels, problem_type):
  """The task loss of each example.

  Cross-entropy on class logits; squared error for regression; for
  multi-label tasks the binary cross-entropy of each label's sigmoid,
  averaged over labels (Hugging Face's `BCEWithLogitsLoss`).

  Args:
    logits: float32 `[batch, num_labels]` (`[batch, 1]` for regression).
    labels: int `[batch]` class ids, float `[batch]` scores, or float
      multi-hot `[batch, num_labels]`.
    problem_type: `"single_label_classification"`, `"regression"` or
      `"multi_label_classification"` (or a bool: whether it is regression).

  Returns:
    float32 `[batch]` losses.
  """
  logits = tf.cast(logits, tf.float32)
  kind = _kind(problem_type)
  if kind == "regression":
    return tf.square(logits[:, 0] - tf.cast(labels, tf.float32))
  if kind == "multi_label_classification":
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=logits), axis=-1)
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32), logits=logits)


def distillation_loss(student_logits, teacher_logits, labels, problem_type,
                      temperature, alpha):
  """Vanilla knowledge distillation (Hinton et al., 2015).

  `alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) +
  (1 - alpha) * task_loss(labels, student)`. For regression the soft term is
  the squared error to the teacher's score; for multi-label tasks it is the
  binary cross-entropy to each label's soft target `sigmoid(teacher / T)`
  (times `T^2`, averaged over labels).

  Returns:
    float32 `[batch]` losses.
  """
  student_logits = tf.cast(student_logits, tf.float32)
  teacher_logits = tf.stop_gradient(tf.cast(teacher_logits, tf.float32))
  kind = _kind(problem_type)
  hard = task_loss(student_logits, labels, kind)
  if kind == "regression":
    soft = tf.square(student_logits[:, 0] - teacher_logits[:, 0])
  elif kind == "multi_label_classification":
    soft = temperature**2 * tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.sigmoid(teacher_logits / temperature),
            logits=student_logits / temperature), axis=-1)
  else:
    teacher_log_probs = tf.nn.log_softmax(teacher_logits / temperature)
    student_log_probs = tf.nn.log_softmax(student_logits / temperature)
    soft = temperature**2 * tf.reduce_sum(
        tf.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs),
        axis=-1)
  return alpha * soft + (1.0 - alpha) * hard
