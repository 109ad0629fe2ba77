"""Writing files so that a reader sees either the old complete file or the new complete one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = 'wb', encoding: str | None = None):
  """Opens a temporary file beside `path`; on success it is flushed, synced and renamed over `path`.

  On an exception the temporary file is removed and `path` is left as it was. The file gets the usual
  permissions (the umask applies), unlike a `tempfile.mkstemp` file.
  """
  path = Path(path)
  tmp = path.with_name(f'.{path.name}.{secrets.token_hex(4)}.tmp')
  text = {} if 'b' in mode else {'encoding': encoding, 'newline': '\n'}
  try:
    with open(tmp, mode.replace('w', 'x'), **text) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise
