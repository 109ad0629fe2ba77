"""Vocabulary: word counts and order, subsampling probabilities, and the noise distribution."""

from __future__ import annotations

import collections
from typing import Iterable, NamedTuple, Optional

import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, reading


class Vocab(NamedTuple):
  """Words ordered by descending count (ties by first occurrence), with their counts.

  Attributes:
    words: the words; a word's id is its position.
    counts: int64 array of corpus counts, aligned with `words`.
    index: word -> id.
  """
  words: tuple
  counts: np.ndarray
  index: dict

  def __len__(self):
    return len(self.words)

  @classmethod
  def from_words_counts(cls, words: Iterable[str], counts: Iterable[int]) -> 'Vocab':
    words = tuple(words)
    return cls(words, np.asarray(list(counts), dtype=np.int64), {w: i for i, w in enumerate(words)})


def build_vocab(counts: collections.Counter, min_count: int = 5,
                max_vocab_size: Optional[int] = None) -> Vocab:
  """Keeps words with count >= min_count, most frequent first.

  Args:
    counts: token -> count, in order of first occurrence (a `Counter` filled in corpus order has it).
    min_count: drop words seen fewer times than this.
    max_vocab_size: keep at most this many words (the most frequent; like gensim's `max_final_vocab`).

  Returns:
    The Vocab. Ties in count keep their first-occurrence order (Python's sort is stable).
  """
  kept = [(w, c) for w, c in counts.items() if c >= min_count]
  kept.sort(key=lambda wc: -wc[1])
  if max_vocab_size is not None:
    kept = kept[:max_vocab_size]
  return Vocab.from_words_counts((w for w, _ in kept), (c for _, c in kept))


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
  """word2vec.c's subsampling: probability of keeping each occurrence of each word.

  Args:
    counts: (V,) word counts.
    sample: the threshold t; 0 keeps every word.

  Returns:
    (V,) float64 probabilities `min(1, (sqrt(c / (t*N)) + 1) * (t*N) / c)` with N = sum(counts).
  """
  counts = np.asarray(counts, dtype=np.float64)
  if sample <= 0:
    return np.ones_like(counts)
  threshold = sample * counts.sum()
  return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def noise_cdf(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
  """Cumulative noise distribution `counts**exponent`, scaled to the uint32 range.

  A uniform uint32 draw `u` maps to the word `searchsorted(cdf, u, side='right')`, so word i is drawn with
  probability (cdf[i] - cdf[i-1]) / 2**32: exact to 2**-32, with no table whose size grows with the corpus.

  Args:
    counts: (V,) word counts.
    exponent: the power applied to the counts (word2vec's 0.75).

  Returns:
    (V,) uint32 array, non-decreasing; the last entry is 2**32 - 1.
  """
  weights = np.asarray(counts, dtype=np.float64) ** exponent
  cdf = np.cumsum(weights / weights.sum())
  scaled = np.floor(cdf * 2.0**32)
  scaled[-1] = 2.0**32 - 1  # absorb rounding so that every draw lands inside the vocabulary
  return np.minimum(scaled, 2.0**32 - 1).astype(np.uint32)


def noise_guide(cdf_V: np.ndarray, max_steps: int = 4) -> tuple[np.ndarray, int]:
  """A guide table that turns a draw from `cdf_V` into a short search (indexed search, Chen & Asau 1974).

  The 2**32 possible uniform draws are split into G equal buckets; guide[b] is the answer for the first
  draw of bucket b, so any draw in bucket b has its answer in [guide[b], guide[b+1]]. G (a power of two,
  at least V) is doubled, at most twice, until a few bisection steps always suffice. (Long runs of
  zero-probability words make wide buckets; such a distribution just needs more steps.)

  Args:
    cdf_V: from `noise_cdf`.
    max_steps: grow G until this many bisection steps are enough (at most to 4 times its first size).

  Returns:
    (guide, steps): (G + 1,) int32 guide and the number of bisection steps that the widest bucket needs.
  """
  V = len(cdf_V)
  buckets = max(1 << max(V - 1, 1).bit_length(), 1024)
  max_buckets = 4 * buckets
  while True:
    starts = np.arange(buckets + 1, dtype=np.int64) << (32 - buckets.bit_length() + 1)
    guide = np.searchsorted(cdf_V.astype(np.int64), starts, side='right')
    guide[-1] = V
    steps = int(np.ceil(np.log2(np.max(np.diff(guide)) + 1)))
    if steps <= max_steps or buckets >= max_buckets:
      return guide.astype(np.int32), steps
    buckets *= 2


def save_vocab(vocab: Vocab, path) -> None:
  """Writes `word count` lines (word2vec.c's -save-vocab format), UTF-8, atomically."""
  with atomic_write(path, 'w', encoding='utf-8') as f:
    for w, c in zip(vocab.words, vocab.counts.tolist()):
      f.write(f'{w} {c}\n')


def load_vocab(path) -> Vocab:
  """Reads a file written by `save_vocab`.

  Raises:
    DataError: naming the file and line of a malformed entry.
  """
  words, counts = [], []
  with reading(path, 'vocabulary file'), open(path, encoding='utf-8') as f:
    for lineno, line in enumerate(f, 1):
      parts = line.split()
      if len(parts) != 2 or not parts[1].isdigit():
        raise DataError(f'{path}:{lineno}: expected "word count", got {line.rstrip()[:60]!r}')
      words.append(parts[0])
      counts.append(int(parts[1]))
  if not words:
    raise DataError(f'{path}: vocabulary file is empty')
  return Vocab.from_words_counts(words, counts)
