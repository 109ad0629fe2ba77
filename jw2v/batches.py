"""Training examples: subsampling, shrinking windows, pairs / context rows, fixed-shape chunks, negatives.

Host side (numpy, vectorised over a block of the corpus): subsample, draw each centre's window, make
skip-gram (centre, context) pairs or CBOW (contexts, centre) rows, and cut them into chunks of
`steps_per_call` batches of `batch_size` examples. Device side (`draw_negatives`): negatives from the
unigram^0.75 distribution, drawn inside the jitted step.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jw2v.corpus import Corpus


class SkipgramBatch(NamedTuple):
  """Skip-gram examples; a leading steps axis S is added when batches are stacked into a chunk."""
  center_B: np.ndarray   # int32
  context_B: np.ndarray  # int32
  weight_B: np.ndarray   # float32: 1 for real examples, 0 for padding


class CbowBatch(NamedTuple):
  """CBOW examples: the context words of each centre (padding slots masked out)."""
  contexts_BxC: np.ndarray  # int32
  mask_BxC: np.ndarray      # float32: 1 for a real context slot
  center_B: np.ndarray      # int32
  weight_B: np.ndarray      # float32


class Chunk(NamedTuple):
  """`steps_per_call` batches stacked for one `lax.scan`.

  Attributes:
    batch: SkipgramBatch or CbowBatch with arrays of shape (S, B, ...).
    progress_S: (S,) fraction of the run's words processed when each step starts (drives the learning rate).
    active_S: (S,) bool; False for whole padding steps at the end of an epoch (they are skipped).
    words: corpus words this chunk completes (for progress reporting).
  """
  batch: NamedTuple
  progress_S: np.ndarray
  active_S: np.ndarray
  words: int


def sentence_ids(offsets: np.ndarray) -> np.ndarray:
  """(N,) sentence index of every token, from (S+1,) sentence offsets."""
  return np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))


def context_grid(sentence_N: np.ndarray, window_N: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
  """Positions of each token's context words.

  Args:
    sentence_N: sentence index of each token (after subsampling).
    window_N: each token's effective window (1..window).
    window: the maximum window.

  Returns:
    `pos_NxC` (int64, C = 2*window, slots ordered -window..-1, 1..window) and `valid_NxC` (bool): a slot is
    valid when it lies within the token's effective window and inside the same sentence.
  """
  n = len(sentence_N)
  offsets_C = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
  pos_NxC = np.arange(n)[:, None] + offsets_C[None, :]
  inside = (pos_NxC >= 0) & (pos_NxC < n)
  pos_NxC = np.where(inside, pos_NxC, 0)
  valid_NxC = inside & (np.abs(offsets_C)[None, :] <= window_N[:, None])
  valid_NxC &= sentence_N[pos_NxC] == sentence_N[:, None]
  return pos_NxC, valid_NxC


def block_examples(ids_N: np.ndarray, sentence_N: np.ndarray, position_N: np.ndarray, keep_prob_V: np.ndarray,
                   model: str, window: int, shrink_windows: bool, rng: np.random.Generator) -> dict:
  """The examples of one block of whole sentences, in corpus order.

  Args:
    ids_N: token ids of the block.
    sentence_N: sentence index of each token (any labels; only equality matters).
    position_N: each token's position in the corpus (for learning-rate progress).
    keep_prob_V: subsampling keep probability of each word.
    model: 'skipgram' or 'cbow'.
    window: maximum window.
    shrink_windows: draw each centre's window uniformly from 1..window (word2vec.c); else always `window`.
    rng: numpy generator (subsampling and windows).

  Returns:
    A dict of equal-length arrays: skip-gram `center`, `context`; CBOW `contexts` (n, 2W), `mask`, `center`;
    both with `position` (corpus position of the centre).
  """
  kept = rng.random(len(ids_N)) < keep_prob_V[ids_N]
  ids_N, sentence_N, position_N = ids_N[kept], sentence_N[kept], position_N[kept]
  if shrink_windows:
    window_N = window - rng.integers(0, window, size=len(ids_N))
  else:
    window_N = np.full(len(ids_N), window)
  pos_NxC, valid_NxC = context_grid(sentence_N, window_N, window)
  if model == 'skipgram':
    row, slot = np.nonzero(valid_NxC)
    return {'center': ids_N[row], 'context': ids_N[pos_NxC[row, slot]], 'position': position_N[row]}
  has_context = valid_NxC.any(axis=1)
  contexts = np.where(valid_NxC, ids_N[pos_NxC], 0)[has_context]
  return {'contexts': contexts.astype(np.int32), 'mask': valid_NxC[has_context].astype(np.float32),
          'center': ids_N[has_context], 'position': position_N[has_context]}


def epoch_examples(corpus: Corpus, keep_prob_V: np.ndarray, model: str, window: int, shrink_windows: bool,
                   rng: np.random.Generator, block_tokens: int = 1 << 20) -> Iterator[dict]:
  """Yields `block_examples` for consecutive blocks of whole sentences (about `block_tokens` each)."""
  offsets = corpus.offsets
  n_sentences = len(offsets) - 1
  start = 0
  while start < n_sentences:
    stop = int(np.searchsorted(offsets, offsets[start] + block_tokens, side='right')) - 1
    stop = min(max(stop, start + 1), n_sentences)
    lo, hi = offsets[start], offsets[stop]
    sentence_N = sentence_ids(offsets[start:stop + 1] - lo)
    yield block_examples(corpus.ids[lo:hi], sentence_N, np.arange(lo, hi), keep_prob_V, model, window,
                         shrink_windows, rng)
    start = stop


def chunks(blocks: Iterator[dict], model: str, batch_size: int, steps: int, epoch: int, epochs: int,
           corpus_words: int) -> Iterator[Chunk]:
  """Cuts a stream of example blocks into fixed-shape chunks of `steps` batches of `batch_size`.

  The last chunk is padded with zero-weight examples and inactive steps, so every chunk has one shape and
  one compiled step serves the whole run.

  Args:
    blocks: dicts from `block_examples`.
    model: 'skipgram' or 'cbow'.
    batch_size: examples per step.
    steps: steps per chunk.
    epoch: 0-based epoch (progress = (epoch * corpus_words + position) / (epochs * corpus_words)).
    epochs: total epochs of the run.
    corpus_words: in-vocabulary tokens per epoch.
  """
  size = batch_size * steps
  pending, n_pending, words_done = [], 0, 0
  for block in blocks:
    pending.append(block)
    n_pending += len(block['center'])
    while n_pending >= size:
      merged = _concat(pending)
      head = {k: v[:size] for k, v in merged.items()}
      pending = [{k: v[size:] for k, v in merged.items()}]
      n_pending -= size
      chunk = _make_chunk(head, model, batch_size, steps, epoch, epochs, corpus_words, words_done)
      words_done += chunk.words
      yield chunk
  merged = _concat(pending) if pending else None
  if merged is not None and len(merged['center']):
    chunk = _make_chunk(merged, model, batch_size, steps, epoch, epochs, corpus_words, words_done, last=True)
    yield chunk


def _concat(blocks: list) -> dict:
  return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _make_chunk(ex: dict, model: str, batch_size: int, steps: int, epoch: int, epochs: int, corpus_words: int,
                words_done: int, last: bool = False) -> Chunk:
  n = len(ex['center'])
  size = batch_size * steps
  pad = size - n
  weight = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])

  def shaped(a, dtype):
    a = np.concatenate([a.astype(dtype), np.zeros((pad,) + a.shape[1:], dtype)])
    return a.reshape((steps, batch_size) + a.shape[1:])

  if model == 'skipgram':
    batch = SkipgramBatch(shaped(ex['center'], np.int32), shaped(ex['context'], np.int32),
                          weight.reshape(steps, batch_size))
  else:
    batch = CbowBatch(shaped(ex['contexts'], np.int32), shaped(ex['mask'], np.float32),
                      shaped(ex['center'], np.int32), weight.reshape(steps, batch_size))
  n_steps = -(-n // batch_size)
  first = ex['position'][np.minimum(np.arange(steps) * batch_size, n - 1)]
  progress = (epoch * corpus_words + first) / (epochs * corpus_words)
  # Words this chunk completes: up to its last centre (the rest of the epoch when it is the last chunk).
  words = (corpus_words if last else int(ex['position'][-1]) + 1) - words_done
  return Chunk(batch, progress.astype(np.float32), np.arange(steps) < n_steps, words)


def draw_negatives(key: jax.Array, cdf_V: jax.Array, shape: tuple) -> jax.Array:
  """Draws word ids from the noise distribution given by `vocab.noise_cdf`.

  Args:
    key: PRNG key.
    cdf_V: (V,) uint32 cumulative distribution.
    shape: output shape, e.g. (B, K).

  Returns:
    int32 ids of that shape. Cost O(log V) per draw, with no table proportional to the corpus.
  """
  u = jax.random.bits(key, shape, jnp.uint32)
  idx = jnp.searchsorted(cdf_V, u, side='right', method='scan')
  return jnp.minimum(idx, cdf_V.shape[0] - 1).astype(jnp.int32)
