"""Vocabulary: word counts and order, subsampling probabilities, and the noise distribution."""

from __future__ import annotations

import collections
import heapq
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


def final_min_count(counts: collections.Counter, min_count: int, max_final_vocab: Optional[int]) -> int:
  """gensim's effective min_count for `max_final_vocab`: min_count, raised just enough that at most
  max_final_vocab words are kept (one more than the count of the word just past that many; words of
  equal count are never split)."""
  if max_final_vocab is None or max_final_vocab >= len(counts):
    return min_count
  past = sorted(counts.values(), reverse=True)[max_final_vocab]
  return max(min_count, past + 1)


def build_vocab(counts: collections.Counter, min_count: int = 5, max_vocab_size: Optional[int] = None,
                max_final_vocab: Optional[int] = None) -> Vocab:
  """Keeps words with count >= min_count, most frequent first.

  Args:
    counts: token -> count, in order of first occurrence (a `Counter` filled in corpus order has it).
    min_count: drop words seen fewer times than this.
    max_vocab_size: keep at most this many words: the most frequent, a cut that may split words of equal
      count (by first occurrence).
    max_final_vocab: gensim's rule: raise min_count just enough to keep at most this many words
      (`final_min_count`; never splits equal counts, so it may keep fewer), giving gensim's vocabulary.

  Returns:
    The Vocab. Ties in count keep their first-occurrence order (Python's sort is stable).

  Examples:
    >>> import collections, jw2v
    >>> vocab = jw2v.build_vocab(collections.Counter('the cat sat on the mat the end'.split()), min_count=1)
    >>> vocab.words[:3], vocab.counts[:3].tolist()
    (('the', 'cat', 'sat'), [3, 1, 1])
  """
  min_count = final_min_count(counts, min_count, max_final_vocab)
  kept = [(w, c) for w, c in counts.items() if c >= min_count]
  kept.sort(key=lambda wc: -wc[1])
  if max_vocab_size is not None:
    kept = kept[:max_vocab_size]
  return Vocab.from_words_counts((w for w, _ in kept), (c for _, c in kept))


def extend_vocab(vocab: Vocab, counts: collections.Counter, min_count: int = 5) -> Vocab:
  """A vocabulary grown by new text, as gensim's `build_vocab(update=True)` grows it.

  The old words keep their ids, and their counts add the new text's; the new text's words that are not in
  the vocabulary and occur at least `min_count` times in it are appended, most frequent first. (The old
  words' order is kept, so the result is no longer sorted by count.)

  Args:
    vocab: the vocabulary of the run to continue.
    counts: the new text's token counts, in order of first occurrence (`corpus.count_words`).
    min_count: how often a new word must occur in the new text to be added.

  Returns:
    The grown Vocab.
  """
  merged = vocab.counts.copy()
  new = []
  for word, count in counts.items():
    if word in vocab.index:
      merged[vocab.index[word]] += count
    elif count >= min_count:
      new.append((word, count))
  new.sort(key=lambda wc: -wc[1])
  return Vocab.from_words_counts(vocab.words + tuple(w for w, _ in new), [*merged.tolist(), *(c for _, c in new)])


class HuffmanTree(NamedTuple):
  """word2vec.c's binary Huffman tree over the vocabulary, for hierarchical softmax.

  Inner node n (0..V-2; V-2 the root) has a vector in the params' `W_hs`. Word w's path from the root
  passes `depth[w]` inner nodes `points[w, :depth[w]]`, taking branch `codes[w, d]` (0 or 1) at each; both
  are padded to the deepest path (points with 0, codes with 0, `mask` 0).
  """
  points_VxD: np.ndarray  # int32
  codes_VxD: np.ndarray   # float32, 0 or 1
  mask_VxD: np.ndarray    # float32, 1 on the path
  depth_V: np.ndarray     # int32


