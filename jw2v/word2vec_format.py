"""word2vec's text and binary vector files, as word2vec.c writes them and gensim reads and writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, reading


def write_word2vec(path, words: Iterable[str], vectors: np.ndarray, binary: bool = False) -> None:
  """Writes word2vec's format: a "V H" header, then a word and its H floats per entry.

  Text: space-separated values with 9 significant digits (float32 round-trips exactly). Binary: the word,
  a space, H little-endian float32 values and a newline (word2vec.c's -binary 1). Written atomically.

  Args:
    path: the file.
    words: V words, in row order.
    vectors: (V, H) array.
    binary: binary format instead of text.
  """
  words = list(words)
  vectors = np.asarray(vectors, dtype=np.float32)
  n, dim = vectors.shape
  if len(words) != n:
    raise ValueError(f'{len(words)} words for {n} vectors')
  with atomic_write(path, 'wb') as f:
    f.write(f'{n} {dim}\n'.encode())
    if binary:
      data = np.asarray(vectors, dtype='<f4')  # no copy when it already is
      for word, row in zip(words, data):
        f.write(word.encode('utf-8') + b' ' + row.tobytes() + b'\n')
    else:
      fmt = ' '.join(['%.9g'] * dim)
      for word, row in zip(words, rows_as_lists(vectors)):
        f.write(f'{word} {fmt % tuple(row)}\n'.encode('utf-8'))


def rows_as_lists(array: np.ndarray, chunk: int = 4096):
  """Yields the rows as lists of Python floats, converting a few thousand rows at a time (the whole table
  as Python floats would take about 25 times its size)."""
  for start in range(0, len(array), chunk):
    yield from array[start:start + chunk].tolist()


def read_word2vec(path, binary: Optional[bool] = None, limit: Optional[int] = None,
                  no_header: bool = False) -> tuple[list, np.ndarray]:
  """Reads word2vec's text or binary format.

  Args:
    path: the file.
    binary: binary format; None: binary when the name ends in .bin.
    limit: read only the first this many vectors (gensim's `limit`).
    no_header: a text file without the "count dimension" first line (GloVe's files; gensim's
      `no_header`): the count and dimension are found by a first pass over the file.

  Returns:
    (words, vectors): the words in file order and a (V, H) float32 array.

  Raises:
    DataError: missing file, bad header, truncated file, or a malformed line, naming the file and line.
  """
  path = Path(path)
  binary = path.suffix == '.bin' if binary is None else binary
  if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
    raise DataError(f'limit must be a whole number >= 0, got {limit!r}', field='limit')
  if no_header and binary:
    raise DataError(f'{path}: no_header works for text files only (as in gensim)', field='no_header')
  with reading(path, 'vectors file'), open(path, 'rb') as f:
    if no_header:
      n, dim = _count_rows(f, path)
    else:
      n, dim = _header(f.readline(), path)
    n = n if limit is None else min(n, limit)
    if binary:
      return _read_binary(f, path, n, dim)
    return _read_text(f, path, n, dim, first_line=1 if no_header else 2)


def _header(line: bytes, path) -> tuple[int, int]:
  try:
    n, dim = (int(x) for x in line.split())
    if n < 0 or dim < 1:
      raise ValueError
  except ValueError:
    raise DataError(f'{path}:1: expected a "count dimension" header, got {line[:60]!r}') from None
  return n, dim


def _count_rows(f, path) -> tuple[int, int]:
  """(lines, numbers per line - 1) of a headerless text file, leaving `f` at its start."""
  first = f.readline()
  if not first.strip():
    raise DataError(f'{path}:1: expected a word and its numbers, got {first[:60]!r}')
  n = 1 + sum(1 for line in f if line.strip())
  f.seek(0)
  return n, len(first.rstrip().split(b' ')) - 1


def _read_text(f, path, n, dim, first_line=2):
  words, vectors = [], np.empty((n, dim), np.float32)
  for i in range(n):
    line = f.readline()
    lineno = i + first_line
    if not line:
      raise DataError(f'{path}:{lineno}: file ends after {i} of {n} vectors (truncated?)')
    if not line.endswith(b'\n') and i < n - 1:
      raise DataError(f'{path}:{lineno}: file ends inside vector {i + 1} of {n} (truncated?)')
    parts = line.decode('utf-8', errors='replace').rstrip('\n').rstrip(' ').split(' ')
    if len(parts) != dim + 1:
      raise DataError(f'{path}:{lineno}: expected a word and {dim} numbers, got {len(parts) - 1} numbers')
    try:
      vectors[i] = np.array(parts[1:], dtype=np.float32)
    except ValueError:
      raise DataError(f'{path}:{lineno}: a value is not a number') from None
    words.append(parts[0])
  return words, vectors


def _read_binary(f, path, n, dim):
  words, vectors = [], np.empty((n, dim), np.float32)
  size = 4 * dim
  for i in range(n):
    word = bytearray()
    while (c := f.read(1)) != b' ':
      if not c:
        raise DataError(f'{path}: entry {i + 1}: file ends after {i} of {n} vectors (truncated?)')
      if c != b'\n' or word:
        word += c
    data = f.read(size)
    if len(data) != size:
      raise DataError(f'{path}: entry {i + 1} ({bytes(word).decode("utf-8", "replace")!r}): '
                      f'file ends inside its vector (truncated?)')
    words.append(bytes(word).decode('utf-8', errors='replace'))
    vectors[i] = np.frombuffer(data, dtype='<f4')
  return words, vectors
