"""Python's cyclic garbage collector, paused around work that makes many objects and no cyclic garbage."""

from __future__ import annotations

import contextlib
import gc
from typing import Callable, Iterator


@contextlib.contextmanager
def paused() -> Iterator[Callable[[], None]]:
  """Turns the collector off for the `with` block, and back on at its end if it was on.

  Reading a corpus into memory (a string per token, a list per line) and tracing and compiling JAX
  programs allocate so many objects that full collections keep starting, each walking every object of
  the process, while none of the new ones is cyclic garbage. The context yields a function that turns
  the collector back on before the block ends (for what follows in it); calling it again does nothing.
  """
  was_enabled = gc.isenabled()
  resumed = []

  def resume():
    if not resumed:
      resumed.append(True)
      if was_enabled:
        gc.enable()

  gc.disable()
  try:
    yield resume
  finally:
    resume()
