"""Training examples, made on the device: subsampling, shrinking windows, pairs / context rows, negatives.

The host cuts the corpus into blocks of whole sentences, padded to a fixed size T (`corpus_blocks`). For
each block, one jitted function (`make_examples`, or `host_examples`, the same with numpy on the host, from
the same random bits) subsamples the tokens (word2vec.c's keep probability, redrawn every epoch), draws
each centre's window, and writes the block's examples, in corpus order and never across a sentence
boundary, to the front of fixed-size buffers: skip-gram (centre, context) pairs, or CBOW rows of up to
2 * window masked contexts. Training steps then gather batches out of those buffers on the device, each
spread over the whole block (`batch_at`), and negatives are drawn on the device from the unigram^0.75
distribution (`draw_negatives`, `step_negatives`, optionally with a pool for rare words). Nothing loops
over tokens in Python, and no batch crosses the host-device boundary.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jw2v import vocab as vocab_lib
from jw2v.corpus import Corpus


class SkipgramBatch(NamedTuple):
  """Skip-gram examples; a leading steps axis S is added when batches are stacked."""
  center_B: jax.Array   # int32
  context_B: jax.Array  # int32
  weight_B: jax.Array   # float32: 1 for real examples, 0 for padding


class CbowBatch(NamedTuple):
  """CBOW examples: the context words of each centre (padding slots masked out)."""
  contexts_BxC: jax.Array  # int32
  mask_BxC: jax.Array      # float32: 1 for a real context slot
  center_B: jax.Array      # int32
  weight_B: jax.Array      # float32


class Block(NamedTuple):
  """Whole sentences of the corpus, padded to T tokens.

  Attributes:
    ids_T: token ids (int32; 0 in the padding).
    sentence_T: sentence label of each token (int32; equal labels = same sentence; -1 in the padding).
    n: number of real tokens (int32 scalar).
  """
  ids_T: np.ndarray
  sentence_T: np.ndarray
  n: np.ndarray


class Examples(NamedTuple):
  """A block's examples at the front of fixed-size buffers (P entries; the first `count` are real).

  Attributes:
    center_P: centre word ids.
    context_P: skip-gram only: context word ids (else an empty array).
    contexts_PxC: CBOW only: context ids, -1 in the slots that hold no context (else an empty array).
    offset_P: position of each example's centre within the block (for learning-rate progress).
    count: number of real examples (int32 scalar).
  """
  center_P: jax.Array
  context_P: jax.Array
  contexts_PxC: jax.Array
  offset_P: jax.Array
  count: jax.Array


def block_size(corpus: Corpus, block_tokens: int, multiple: int = 256) -> int:
  """T: the padded block length, at most `block_tokens` and no more than the corpus needs.

  T is a multiple of `multiple` (of 256 and of the device count, when blocks are split over devices).
  """
  longest = int(np.max(np.diff(corpus.offsets), initial=1))
  size = max(min(block_tokens, len(corpus.ids)), longest)
  step = np.lcm(256, multiple)
  return int(-(-size // step) * step)


class Span(NamedTuple):
  """Where a block lies in the corpus: tokens [lo, hi), sentences [first, last)."""
  lo: int
  hi: int
  first: int
  last: int


def block_spans(corpus: Corpus, size: int) -> Iterator[Span]:
  """Cuts the corpus into blocks of whole sentences of at most `size` tokens (reads only the offsets)."""
  offsets = corpus.offsets
  n_sentences = len(offsets) - 1
  first = 0
  while first < n_sentences:
    last = int(np.searchsorted(offsets, offsets[first] + size, side='right')) - 1
    last = min(max(last, first + 1), n_sentences)
    yield Span(int(offsets[first]), int(offsets[last]), first, last)
    first = last


def read_block(corpus: Corpus, span: Span, size: int, start: int = 0, stop: Optional[int] = None
               ) -> tuple[np.ndarray, np.ndarray]:
  """Positions [start, stop) of a block padded to `size`: (ids, sentence labels); only those tokens are read.

  A process of a multi-process run reads just the positions its devices hold.
  """
  stop = size if stop is None else stop
  ids = np.zeros(stop - start, np.int32)
  sentence = np.full(stop - start, -1, np.int32)
  lo, hi = span.lo + start, min(span.lo + stop, span.hi)
  if hi > lo:
    ids[:hi - lo] = corpus.ids[lo:hi]
    starts = corpus.offsets[span.first:span.last + 1]
    sentence[:hi - lo] = np.searchsorted(starts, np.arange(lo, hi), side='right') - 1
  return ids, sentence


def corpus_blocks(corpus: Corpus, size: int) -> Iterator[tuple[int, Block]]:
  """Cuts the corpus into blocks of whole sentences of at most `size` tokens, each padded to `size`.

  Yields:
    (corpus position of the block's first token, Block).
  """
  for span in block_spans(corpus, size):
    yield span.lo, host_block(corpus, span, size)


def host_block(corpus: Corpus, span: Span, size: int) -> Block:
  """The block at `span`, padded to `size`, as host arrays."""
  return Block(*read_block(corpus, span, size), np.int32(span.hi - span.lo))


def example_buffer_size(size: int, model: str, window: int, batch_size: int) -> int:
  """P: room for every example a block of `size` tokens can give, rounded up to whole batches."""
  most = size * 2 * window if model == 'skipgram' else size
  return -(-most // batch_size) * batch_size


def make_examples(block: Block, keep_V: jax.Array, key: jax.Array, *, model: str, window: int,
                  shrink_windows: bool, buffer_size: int) -> Examples:
  """A block's training examples (jit with model, window, shrink_windows and buffer_size static).

  Args:
    block: the tokens.
    keep_V: subsampling keep probability of each word.
    key: PRNG key for this block and epoch.
    model: 'skipgram' (one example per (centre, context) pair) or 'cbow' (one per centre, with its context
      slots; skip-gram with `Config.centre_negatives` uses these rows too).
    window: maximum window.
    shrink_windows: draw each centre's window uniformly from 1..window (word2vec.c); else always `window`.
    buffer_size: P, from `example_buffer_size`.

  Returns:
    Examples, in corpus order: centre by centre, and for skip-gram each centre's contexts left to right.
  """
  T = block.ids_T.shape[0]
  bits_T = example_bits(key, T)
  position_T = jnp.arange(T)
  kept_T = ((bits_T & 0xFFFF).astype(jnp.float32) < keep_V[block.ids_T] * 65536) & (position_T < block.n)
  # Subsampled tokens are removed before windows are drawn (word2vec.c): compact the kept ones.
  source_T, live_T, n_kept = _compact(kept_T, T)
  ids_T = jnp.where(live_T, block.ids_T[source_T], 0)
  sentence_T = jnp.where(live_T, block.sentence_T[source_T], -1)
  origin_T = source_T  # block position of each kept token
  if shrink_windows:  # window - b, b uniform in 0..window-1 (each value 1/window of the 2^16 draws, +-1)
    shrink_T = (bits_T >> 16).astype(jnp.float32) * (window / 65536)
    window_T = window - jnp.minimum(shrink_T, window - 1).astype(jnp.int32)
  else:
    window_T = jnp.full((T,), window)
  C = 2 * window
  offsets_C = jnp.array([o for o in range(-window, window + 1) if o], jnp.int32)
  pos_TxC = position_T[:, None] + offsets_C[None, :]
  inside_TxC = (pos_TxC >= 0) & (pos_TxC < n_kept) & live_T[:, None]
  pos_TxC = jnp.clip(pos_TxC, 0, T - 1)
  valid_TxC = inside_TxC & (jnp.abs(offsets_C)[None, :] <= window_T[:, None])
  valid_TxC &= sentence_T[pos_TxC] == sentence_T[:, None]
  context_TxC = ids_T[pos_TxC]
  if model == 'skipgram':
    source_P, live_P, count = _compact(valid_TxC.reshape(-1), buffer_size)
    row_P = source_P // C
    return Examples(jnp.where(live_P, ids_T[row_P], 0), jnp.where(live_P, context_TxC.reshape(-1)[source_P], 0),
                    jnp.zeros((0, C), jnp.int32), jnp.where(live_P, origin_T[row_P], 0), count)
  row_P, live_P, count = _compact(valid_TxC.any(axis=1), buffer_size)
  # No mask: the steps read it off the ids (`batch_at`), which is faster and spares a (P, C) float buffer.
  real_PxC = jnp.where(live_P[:, None], valid_TxC[row_P], False)
  return Examples(jnp.where(live_P, ids_T[row_P], 0), jnp.zeros((0,), jnp.int32),
                  jnp.where(real_PxC, context_TxC[row_P], -1), jnp.where(live_P, origin_T[row_P], 0), count)


def example_bits(key: jax.Array, size: int) -> jax.Array:
  """The random bits a block's examples are made from: one uint32 per token position.

  One 32-bit draw per token serves both of word2vec.c's draws: its low 16 bits decide the subsampling
  (word2vec.c also compares the keep probability with 16 random bits), the high 16 the window shrink.
  """
  return jax.random.bits(key, (size,), jnp.uint32)


def host_examples(block: Block, keep_V: np.ndarray, bits_T: np.ndarray, *, model: str, window: int,
                  shrink_windows: bool, buffer_size: int) -> Examples:
  """`make_examples` done on the host with numpy, from the block's `example_bits`: the same examples.

  A CPU runs one program at a time, so examples made there stall training for as long as they take; made
  on the host, in the thread that feeds the blocks, they
  are ready before the device needs them, and no program has to be compiled for them.

  Args:
    block: the tokens, as host arrays.
    keep_V: subsampling keep probability of each word (float32).
    bits_T: `example_bits` of the block's key, as a host array.
    model, window, shrink_windows, buffer_size: as for `make_examples`.

  Returns:
    Examples of host arrays, equal to `make_examples`'s for the same key.
  """
  n = int(block.n)
  ids_n = np.asarray(block.ids_T[:n])
  kept_n = (bits_T[:n] & 0xFFFF).astype(np.float32) < keep_V[ids_n] * np.float32(65536)
  origin_K = np.flatnonzero(kept_n).astype(np.int32)  # block position of each kept token
  K, C = len(origin_K), 2 * window
  ids_K, sentence_K = ids_n[origin_K], np.asarray(block.sentence_T)[origin_K]
  if shrink_windows:  # make_examples draws the k-th kept token's window from bits k
    shrink_K = (bits_T[:K] >> 16).astype(np.float32) * np.float32(window / 65536)
    window_K = window - np.minimum(shrink_K, window - 1).astype(np.int32)
  else:
    window_K = np.full(K, window, np.int32)
  # Each kept token's neighbours at offsets -window..window (no 0), from arrays padded by `window` on both
  # sides; the padding's sentence label -1 matches no token's.
  slots = [o + window for o in range(-window, window + 1) if o]
  around = lambda a, fill: np.lib.stride_tricks.sliding_window_view(
      np.concatenate([np.full(window, fill, np.int32), a, np.full(window + 1, fill, np.int32)]), C + 1)[:K, slots]
  context_KxC = around(ids_K, 0)
  valid_KxC = around(sentence_K, -1) == sentence_K[:, None]
  valid_KxC &= np.abs(np.array(slots) - window)[None, :] <= window_K[:, None]
  P = buffer_size
  center_P, offset_P = np.zeros(P, np.int32), np.zeros(P, np.int32)
  if model == 'skipgram':
    pair_Q = np.flatnonzero(valid_KxC)  # centre by centre, each centre's contexts left to right
    row_Q, count = pair_Q // C, len(pair_Q)
    context_P = np.zeros(P, np.int32)
    context_P[:count] = context_KxC.reshape(-1)[pair_Q]
    contexts_PxC = np.zeros((0, C), np.int32)
  else:
    row_Q = np.flatnonzero(valid_KxC.any(axis=1))
    count = len(row_Q)
    context_P = np.zeros((0,), np.int32)
    contexts_PxC = np.full((P, C), -1, np.int32)
    contexts_PxC[:count] = np.where(valid_KxC[row_Q], context_KxC[row_Q], -1)
  center_P[:count], offset_P[:count] = ids_K[row_Q], origin_K[row_Q]
  return Examples(center_P, context_P, contexts_PxC, offset_P, np.int32(count))


def examples_shape(size: int, model: str, window: int, buffer_size: int) -> Examples:
  """The shapes and dtypes of `make_examples`'s (and `host_examples`') output, as jax.ShapeDtypeStruct."""
  P, C = buffer_size, 2 * window
  shapes = ((P,), (P,) if model == 'skipgram' else (0,), (0, C) if model == 'skipgram' else (P, C), (P,), ())
  return Examples(*(jax.ShapeDtypeStruct(shape, jnp.int32) for shape in shapes))


def _compact(keep_N: jax.Array, size: int):
  """Where each of `size` output slots takes its entry from, to move the True entries of keep_N to the front.

  One scatter builds the source of every slot (kept entries first, order kept, then the others, so that the
  destinations are a permutation and the writes need no ordering); arrays are then gathered through it.

  Returns:
    (source_P, live_P, count): source index of each slot, whether the slot holds a kept entry, and the
    number of kept entries.
  """
  N = keep_N.shape[0]
  kept_before_N = jnp.cumsum(keep_N, dtype=jnp.int32)
  count = kept_before_N[-1]
  dest_N = jnp.where(keep_N, kept_before_N - 1, count + jnp.arange(N, dtype=jnp.int32) - kept_before_N)
  source = jnp.zeros(N, jnp.int32).at[dest_N].set(jnp.arange(N, dtype=jnp.int32), unique_indices=True)
  source_P = jnp.pad(source, (0, max(size - N, 0)))[:size]
  return source_P, jnp.arange(size) < count, count


def batch_at(examples: Examples, step: jax.Array, batch_size: int, part=0, parts: int = 1):
  """Part `part` of `parts` of the `step`-th batch of a block's examples (slots past `count`: weight 0).

  The batches interleave the block: with n = ceil(count / batch_size) batches, batch s holds examples s,
  s + n, s + 2n, ..., so that a step's examples come from across the whole block, not from one stretch
  of it. A step's updates are computed from the same vectors and summed; from one stretch of text, a word
  that stretch repeats (a man page's own terms, a table) lands hundreds of times on its rows in a single
  step, which overshoots and can make the loss run away. With parts > 1 (devices), part p is slots
  [p * b, (p + 1) * b) of the batch, b = batch_size / parts.
  """
  size = batch_size // parts
  n = jnp.maximum(-(-examples.count // batch_size), 1)
  idx_B = step + n * (part * size + jnp.arange(size))  # < n * batch_size <= the buffer's size
  weight_B = (idx_B < examples.count).astype(jnp.float32)
  if examples.context_P.shape[0]:
    return SkipgramBatch(examples.center_P[idx_B], examples.context_P[idx_B], weight_B)
  contexts_BxC = examples.contexts_PxC[idx_B]
  real_BxC = contexts_BxC >= 0
  return CbowBatch(jnp.where(real_BxC, contexts_BxC, 0), real_BxC.astype(jnp.float32), examples.center_P[idx_B],
                   weight_B)


def batch_counts(count: int, batch_size: int, first: int, steps: int) -> np.ndarray:
  """The real examples in each of batches first..first+steps-1 of a block of `count` examples (`batch_at`'s
  interleaving: with n batches, batch s holds examples s, s + n, ..., so the first count % n batches hold
  one more than the others)."""
  n = max(-(-count // batch_size), 1)
  s = np.arange(first, first + steps)
  return np.where(s < n, count // n + (s < count % n), 0)


class Noise(NamedTuple):
  """The noise distribution on the device: `vocab.noise_alias`'s (N, 2) table of thresholds and aliases.

  With a pool for rare words (`noise(..., rare_from=R)`), also the table of the noise restricted to the
  words of rank R and beyond, and R itself (an int32 scalar); both None otherwise.
  """
  alias_Nx2: jax.Array
  rare_alias_Mx2: Optional[jax.Array] = None
  rare_from: Optional[jax.Array] = None


def noise(counts, exponent: float = 0.75, rare_from: Optional[int] = None) -> Noise:
  """The device noise distribution for word counts: words drawn with probability counts**exponent.

  Args:
    counts: (V,) word counts, most frequent first.
    exponent: the power applied to the counts.
    rare_from: the rank from which words are rare, for `step_negatives`' pool: adds the table of the noise
      restricted to words `rare_from..V-1` (none when there are no such words, or when None).

  Returns:
    Noise.

  Examples:
    >>> import jax, jw2v
    >>> noise = jw2v.noise([100, 10, 1])
    >>> jw2v.draw_negatives(jax.random.key(0), noise, (2, 5)).shape
    (2, 5)
  """
  counts = np.asarray(counts)
  table = jax.device_put(vocab_lib.noise_alias(vocab_lib.noise_cdf(counts, exponent)))
  if rare_from is None or rare_from >= len(counts):
    return Noise(table)
  rare = vocab_lib.noise_alias(vocab_lib.noise_cdf(counts[rare_from:], exponent))
  return Noise(table, jax.device_put(rare), jax.device_put(np.int32(rare_from)))


def draw_negatives(key: jax.Array, noise: Noise, shape: tuple) -> jax.Array:
  """Draws word ids from the noise distribution, one uniform uint32 and one table look-up per draw.

  Args:
    key: PRNG key.
    noise: from `noise`.
    shape: output shape, e.g. (B, K).

  Returns:
    int32 ids of that shape: word i with probability (cdf[i] - cdf[i-1]) / 2**32 (`vocab.noise_cdf`).
  """
  # Drawn flat, then shaped: the same bits, and XLA's CPU compiler builds a much smaller threefry kernel
  # for a flat draw than for a (..., K)-shaped one.
  return _alias_draw(_flat_bits(key, shape), noise.alias_Nx2)


def _flat_bits(key: jax.Array, shape: tuple) -> jax.Array:
  """Uniform uint32s of `shape`, drawn flat."""
  return jax.random.bits(key, (int(np.prod(shape)),), jnp.uint32).reshape(shape)


def _alias_draw(u: jax.Array, table_Nx2: jax.Array) -> jax.Array:
  """The word each uniform uint32 of `u` draws from an alias table (`vocab.noise_alias`)."""
  coin_bits = 32 - (table_Nx2.shape[0].bit_length() - 1)
  bucket = (u >> coin_bits).astype(jnp.int32)
  coin = (u & ((1 << coin_bits) - 1)).astype(jnp.int32)
  entry = table_Nx2[bucket]
  return jnp.where(coin < entry[..., 0], bucket, entry[..., 1])


def step_negatives(key: jax.Array, steps_S: jax.Array, noise: Noise, shape: tuple, pool: int = 0) -> jax.Array:
  """Negatives for several steps at once: row s is `draw_negatives(fold_in(key, steps_S[s]), noise, shape)`,
  or with a pool, that draw with its rare words drawn again through the pool.

  The pool (word2vec.c has none): with `pool` > 0 and a noise with a rare-word table, each step also draws
  `pool` words from the noise restricted to the rare words (rank >= `noise.rare_from`), and every rare
  negative of the step is replaced by one of those, picked by the low bits of its own draw (close to
  uniformly). Each negative still has exactly the
  noise distribution (a rare word w: P(rare) * q(w) / P(rare)); what changes is that a step's rare
  negatives fall on at most `pool` rows. With a large vocabulary those rows are the ones missing from the
  CPU's caches, so a step fetches at most `pool` of them from memory instead of one per rare negative.

  Args:
    key: the run's negatives key.
    steps_S: the steps' numbers.
    noise: from `noise`.
    shape: each step's shape, e.g. (B, K).
    pool: rare words drawn per step (0: none; else a power of two).

  Returns:
    int32 array of shape (S,) + shape.
  """
  def one(step):
    key_t = jax.random.fold_in(key, step)
    u = _flat_bits(key_t, shape)
    ids = _alias_draw(u, noise.alias_Nx2)  # = draw_negatives(key_t, noise, shape)
    if pool and noise.rare_alias_Mx2 is not None:
      pool_P = _alias_draw(_flat_bits(jax.random.fold_in(key_t, 1), (pool,)), noise.rare_alias_Mx2) + noise.rare_from
      # The slot is the low bits of the negative's own uint32 (pool is a power of two, Config checks it),
      # which are close to uniform given that the draw was rare. Whatever the slot, the pool's words are
      # independent of it, so the negative's distribution stays exact; no second draw of B x K bits.
      slot = (u & (pool - 1)).astype(jnp.int32)
      ids = jnp.where(ids >= noise.rare_from, pool_P[slot], ids)
    return ids
  return jax.vmap(one)(steps_S)
