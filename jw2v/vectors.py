"""Word vectors and the queries on them, with the names and answers of gensim's `KeyedVectors`."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from numbers import Integral
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, UnknownWordError
from jw2v.word2vec_format import read_word2vec, rows_as_lists, write_word2vec

Key = Union[str, int, np.integer]  # a word, or a row's index (as gensim accepts)
_KEYS = (str, int, np.integer)


@dataclasses.dataclass(frozen=True, eq=False)
class WordVectors:
  """An immutable table of word vectors, queried as gensim's `KeyedVectors` is.

  Attributes:
    words: the words, in row order (gensim's `index_to_key`).
    vectors: (V, H) float32 array; row i is the vector of words[i].
    index: word -> row (gensim's `key_to_index`).
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
  def from_gensim(cls, kv) -> 'WordVectors':
    """The vectors of a gensim `KeyedVectors` (or of a model with `.wv`, such as `Word2Vec`), in its order."""
    kv = getattr(kv, 'wv', kv)
    return cls(tuple(kv.index_to_key), np.asarray(kv.vectors))

  def to_gensim(self):
    """A gensim `KeyedVectors` holding these words and vectors (needs gensim: `pip install 'jw2v[eval]'`)."""
    try:
      from gensim.models import KeyedVectors
    except ImportError:
      raise ImportError("to_gensim needs gensim: pip install 'jw2v[eval]'") from None
    kv = KeyedVectors(self.vector_size, count=0)
    kv.add_vectors(list(self.words), self.vectors)
    return kv

  @classmethod
  def load(cls, path, limit: Optional[int] = None, binary: Optional[bool] = None,
           no_header: bool = False) -> 'WordVectors':
    """Loads a training output directory (its vectors.bin or vectors.txt) or a word2vec text/binary file.

    Args:
      path: a directory written by `jw2v train`, or a vectors file.
      limit: read only the first this many vectors (gensim's `load_word2vec_format`).
      binary: binary format; None: binary when the name ends in .bin.
      no_header: a text file without the "count dimension" first line.

    Raises:
      DataError: the path is missing or the file is malformed (naming the file and line).
    """
    path = Path(path)
    if path.is_dir():
      found = [(path / name, b) for name, b in (('vectors.bin', True), ('vectors.txt', False)) if (path / name).is_file()]
      if not found:
        raise DataError(f'{path}: no vectors.bin or vectors.txt in this directory')
      path, binary = found[0]
    return cls(*read_word2vec(path, binary, limit, no_header))

  def save(self, path, binary: bool = False) -> None:
    """Writes the word2vec text (default) or binary format, atomically."""
    write_word2vec(path, self.words, self.vectors, binary=binary)

  def __len__(self) -> int:
    return len(self.words)

  def __contains__(self, key) -> bool:
    return self._row_of(key) is not None

  def __getitem__(self, key_or_keys) -> np.ndarray:
    """The vector of a word (H,), or the stacked vectors of a list of words (N, H)."""
    if isinstance(key_or_keys, _KEYS):
      return self.get_vector(key_or_keys)
    return self.vectors[[self.get_index(key) for key in key_or_keys]]

  @property
  def key_to_index(self) -> dict:
    """word -> row."""
    return self.index

  @property
  def index_to_key(self) -> tuple:
    """The words in row order."""
    return self.words

  @property
  def vector_size(self) -> int:
    """H, the vectors' dimension."""
    return self.vectors.shape[1]

  def _row_of(self, key) -> Optional[int]:
    row = self.index.get(key) if isinstance(key, str) else None
    if row is None and isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < len(self):
      row = int(key)
    return row

  def get_index(self, key: Key) -> int:
    """Row of a word (or a row index, as gensim accepts); raises UnknownWordError (a KeyError) naming it."""
    row = self._row_of(key)
    if row is None:
      raise UnknownWordError(f'word {key!r} is not in the vocabulary ({len(self)} words)')
    return row

  def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
    """The vector of a word (H,), scaled to unit length with `norm`."""
    row = self.get_index(key)
    return self.vectors[row] / self.norms[row] if norm else self.vectors[row]

  @functools.cached_property
  def norms(self) -> np.ndarray:
    """(V,) float32 Euclidean norm of each row (as gensim computes it)."""
    return np.linalg.norm(self.vectors, axis=1)

  @functools.cached_property
  def unit_vectors(self) -> jax.Array:
    """Rows scaled to unit length (zero rows stay zero), on the default device."""
    return jnp.asarray(self.vectors / np.maximum(self.norms, 1e-12)[:, None])

  def get_mean_vector(self, keys: Sequence, weights=None, pre_normalize: bool = True,
                      post_normalize: bool = False, ignore_missing: bool = True) -> np.ndarray:
    """The weighted mean of words' vectors and raw vectors, as gensim computes it.

    Args:
      keys: words (or row indices) and (H,) arrays; arrays are used as they are.
      weights: one per key (default 1); the sum is divided by the sum of their absolute values.
      pre_normalize: use the words' unit vectors.
      post_normalize: scale the mean to unit length.
      ignore_missing: skip unknown words (False: raise UnknownWordError).

    Returns:
      (H,) float32.
    """
    if len(keys) == 0:
      raise ValueError('get_mean_vector needs at least one word or vector')
    weights = np.ones(len(keys), np.float32) if weights is None else np.asarray(weights, np.float32)
    if weights.shape != (len(keys),):
      raise ValueError(f'{len(keys)} keys but weights of shape {weights.shape}')
    known = [(k, w) for k, w in zip(keys, weights) if isinstance(k, np.ndarray) or k in self or not ignore_missing]
    rows = [k if isinstance(k, np.ndarray) else self.get_vector(k, norm=pre_normalize) for k, _ in known]
    mean = np.zeros(self.vector_size, np.float32)
    for row, (_, w) in zip(rows, known):
      mean += w * np.asarray(row, np.float32)
    total = sum(abs(w) for _, w in known)
    mean = mean / total if total > 0 else mean
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if post_normalize and norm > 0 else mean

  def similarity(self, w1: Key, w2: Key) -> float:
    """Cosine similarity of two words."""
    return _cosine(self.vectors[self.get_index(w1)], self.vectors[self.get_index(w2)])

  def n_similarity(self, ws1: Sequence[Key], ws2: Sequence[Key]) -> float:
    """Cosine similarity of the means of two lists of words' (raw) vectors."""
    if not (len(ws1) and len(ws2)):
      raise ValueError('n_similarity needs at least one word in each list')
    return _cosine(*(self.get_mean_vector(ws, pre_normalize=False, ignore_missing=False) for ws in (ws1, ws2)))

  def distance(self, w1: Key, w2: Key) -> float:
    """Cosine distance, 1 - similarity."""
    return 1.0 - self.similarity(w1, w2)

  def distances(self, word_or_vector, other_words: Sequence[Key] = ()) -> np.ndarray:
    """Cosine distances from a word or vector to `other_words` (default: every word, itself included)."""
    vector = self.get_vector(word_or_vector) if isinstance(word_or_vector, _KEYS) else np.asarray(word_or_vector)
    others = self[list(other_words)] if len(other_words) else self.vectors
    return 1.0 - others @ vector / (np.linalg.norm(vector) * np.linalg.norm(others, axis=1))

  def closer_than(self, w1: Key, w2: Key) -> list:
    """The words (other than w1) closer to w1 than w2 is."""
    dist = self.distances(w1)
    i1 = self.get_index(w1)
    return [self.words[i] for i in np.flatnonzero(dist < dist[self.get_index(w2)]) if i != i1]

  words_closer_than = closer_than

  def rank(self, w1: Key, w2: Key) -> int:
    """1 + the number of words (other than w1) closer to w1 than w2 is."""
    return len(self.closer_than(w1, w2)) + 1

  def top_similar(self, queries_QxH, k: int, exclude_QxE=None, restrict_vocab: Optional[int] = None,
                  clip_start: int = 0):
    """The k rows most cosine-similar to each query, for many queries in one jitted matrix product.

    Args:
      queries_QxH: query vectors (any length; they are normalised).
      k: neighbours per query.
      exclude_QxE: optional row indices never to return for each query (-1 for none).
      restrict_vocab: search only rows before this one.
      clip_start: search only rows from this one on.

    Returns:
      (similarities_QxK, indices_QxK) as numpy arrays, most similar first.
    """
    end = restrict_vocab or len(self)
    unit_VxH = self.unit_vectors[clip_start:end]
    queries_QxH = np.asarray(queries_QxH, np.float32)
    n = len(queries_QxH)
    exclude_QxE = np.full((n, 1), -1, np.int32) if exclude_QxE is None else np.asarray(exclude_QxE, np.int64)
    exclude_QxE = np.where((exclude_QxE >= clip_start) & (exclude_QxE < end), exclude_QxE - clip_start, -1)
    k = min(k, unit_VxH.shape[0])
    block = min(_QUERY_BLOCK, 1 << max(n - 1, 0).bit_length())  # few distinct shapes, few compilations
    sims, idx = [], []
    for start in range(0, n, block):
      q, e = queries_QxH[start:start + block], exclude_QxE[start:start + block].astype(np.int32)
      pad = block - len(q)
      s, i = _top_cosine_block(unit_VxH, np.pad(q, ((0, pad), (0, 0))), np.pad(e, ((0, pad), (0, 0)),
                                                                             constant_values=-1), k)
      sims.append(np.asarray(s)[:len(q)])
      idx.append(np.asarray(i)[:len(q)] + clip_start)
    return np.concatenate(sims), np.concatenate(idx)

  def _rows(self, words) -> list:
    words = [words] if isinstance(words, str) else list(words)
    return [self.get_index(w) for w in words]

  def most_similar(self, positive=None, negative=None, topn: Optional[int] = 10, clip_start: int = 0,
                   clip_end: Optional[int] = None, restrict_vocab: Optional[int] = None):
    """Nearest words by cosine similarity to the weighted mean of unit vectors (3CosAdd), as gensim.

    Args:
      positive: words, vectors or (word or vector, weight) pairs that count positively (weight 1); one word
        or vector alone is taken as a list of one.
      negative: the same, counting negatively (weight -1).
      topn: how many results; None: the similarity of every word searched, as an array.
      clip_start: search only rows from this one on.
      clip_end: search only rows before this one.
      restrict_vocab: search only the first this many words (the most frequent ones); overrides the clips.

    Returns:
      [(word, similarity)], most similar first, the query words excluded; with topn=None an array.

    Examples:
      >>> import numpy as np, jw2v
      >>> vectors = jw2v.WordVectors(('king', 'queen', 'man', 'woman'),
      ...                            np.array([[1, 1], [1, -1], [0.9, 1.1], [0.8, -1.2]], np.float32))
      >>> [word for word, _ in vectors.most_similar(positive=['queen', 'man'], negative=['woman'], topn=1)]
      ['king']
      >>> vectors.most_similar('king', topn=None).shape
      (4,)
    """
    if isinstance(topn, Integral) and topn < 1:
      return []
    keys, weights = _weighted_keys(positive, 1.0, negative, -1.0)
    mean_H = self.get_mean_vector(keys, weights, pre_normalize=True, post_normalize=True, ignore_missing=False)
    start, end = (0, restrict_vocab) if restrict_vocab else (clip_start, clip_end or len(self))
    if not topn:
      return np.asarray(self.unit_vectors[start:end] @ jnp.asarray(mean_H))
    exclude = [self.get_index(k) for k in keys if isinstance(k, _KEYS)] or [-1]
    sims, idx = self.top_similar(mean_H[None], topn, np.array([exclude]), end, start)
    return _labelled(self.words, sims[0], idx[0])

  def similar_by_word(self, word: Key, topn: Optional[int] = 10, restrict_vocab: Optional[int] = None):
    """`most_similar([word], topn, restrict_vocab=...)`."""
    return self.most_similar([word], topn=topn, restrict_vocab=restrict_vocab)

  similar_by_key = similar_by_word

  def similar_by_vector(self, vector, topn: Optional[int] = 10, restrict_vocab: Optional[int] = None):
    """The words nearest to a raw vector (none excluded)."""
    return self.most_similar([np.asarray(vector, np.float32)], topn=topn, restrict_vocab=restrict_vocab)

  def most_similar_batch(self, words: Sequence[str], topn: int = 10) -> list[list[tuple[str, float]]]:
    """`most_similar(word, topn=topn)` for many words, in one batched device computation."""
    rows = self._rows(words)
    sims, idx = self.top_similar(self.unit_vectors[jnp.asarray(rows)], topn, np.array(rows)[:, None])
    return [_labelled(self.words, srow, irow) for srow, irow in zip(sims, idx)]

  def most_similar_cosmul(self, positive: Sequence[str] | str = (), negative: Sequence[str] | str = (),
                          topn: int = 10, restrict_vocab: Optional[int] = None) -> list[tuple[str, float]]:
    """3CosMul (Levy and Goldberg, 2014): prod((1 + cos(w, p)) / 2) / (prod((1 + cos(w, n)) / 2) + 1e-6).

    Args:
      positive: words that count positively (at least one).
      negative: words that count negatively.
      topn: how many results.
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
    """The word furthest from the mean of the words' unit vectors; unknown words are ignored with a
    warning that names them, as gensim does."""
    used = [w for w in words if w in self]
    if len(used) != len(words):
      warnings.warn(f'doesnt_match: ignoring words not in the vocabulary: {sorted(set(words) - set(used))}',
                    stacklevel=2)
    if not used:
      raise ValueError('doesnt_match needs at least one known word')
    rows = self._rows(used)
    unit = self.vectors[rows] / self.norms[rows][:, None]
    mean = unit.mean(0)
    dists = unit @ (mean / max(np.linalg.norm(mean), 1e-30))
    return sorted(zip(dists.tolist(), used), reverse=True)[-1][1]

  def save_projector(self, directory) -> tuple[Path, Path]:
    """Writes `vectors.tsv` and `metadata.tsv` for the TensorBoard embedding projector.

    Returns:
      The two paths.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fmt = '\t'.join(['%.9g'] * self.vectors.shape[1])
    with atomic_write(directory / 'vectors.tsv', 'w', encoding='utf-8') as f:
      for row in rows_as_lists(self.vectors):
        f.write(fmt % tuple(row) + '\n')
    with atomic_write(directory / 'metadata.tsv', 'w', encoding='utf-8') as f:
      for word in self.words:
        f.write(word + '\n')
    return directory / 'vectors.tsv', directory / 'metadata.tsv'


_QUERY_BLOCK = 512


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
  """Cosine similarity of two vectors, in float64 (0 for a zero vector)."""
  u, v = u.astype(np.float64), v.astype(np.float64)
  return float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-300))


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
  """Writes word2vec's text (default) or binary format atomically (`word2vec_format.write_word2vec`)."""
  write_word2vec(path, words, vectors, binary)


def load_word2vec(path, binary: Optional[bool] = None, limit: Optional[int] = None,
                  no_header: bool = False) -> WordVectors:
  """Reads word2vec's text or binary format (`word2vec_format.read_word2vec`) as WordVectors."""
  return WordVectors(*read_word2vec(path, binary, limit, no_header))


def _weighted_keys(positive, positive_weight: float, negative, negative_weight: float) -> tuple[list, list]:
  """most_similar's arguments as (keys, weights): each item a word, a vector or a (word or vector,
  weight) pair; one word or vector alone is a list of one (gensim's rules)."""
  keys, weights = [], []
  for items, default in ((positive, positive_weight), (negative, negative_weight)):
    for item in _as_list(items):
      plain = isinstance(item, _KEYS + (np.ndarray,))
      keys.append(item if plain else item[0])
      weights.append(default if plain else item[1])
  return keys, weights


def _as_list(items) -> list:
  if items is None:
    return []
  if isinstance(items, _KEYS) or (isinstance(items, np.ndarray) and items.ndim == 1):
    return [items]
  return list(items)
