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
  def norms(self) -> np.ndarray:
    """(V,) float32 Euclidean norm of each row (as gensim computes it)."""
    return np.linalg.norm(self.vectors, axis=1)

  @functools.cached_property
  def unit_vectors(self) -> jax.Array:
    """Rows scaled to unit length (zero rows stay zero), on the default device."""
    return jnp.asarray(self.vectors / np.maximum(self.norms, 1e-12)[:, None])

  def similarity(self, w1: str, w2: str) -> float:
    """Cosine similarity of two words."""
    u1, u2 = (self.vectors[self.get_index(w)].astype(np.float64) for w in (w1, w2))
    return float(u1 @ u2 / max(np.linalg.norm(u1) * np.linalg.norm(u2), 1e-300))

  def top_similar(self, queries_QxH, k: int, exclude_QxE=None, restrict_vocab: Optional[int] = None):
    """The k rows most cosine-similar to each query, for many queries in one jitted matrix product.

    Args:
      queries_QxH: query vectors (any length; they are normalised).
      k: neighbours per query.
      exclude_QxE: optional row indices never to return for each query (-1 for none).
      restrict_vocab: search only the first this many rows.

    Returns:
      (similarities_QxK, indices_QxK) as numpy arrays, most similar first.
    """
    unit_VxH = self.unit_vectors[:restrict_vocab] if restrict_vocab else self.unit_vectors
    queries_QxH = np.asarray(queries_QxH, np.float32)
    n = len(queries_QxH)
    exclude_QxE = np.full((n, 1), -1, np.int32) if exclude_QxE is None else np.asarray(exclude_QxE, np.int32)
    k = min(k, unit_VxH.shape[0])
    block = min(_QUERY_BLOCK, 1 << max(n - 1, 0).bit_length())  # few distinct shapes, few compilations
    sims, idx = [], []
    for start in range(0, n, block):
      q, e = queries_QxH[start:start + block], exclude_QxE[start:start + block]
      pad = block - len(q)
      s, i = _top_cosine_block(unit_VxH, np.pad(q, ((0, pad), (0, 0))), np.pad(e, ((0, pad), (0, 0)),
                                                                             constant_values=-1), k)
      sims.append(np.asarray(s)[:len(q)])
      idx.append(np.asarray(i)[:len(q)])
    return np.concatenate(sims), np.concatenate(idx)

  def _rows(self, words) -> list:
    words = [words] if isinstance(words, str) else list(words)
    return [self.get_index(w) for w in words]

  def most_similar(self, positive: Sequence[str] | str = (), negative: Sequence[str] | str = (),
                   topn: int = 10, restrict_vocab: Optional[int] = None) -> list[tuple[str, float]]:
    """Nearest words by cosine similarity to the mean of unit vectors (3CosAdd), as gensim computes it.

    Args:
      positive: words that count positively.
      negative: words that count negatively.
      topn: how many results.
      restrict_vocab: search only the first this many words (the most frequent ones).

    Returns:
      [(word, similarity)], most similar first, the query words excluded.
    """
    pos, neg = self._rows(positive), self._rows(negative)
    if not pos and not neg:
      raise ValueError('most_similar needs at least one word')
    unit = self.unit_vectors
    query = unit[jnp.asarray(pos, int)].sum(0) - unit[jnp.asarray(neg, int)].sum(0)
    sims, idx = self.top_similar(query[None], topn, np.array([pos + neg]), restrict_vocab)
    return _labelled(self.words, sims[0], idx[0])

  def most_similar_batch(self, words: Sequence[str], topn: int = 10) -> list[list[tuple[str, float]]]:
    """`most_similar(word, topn=topn)` for many words, in one batched device computation."""
    rows = self._rows(words)
    sims, idx = self.top_similar(self.unit_vectors[jnp.asarray(rows)], topn, np.array(rows)[:, None])
    return [_labelled(self.words, srow, irow) for srow, irow in zip(sims, idx)]

  def most_similar_cosmul(self, positive: Sequence[str] | str = (), negative: Sequence[str] | str = (),
                          topn: int = 10, restrict_vocab: Optional[int] = None) -> list[tuple[str, float]]:
    """3CosMul (Levy and Goldberg, 2014): prod((1 + cos(w, p)) / 2) / (prod((1 + cos(w, n)) / 2) + 1e-6).

    Args:
      positive, negative, topn: as in `most_similar` (at least one positive word is needed).
      restrict_vocab: search only the first this many words. (gensim 4.4 accepts this argument but
        ignores it; here it is honoured.)

    Returns:
      [(word, score)], best first, the query words excluded.
    """
    pos, neg = self._rows(positive), self._rows(negative)
    if not pos:
      raise ValueError('most_similar_cosmul needs at least one positive word')
    unit_VxH = self.unit_vectors[:restrict_vocab] if restrict_vocab else self.unit_vectors
    scores, idx = _top_cosmul(unit_VxH, self.unit_vectors[jnp.asarray(pos)], self.unit_vectors[jnp.asarray(neg, int)],
                              jnp.asarray(pos + neg), min(topn, unit_VxH.shape[0]))
    return _labelled(self.words, np.asarray(scores), np.asarray(idx))

  def doesnt_match(self, words: Sequence[str]) -> str:
    """The word furthest from the mean of the others' unit vectors (unknown words are ignored, as gensim)."""
    used = [w for w in words if w in self]
    if not used:
      raise ValueError('doesnt_match needs at least one known word')
    unit = self.vectors[self._rows(used)] / self.norms[self._rows(used)][:, None]
    mean = unit.mean(0)
    dists = unit @ (mean / max(np.linalg.norm(mean), 1e-30))
    return sorted(zip(dists.tolist(), used), reverse=True)[-1][1]

  def rank(self, w1: str, w2: str) -> int:
    """1 + the number of words (other than w1) more similar to w1 than w2 is."""
    i1, i2 = self.get_index(w1), self.get_index(w2)
    sims = np.asarray(self.unit_vectors @ self.unit_vectors[i1])
    closer = sims > sims[i2]
    closer[i1] = False
    return int(closer.sum()) + 1

  def save_projector(self, directory) -> tuple[Path, Path]:
    """Writes `vectors.tsv` and `metadata.tsv` for the TensorBoard embedding projector.

    Returns:
      The two paths.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fmt = '\t'.join(['%.9g'] * self.vectors.shape[1])
    with atomic_write(directory / 'vectors.tsv', 'w', encoding='utf-8') as f:
      for row in _rows_as_lists(self.vectors):
        f.write(fmt % tuple(row) + '\n')
    with atomic_write(directory / 'metadata.tsv', 'w', encoding='utf-8') as f:
      for word in self.words:
        f.write(word + '\n')
    return directory / 'vectors.tsv', directory / 'metadata.tsv'


_QUERY_BLOCK = 512


def _labelled(words, sims, idx) -> list[tuple[str, float]]:
  """[(word, score)], leaving out excluded rows (scored -inf when fewer words remain than asked for)."""
  return [(words[i], float(s)) for s, i in zip(sims, idx) if s > -np.inf]


@functools.partial(jax.jit, static_argnums=(3,))
def _top_cosine_block(unit_VxH, queries_QxH, exclude_QxE, k):
  queries_QxH = queries_QxH / jnp.maximum(jnp.linalg.norm(queries_QxH, axis=1, keepdims=True), 1e-12)
  sims_QxV = queries_QxH @ unit_VxH.T
  rows_Qx1 = jnp.arange(queries_QxH.shape[0])[:, None]
  # Excluded rows get -inf; a -1 (no exclusion) index is sent out of bounds and dropped.
  excl = jnp.where(exclude_QxE < 0, unit_VxH.shape[0], exclude_QxE)
  sims_QxV = sims_QxV.at[rows_Qx1, excl].set(-jnp.inf, mode='drop')
  return jax.lax.top_k(sims_QxV, k)


@functools.partial(jax.jit, static_argnums=(4,))
def _top_cosmul(unit_VxH, pos_PxH, neg_NxH, exclude_E, k):
  pos_VxP = (1.0 + unit_VxH @ pos_PxH.T) / 2.0
  neg_VxN = (1.0 + unit_VxH @ neg_NxH.T) / 2.0
  scores_V = jnp.prod(pos_VxP, axis=1) / (jnp.prod(neg_VxN, axis=1) + 1e-6)
  scores_V = scores_V.at[exclude_E].set(-jnp.inf, mode='drop')
  return jax.lax.top_k(scores_V, k)


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
      data = np.asarray(vectors, dtype='<f4')  # no copy when it already is
      for word, row in zip(words, data):
        f.write(word.encode('utf-8') + b' ' + row.tobytes() + b'\n')
    else:
      fmt = ' '.join(['%.9g'] * dim)
      for word, row in zip(words, _rows_as_lists(vectors)):
        f.write(f'{word} {fmt % tuple(row)}\n'.encode('utf-8'))


def _rows_as_lists(array: np.ndarray, chunk: int = 4096):
  """Yields the rows as lists of Python floats, converting a few thousand rows at a time (the whole table
  as Python floats would take about 25 times its size)."""
  for start in range(0, len(array), chunk):
    yield from array[start:start + chunk].tolist()


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