def huffman_tree(counts, style: str = 'gensim') -> HuffmanTree:
  """The Huffman tree of gensim's `Word2Vec` (`style='gensim'`) or of word2vec.c's `CreateBinaryTree`
  (`style='word2vec.c'`) for these counts.

  Both are optimal codes, with the same weighted path length; they differ where counts tie, as the many
  rare words of a corpus do. word2vec.c merges the words in vocabulary order (two queues; ties by first
  occurrence, so rare words that first occur together, often on one topic, share their lowest inner
  nodes); gensim merges them in the order its heap, which compares counts alone, happens to pop them. The
  vectors follow the tree (the performance docs measure it).

  Args:
    counts: (V,) word counts, V >= 2; words of equal count in the order of their first occurrence, as a
      `Vocab` holds them.
    style: 'gensim' or 'word2vec.c'.

  Returns:
    HuffmanTree: each word's inner nodes from the root down (`points_VxD`), branches (`codes_VxD`), path
    mask and depth, padded to the deepest path; the inner nodes numbered as the style numbers them.

  Examples:
    >>> from jw2v.vocab import huffman_tree
    >>> tree = huffman_tree([5, 3, 2, 1])
    >>> tree.depth_V.tolist()  # the most frequent word has the shortest code
    [1, 2, 3, 3]
  """
  counts = np.asarray(counts, np.int64)
  V = len(counts)
  if style == 'gensim':
    order = np.lexsort((-np.arange(V), -counts))  # gensim's vocabulary: ties by last first occurrence
    parent, binary = _heap_merges(counts[order])
  elif style == 'word2vec.c':
    order = np.argsort(-counts, kind='stable')  # word2vec.c's vocabulary order
    parent, binary = _queue_merges(counts[order])
  else:
    raise ValueError(f"style must be 'gensim' or 'word2vec.c', got {style!r}")
  return _paths(parent, binary, order, V)


