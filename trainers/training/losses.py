"""Per-example training losses: the task loss and vanilla distillation."""

import tensorflow as tf


def task_loss(logits, labels, is_regression):
  """Cross-entropy on class logits, or squared error for regression.

  Args:
    logits: float32 `[batch, num_labels]` (`[batch, 1]` for regression).
    labels: int `[batch]` class ids, or float `[batch]` scores.
    is_regression: Which of the two.

  Returns:
    float32 `[batch]` losses.
  """
  logits = tf.cast(logits, tf.float32)
  if is_regression:
    return tf.square(logits[:, 0] - tf.cast(labels, tf.float32))
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32), logits=logits)


def distillation_loss(student_logits, teacher_logits, labels, is_regression,
                      temperature, alpha):
  """Vanilla knowledge distillation (Hinton et al., 2015).

  `alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) +
  (1 - alpha) * CE(labels, student)`; for regression the soft term is the
  squared error to the teacher's score.

  Returns:
    float32 `[batch]` losses.
  """
  student_logits = tf.cast(student_logits, tf.float32)
  teacher_logits = tf.stop_gradient(tf.cast(teacher_logits, tf.float32))
  hard = task_loss(student_logits, labels, is_regression)
  if is_regression:
    soft = tf.square(student_logits[:, 0] - teacher_logits[:, 0])
  else:
    teacher_log_probs = tf.nn.log_softmax(teacher_logits / temperature)
    student_log_probs = tf.nn.log_softmax(student_logits / temperature)
    soft = temperature**2 * tf.reduce_sum(
        tf.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs),
        axis=-1)
  return alpha * soft + (1.0 - alpha) * hard
