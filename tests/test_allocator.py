"""The C allocator's settings: made on Linux with glibc, in a process of their own (they last until it ends)."""

import json
import subprocess
import sys

import pytest

CHECK = r'''
import ctypes, ctypes.util, json, sys
import jw2v
made = jw2v.keep_freed_memory() if sys.argv[1] == 'keep' else None
import jax.numpy as jnp

class MallInfo2(ctypes.Structure):
  _fields_ = [(name, ctypes.c_size_t) for name in
              ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]

libc = ctypes.CDLL(ctypes.util.find_library('c'))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
block = libc.malloc(48 << 20)  # over 32 MB: glibc maps such a block on its own, and unmaps it when freed
mapped = libc.mallinfo2().hblkhd
libc.free(block)
kept = libc.mallinfo2().fordblks  # free bytes glibc holds for reuse
print(json.dumps({'made': made, 'mapped_alone': mapped >= 48 << 20, 'kept': kept >= 48 << 20,
                  'sum': float(jnp.ones(4).sum())}))
'''


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc settings')
def test_freed_memory_is_kept_for_reuse():
  kept, plain = _check('keep'), _check('plain')
  assert kept == {'made': True, 'mapped_alone': False, 'kept': True, 'sum': 4.0}
  assert plain == {'made': None, 'mapped_alone': True, 'kept': False, 'sum': 4.0}  # glibc's defaults


def _check(mode: str) -> dict:
  done = subprocess.run([sys.executable, '-c', CHECK, mode], capture_output=True, text=True, timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  return json.loads(done.stdout.strip().splitlines()[-1])


def test_elsewhere_nothing_is_changed(monkeypatch):
  from jw2v import allocator
  monkeypatch.setattr(allocator.sys, 'platform', 'darwin')
  assert allocator.keep_freed_memory() is False