def _queue_merges(counts_desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """word2vec.c's merges of the words (counts in descending order): the two smallest of the unmerged
  words and the inner nodes made so far (two queues; on a tie the inner node). Returns each node's parent
  and branch (1 for the second of a merge); node k < V is word k, node V + a the a-th merge."""
  V = len(counts_desc)
  count = counts_desc.tolist() + [np.iinfo(np.int64).max // 4] * V
  parent, binary = [0] * (2 * V), [0] * (2 * V)
  pos1, pos2 = V - 1, V
  for a in range(V - 1):
    smallest = []
    for _ in range(2):
      if pos1 >= 0 and count[pos1] < count[pos2]:
        smallest.append(pos1)
        pos1 -= 1
      else:
        smallest.append(pos2)
        pos2 += 1
    first, second = smallest
    count[V + a] = count[first] + count[second]
    parent[first] = parent[second] = V + a
    binary[second] = 1
  return np.array(parent, np.int64), np.array(binary, np.int8)


class _ByCount(int):
  """A node of gensim's heap: its count, compared as a plain int (so equal counts leave the heap in its
  own order, as gensim's compare counts alone), carrying the node's number."""


def _heap_merges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """gensim's merges of the words (counts in its vocabulary order): the two nodes popped from a heap of
  the words and of each merge's node. Returns parents and branches as `_queue_merges` does."""
  V = len(counts)
  heap = [_ByCount(c) for c in counts.tolist()]
  for k, node in enumerate(heap):
    node.number = k
  heapq.heapify(heap)
  parent, binary = [0] * (2 * V), [0] * (2 * V)
  for a in range(V - 1):
    first, second = heapq.heappop(heap), heapq.heappop(heap)
    parent[first.number] = parent[second.number] = V + a
    binary[second.number] = 1
    merged = _ByCount(first + second)
    merged.number = V + a
    heapq.heappush(heap, merged)
  return np.array(parent, np.int64), np.array(binary, np.int8)


def _paths(parent: np.ndarray, binary: np.ndarray, order: np.ndarray, V: int) -> HuffmanTree:
  """Each word's inner nodes from the root down and its branches, from the tree's parent links (all words
  at once, a level of the tree per pass)."""
  root = 2 * V - 2
  node, up_points, up_codes = np.arange(V), [], []
  while np.any(node != root):
    live = node != root
    up_codes.append(np.where(live, binary[node], -1))
    node = np.where(live, parent[node], root)
    up_points.append(np.where(live, node - V, -1))
  up_points_VxD, up_codes_VxD = np.stack(up_points, axis=1), np.stack(up_codes, axis=1)  # leaf first
  depth = (up_points_VxD >= 0).sum(axis=1)
  D = up_points_VxD.shape[1]
  # reverse each row's first depth entries: position d from the root is position depth - 1 - d from the leaf
  take_VxD = np.clip(depth[:, None] - 1 - np.arange(D)[None, :], 0, D - 1)
  on_path = np.arange(D)[None, :] < depth[:, None]
  points = np.where(on_path, np.take_along_axis(up_points_VxD, take_VxD, axis=1), 0)
  codes = np.where(on_path, np.take_along_axis(up_codes_VxD, take_VxD, axis=1), 0)
  inverse = np.empty(V, np.int64)
  inverse[order] = np.arange(V)  # word w is rank inverse[w] of word2vec.c's order
  return HuffmanTree(points[inverse].astype(np.int32), codes[inverse].astype(np.float32),
                     on_path[inverse].astype(np.float32), depth[inverse].astype(np.int32))


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


def noise_alias(cdf_V: np.ndarray) -> np.ndarray:
  """An alias table (Walker 1977) drawing exactly the distribution of `cdf_V` from one uniform uint32.

  Of a draw `u`, the top k bits pick one of N = 2**k >= V buckets and the low 32 - k bits are a coin:
  bucket b gives word b when the coin is below its threshold and its alias otherwise. Thresholds are whole
  units of 2**-32, so each word is drawn from exactly as many of the 2**32 values of `u` as with
  `searchsorted(cdf_V, u, side='right')` (the last word also taking the values past cdf[-1]): the same
  distribution, with one table look-up per draw instead of a search. The table is built with cumulative
  sums instead of Walker's loop over the words: large word j (weight above a bucket) gives its excess to the
  small buckets in order and, once it falls below a bucket, is itself topped up by large word j + 1.

  Args:
    cdf_V: from `noise_cdf`.

  Returns:
    (N, 2) int32: per bucket, the threshold (0..2**(32-k)) and the alias.
  """
  V = len(cdf_V)
  k = max(2, (V - 1).bit_length())  # at least 4 buckets: a threshold of 2**(32 - k) then fits in an int32
  N, C = 1 << k, 1 << (32 - k)
  cdf = cdf_V.astype(np.int64)
  weight_N = np.zeros(N, np.int64)  # in units of 2**-32; the padding buckets' words have none
  weight_N[:V] = np.diff(np.concatenate([[0], cdf[:-1], [1 << 32]]))
  small, large = np.flatnonzero(weight_N < C), np.flatnonzero(weight_N >= C)
  deficit_cum = np.cumsum(C - weight_N[small])
  excess_cum = np.cumsum(weight_N[large] - C)
  # Large j falls below a bucket while covering small number turn[j] (the first whose cumulative deficit
  # exceeds the larges' cumulative excess up to j); past the last small, it never does.
  turn = np.searchsorted(deficit_cum, excess_cum, side='right')
  threshold_N, alias_N = np.full(N, C, np.int64), np.arange(N, dtype=np.int64)
  threshold_N[small] = weight_N[small]
  alias_N[small] = large[np.searchsorted(turn, np.arange(len(small)), side='left')]
  turned = np.flatnonzero(turn < len(small))
  threshold_N[large[turned]] = C - (deficit_cum[turn[turned]] - excess_cum[turned])
  alias_N[large[turned]] = large[turned + 1]
  return np.stack([threshold_N, alias_N], axis=1).astype(np.int32)


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
