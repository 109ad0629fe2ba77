"""The C allocator's settings for training on CPU devices: keep freed memory for reuse.

XLA's CPU runtime allocates each dispatch's temporary buffers afresh (with local updates, a copy of each
table and the merge's sums). glibc's malloc hands blocks of more than 32 MB straight back to the
operating system when they are freed, and gives each thread its own arena, so with tables of more than
32 MB every dispatch faults its buffers' pages in again; on a virtual machine that costs more than the
arithmetic (the performance docs measure it). `keep_freed_memory` makes glibc keep freed memory in one
arena for the next allocation instead. It must run before JAX starts its CPU client (whose threads then
share that arena); the command line calls it first.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_KEEP_UP_TO = 2 ** 31 - 1  # bytes free at the top of the heap before glibc returns any (mallopt takes an int)


def keep_freed_memory() -> bool:
  """Asks glibc's malloc to keep freed memory for reuse: one arena, no blocks mapped on their own, and the
  heap not trimmed. The process then keeps its peak memory until it exits.

  Call it before JAX starts (before the first `jax.devices()`, `jax.numpy` operation or `jw2v.train`): the
  threads JAX starts afterwards share the one arena. It changes no result, only how memory is reused.

  Returns:
    True if the settings were made (Linux with glibc), False elsewhere (nothing is changed).
  """
  if not sys.platform.startswith('linux'):
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    mallopt = libc.mallopt
  except (OSError, AttributeError):  # not glibc (musl has no mallopt)
    return False
  mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
  return all([mallopt(_M_ARENA_MAX, 1), mallopt(_M_MMAP_MAX, 0), mallopt(_M_TRIM_THRESHOLD, _KEEP_UP_TO)])
