"""The errors `theseus-tf` reports as one line, without a traceback."""


class UsageError(Exception):
  """Bad input (flags, config file, data, model), found before work starts.

  `theseus-tf` prints it as a single `theseus-tf: error: ...` line and exits
  with status 2. The message says what is wrong and how to fix it.
  """

  def __init__(self, message):
    super().__init__(one_line(message))


class CommandFailed(Exception):
  """Work that started could not finish (e.g. a measurement's subprocess
  died): one `theseus-tf: error: ...` line, exit status 1."""

  def __init__(self, message):
    super().__init__(one_line(message))


def one_line(message):
  """Joins the non-blank lines of `message` (a library error) with spaces."""
  return " ".join(
      line.strip() for line in str(message).splitlines() if line.strip())
