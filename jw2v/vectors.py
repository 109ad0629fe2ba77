"""Word vectors: queries, and the word2vec text and binary file formats (as gensim reads and writes them)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Iterable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, UnknownWordError, reading


@dataclasses.dataclass(frozen=True, eq=False)
class WordVectors:
  """An immutable table of word vectors.

  Attributes:
    words: the words, in row order.
    vectors: (V, H) float32 array; row i is the vector of words[i].
  """
  words: tuple
  vectors: np.ndarray
  index: dict = dataclasses.field(init=False, repr=False)

  def __post_init__(self):
    words = tuple(self.words)
    vectors = np.asarray(self.vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
      raise DataError(f'{len(words)} words but vectors of shape {vectors.shape}')
    vectors.setflags(write=False)
    object.__setattr__(self, 'words', words)
    object.__setattr__(self, 'vectors', vectors)
    object.__setattr__(self, 'index', {w: i for i, w in enumerate(words)})

  @classmethod
  def from_params(cls, params: dict, vocab) -> 'WordVectors':
    """The rows of params['W_in'], labelled with the vocabulary's words."""
    return cls(vocab.words, np.asarray(params['W_in']))

  @classmethod
  def load(cls, path) -> 'WordVectors':
    """Loads a training output directory (its vectors.bin or vectors.txt) or a word2vec text/binary file.

    Raises:
      DataError: the path is missing or the file is malformed (naming the file and line).
    """
    path = Path(path)
    if path.is_dir():
      for name, binary in (('vectors.bin', True), ('vectors.txt', False)):
        if (path / name).is_file():
          return load_word2vec(path / name, binary=binary)
      raise DataError(f'{path}: no vectors.bin or vectors.txt in this directory')
    return load_word2vec(path)

  def save(self, path, binary: bool = False) -> None:
    """Writes the word2vec text (default) or binary format, atomically."""
    save_word2vec(path, self.words, self.vectors, binary=binary)

  def __len__(self) -> int:
    return len(self.words)

  def __contains__(self, word) -> bool:
    return word in self.index

  def __getitem__(self, word: str) -> np.ndarray:
    return self.vectors[self.get_index(word)]

  def get_index(self, word: str) -> int:
    """Row of `word`; raises UnknownWordError (a KeyError) naming it when it is not in the vocabulary."""
    try:
      return self.index[word]
    except KeyError:
      raise UnknownWordError(f'word {word!r} is not in the vocabulary ({len(self)} words)') from None

  @functools.cached_property
  def unit_vectors(self) -> jax.Array:
    """Rows scaled to unit length (zero rows stay zero), on the default device."""
    v = jnp.asarray(self.vectors)
    return v / jnp.maximum(jnp.linalg.norm(v, axis=1, keepdims=True), 1e-12)

  def most_similar(self, positive: Sequence[str] | str = (), negative: Sequence[str] | str = (),
                   topn: int = 10) -> list[tuple[str, float]]:
    """Nearest words by cosine similarity to the mean of unit vectors (3CosAdd), as gensim computes it.

    Args:
      positive: words that count positively.
      negative: words that count negatively.
      topn: how many results.

    Returns:
      [(word, similarity)], most similar first, the query words excluded.
    """
    positive = [positive] if isinstance(positive, str) else list(positive)
    negative = [negative] if isinstance(negative, str) else list(negative)
    if not positive and not negative:
      raise ValueError('most_similar needs at least one word')
    rows = [self.get_index(w) for w in positive + negative]
    weights = np.array([1.0] * len(positive) + [-1.0] * len(negative), np.float32)
    k = min(topn + len(rows), len(self))
    sims, idx = _top_cosine(self.unit_vectors, jnp.asarray(rows), jnp.asarray(weights), k)
    exclude = set(rows)
    result = [(self.words[i], float(s)) for s, i in zip(np.asarray(sims), np.asarray(idx)) if i not in exclude]
    return result[:topn]


@functools.partial(jax.jit, static_argnums=(3,))
def _top_cosine(unit_VxH, rows, weights, k):
  query_H = jnp.sum(unit_VxH[rows] * weights[:, None], axis=0)
  query_H = query_H / jnp.maximum(jnp.linalg.norm(query_H), 1e-12)
  return jax.lax.top_k(unit_VxH @ query_H, k)


def save_word2vec(path, words: Iterable[str], vectors: np.ndarray, binary: bool = False) -> None:
  """Writes word2vec's format: a "V H" header, then a word and its H floats per entry.

  Text: space-separated values with 9 significant digits (float32 round-trips exactly). Binary: the word,
  a space, H little-endian float32 values and a newline (word2vec.c's -binary 1). Written atomically.
  """
  words = list(words)
  vectors = np.asarray(vectors, dtype=np.float32)
  n, dim = vectors.shape
  if len(words) != n:
    raise ValueError(f'{len(words)} words for {n} vectors')
  with atomic_write(path, 'wb') as f:
    f.write(f'{n} {dim}\n'.encode())
    if binary:
      data = vectors.astype('<f4')
      for word, row in zip(words, data):
        f.write(word.encode('utf-8') + b' ' + row.tobytes() + b'\n')
    else:
      fmt = ' '.join(['%.9g'] * dim)
      for word, row in zip(words, vectors.tolist()):
        f.write(f'{word} {fmt % tuple(row)}\n'.encode('utf-8'))


def load_word2vec(path, binary: Optional[bool] = None) -> WordVectors:
  """Reads word2vec text or binary format (binary when the name ends in .bin, unless `binary` says).

  Raises:
    DataError: missing file, bad header, truncated file, or a malformed line, naming the file and line.
  """
  path = Path(path)
  if binary is None:
    binary = path.suffix == '.bin'
  with reading(path, 'vectors file'), open(path, 'rb') as f:
    header = f.readline()
    try:
      n, dim = (int(x) for x in header.split())
      if n < 0 or dim < 1:
        raise ValueError
    except ValueError:
      raise DataError(f'{path}:1: expected a "count dimension" header, got {header[:60]!r}') from None
    words, vectors = (_read_binary if binary else _read_text)(f, path, n, dim)
  return WordVectors(tuple(words), vectors)


def _read_text(f, path, n, dim):
  words, vectors = [], np.empty((n, dim), np.float32)
  for i in range(n):
    line = f.readline()
    lineno = i + 2
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
