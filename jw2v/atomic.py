"""Writing files so that a reader sees either the old complete file or the new complete one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = 'wb', encoding: str | None = None):
  """Opens a temporary file beside `path`; on success it is flushed, synced and renamed over `path`.

  On an exception the temporary file is removed and `path` is left as it was (an OSError then names
  `path`, not the temporary file). The file gets the usual
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
  except BaseException as e:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    if isinstance(e, OSError) and e.filename in (None, str(tmp)) and e.errno is not None:
      raise OSError(e.errno, e.strerror, str(path)) from None  # a failed write names the file it was for
    raise
