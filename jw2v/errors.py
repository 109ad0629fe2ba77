"""Exceptions for input the user can fix. The CLI prints them as one line, without a traceback."""

import contextlib
import sys
from typing import Callable, Optional


class Jw2vError(Exception):
  """Base class of jw2v's user-facing errors, in terms of Config fields and function arguments.

  Attributes:
    field: the Config field or argument the message names first (None: none); the CLI puts its flag there.
  """

  def __init__(self, message: str, field: Optional[str] = None):
    super().__init__(message)
    self.field = field


class ConfigError(Jw2vError, ValueError):
  """An impossible hyperparameter or option."""


class DataError(Jw2vError, ValueError):
  """A corpus, vocabulary or vectors file that cannot be used."""


class OutputExistsError(Jw2vError, FileExistsError):
  """An output directory already holds results that would be overwritten."""


class UnknownWordError(Jw2vError, KeyError):
  """A queried word is not in the vocabulary."""

  def __str__(self):  # KeyError would print the repr of its argument
    return str(self.args[0])


@contextlib.contextmanager
def reading(path, what: str):
  """Turns an OSError raised while reading `path` into a one-line DataError naming `what` and the path."""
  try:
    yield
  except FileNotFoundError:
    raise DataError(f'{what} not found: {path}') from None
  except IsADirectoryError:
    raise DataError(f'{what} is a directory, not a file: {path}') from None
  except OSError as e:
    raise DataError(f'cannot read {what} {path}: {e.strerror or e}') from None


def exit_status(prog: str, run: Callable[[], Optional[int]]) -> int:
  """Runs a command's `run()` and returns its exit status, printing errors the user can fix as one line.

  A jw2v error, a diverged run (FloatingPointError) or an OSError becomes `prog: error: ...` on stderr
  and status 1, Ctrl-C `prog: interrupted` and 130; anything else (a bug) keeps its traceback.

  Args:
    prog: the command's name, first on the error line.
    run: the command; returns its status (None: 0).

  Returns:
    The exit status.
  """
  try:
    return run() or 0
  except (Jw2vError, FloatingPointError) as e:
    print(f'{prog}: error: {e}', file=sys.stderr)
  except OSError as e:
    where = f'{e.filename}: ' if e.filename else ''
    print(f'{prog}: error: {where}{e.strerror or e}', file=sys.stderr)
  except KeyboardInterrupt:
    print(f'{prog}: interrupted', file=sys.stderr)
    return 130
  return 1
