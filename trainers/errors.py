"""The error that the command line reports as one line, with exit code 2."""


class UsageError(Exception):
  """Bad input (flags, config file, data, model), found before training starts.

  `theseus-tf` prints it as a single `theseus-tf: error: ...` line, without a
  traceback, and exits with status 2. The message says what is wrong and how
  to fix it.
  """

  def __init__(self, message):
    super().__init__(one_line(message))


def one_line(message):
  """Joins the non-blank lines of `message` (a library error) with spaces."""
  return " ".join(
      line.strip() for line in str(message).splitlines() if line.strip())
