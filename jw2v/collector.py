"""Python's cyclic garbage collector, paused around work that makes many objects and no cyclic garbage."""

from __future__ import annotations

import contextlib
import gc
from typing import Callable, Iterator


class _Resume:
  """Turns the collector back on (if it was on before the pause), once."""

  def __init__(self, was_enabled: bool):
    self.was_enabled, self.done = was_enabled, False

  def __call__(self) -> None:
    if not self.done:
      self.done = True
      if self.was_enabled:
        gc.enable()


@contextlib.contextmanager
def paused() -> Iterator[Callable[[], None]]:
  """Turns the collector off for the `with` block, and back on at its end if it was on.

  Reading a corpus into memory (a string per token, a list per line) and tracing and compiling JAX
  programs allocate so many objects that full collections keep starting, each walking every object of
  the process, while none of the new ones is cyclic garbage. The context yields a function that turns
  the collector back on before the block ends (for what follows in it); calling it again does nothing.
  """
  resume = _Resume(gc.isenabled())
  gc.disable()
  try:
    yield resume
  finally:
    resume()
