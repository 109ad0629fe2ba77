import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jw2v
from jw2v import batches
from jw2v.corpus import Corpus

W = 3


def _corpus(lengths, vocab_size=50, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, vocab_size, sum(lengths)).astype(np.int32)
  return Corpus(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), sum(lengths))


def _make(on, size, model, window=W, shrink=True, batch_size=8):
  """`make(block, keep, key)`: a block's examples made on the device (`make_examples`) or on the host
  (`host_examples`, from the same key's `example_bits`)."""
  how = dict(model=model, window=window, shrink_windows=shrink,
             buffer_size=batches.example_buffer_size(size, model, window, batch_size))
  if on == 'device':
    make = jax.jit(functools.partial(batches.make_examples, **how))
    return lambda block, keep, key: make(jax.device_put(block), jnp.asarray(keep, jnp.float32), key)
  return lambda block, keep, key: batches.host_examples(
      block, np.asarray(keep, np.float32), np.asarray(batches.example_bits(key, size)), **how)


@pytest.fixture(params=['device', 'host'])
def on(request):
  """Where the examples are made: every test of their contents runs on both makers."""
  return request.param


def _examples(corpus, model, shrink=True, keep=None, seed=0, block_tokens=1 << 20, on='device'):
  """Every block's examples, as numpy arrays, with centre positions made corpus-wide."""
  keep = np.ones(50) if keep is None else keep
  size = batches.block_size(corpus, block_tokens)
  make = _make(on, size, model, shrink=shrink)
  parts = []
  for b, (start, block) in enumerate(batches.corpus_blocks(corpus, size)):
    ex = make(block, keep, jax.random.fold_in(jax.random.key(seed), b))
    n = int(ex.count)
    part = {'center': np.asarray(ex.center_P)[:n], 'position': start + np.asarray(ex.offset_P)[:n]}
    if model == 'skipgram':
      part['context'] = np.asarray(ex.context_P)[:n]
      assert not np.any(np.asarray(ex.center_P)[n:]) and not np.any(np.asarray(ex.context_P)[n:])
    else:
      contexts = np.asarray(ex.contexts_PxC)
      part['contexts'], part['mask'] = np.maximum(contexts[:n], 0), (contexts[:n] >= 0).astype(np.float32)
      assert np.all(contexts[n:] == -1)
    parts.append(part)
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_blocks_hold_whole_sentences():
  corpus = _corpus([5, 9, 2, 7, 7, 1])
  size = batches.block_size(corpus, 16)
  assert size >= 9 and size % 256 == 0
  seen = []
  for start, block in batches.corpus_blocks(corpus, 10):
    n = int(block.n)
    assert block.ids_T.shape == (10,) and n <= 10
    np.testing.assert_array_equal(block.ids_T[:n], corpus.ids[start:start + n])
    assert np.all(block.sentence_T[n:] == -1) and np.all(np.diff(block.sentence_T[:n]) >= 0)
    assert start in corpus.offsets and start + n in corpus.offsets  # sentence boundaries
    seen.append((start, n))
  assert [s for s, _ in seen] == sorted(s for s, _ in seen) and sum(n for _, n in seen) == 31


@pytest.mark.parametrize('block_tokens', [1 << 20, 12])
def test_fixed_window_pairs_are_exactly_the_neighbours_within_sentences(block_tokens, on):
  lengths = [1, 5, 2, 9, 4, 11]
  corpus = _corpus(lengths)
  ex = _examples(corpus, 'skipgram', shrink=False, block_tokens=block_tokens, on=on)
  expected_center, expected_context, expected_position = [], [], []
  for s in range(len(lengths)):
    lo, hi = corpus.offsets[s], corpus.offsets[s + 1]
    for i in range(lo, hi):
      for j in range(max(lo, i - W), min(hi, i + W + 1)):
        if j != i:  # centre by centre, contexts left to right
          expected_center.append(corpus.ids[i])
          expected_context.append(corpus.ids[j])
          expected_position.append(i)
  np.testing.assert_array_equal(ex['center'], expected_center)
  np.testing.assert_array_equal(ex['context'], expected_context)
  np.testing.assert_array_equal(ex['position'], expected_position)


def test_shrinking_windows_draw_uniformly(on):
  corpus = _corpus([20_000])
  ex = _examples(corpus, 'skipgram', shrink=True, on=on)
  # P(context at distance d is used) = P(window >= d) = (W - d + 1) / W, on each side.
  per_center = np.bincount(ex['position'], minlength=20_000)
  assert per_center[W:-W].min() >= 2 and per_center.min() >= 1 and per_center.max() <= 2 * W
  np.testing.assert_allclose(per_center[W:-W].mean(), 2 * sum((W - d + 1) / W for d in range(1, W + 1)),
                             rtol=0.02)


def test_subsampling_keeps_words_at_their_probability(on):
  corpus = _corpus([50_000], vocab_size=50)
  keep = np.linspace(0.1, 1.0, 50)
  ex = _examples(corpus, 'cbow', shrink=False, keep=keep, on=on)
  kept = np.bincount(ex['center'], minlength=50) / np.bincount(corpus.ids, minlength=50)
  np.testing.assert_allclose(kept, keep, atol=0.06)
  dropped = _examples(corpus, 'cbow', shrink=False, keep=np.where(np.arange(50) < 25, 0.0, 1.0), on=on)
  assert np.all(dropped['center'] >= 25) and np.all(dropped['contexts'][dropped['mask'] > 0] >= 25)
  # Windows are drawn over the kept words: a context can be more than W tokens away in the text.
  assert np.any(np.abs(np.diff(dropped['position'])) > 1)


def test_cbow_rows_hold_the_same_contexts_as_skipgram_pairs(on):
  corpus = _corpus([4, 12, 1, 30])
  sg = _examples(corpus, 'skipgram', seed=5, on=on)
  cb = _examples(corpus, 'cbow', seed=5, on=on)  # same key: same subsampling and windows
  assert cb['contexts'].shape[1] == 2 * W and np.all(cb['mask'].sum(1) >= 1)
  assert len(cb['center']) == len(np.unique(sg['position']))
  for row in range(len(cb['center'])):
    pos = cb['position'][row]
    assert sorted(cb['contexts'][row][cb['mask'][row] > 0].tolist()) == sorted(sg['context'][sg['position'] == pos])


@pytest.mark.parametrize('model', ['skipgram', 'cbow'])
@pytest.mark.parametrize('shrink', [True, False])
def test_host_examples_equal_device_examples(model, shrink):
  # Sentences of one token, blocks cut mid-corpus, words never kept, and a block with nothing kept.
  corpus = _corpus([1, 5, 2, 9, 1, 1, 4, 11, 30, 3, 1, 17], seed=2)
  for seed, (block_tokens, keep) in enumerate([(1 << 20, np.ones(50)), (12, np.linspace(0.0, 1.0, 50)),
                                               (20, np.where(np.arange(50) % 3, 0.6, 0.0)), (12, np.zeros(50))]):
    size = batches.block_size(corpus, block_tokens)
    host, device = _make('host', size, model, shrink=shrink), _make('device', size, model, shrink=shrink)
    for b, (_, block) in enumerate(batches.corpus_blocks(corpus, size)):
      key = jax.random.fold_in(jax.random.key(seed), b)
      got, want = host(block, keep, key), device(block, keep, key)
      assert int(got.count) == int(want.count) and (int(want.count) > 0) == bool(keep.any())
      for name, a, b_ in zip(batches.Examples._fields, got, want):
        assert a.dtype == b_.dtype == np.int32, name
        np.testing.assert_array_equal(a, np.asarray(b_), err_msg=name)
  shapes = batches.examples_shape(size, model, W, batches.example_buffer_size(size, model, W, 8))
  assert jax.tree.map(lambda x: (x.shape, x.dtype), shapes) == jax.tree.map(lambda x: (x.shape, x.dtype), want)


def test_batches_interleave_the_examples_and_cover_each_once():
  corpus = _corpus([40, 33, 27])
  size = batches.block_size(corpus, 1 << 20)
  _, block = next(batches.corpus_blocks(corpus, size))
  ex = batches.make_examples(jax.device_put(block), jnp.ones(50), jax.random.key(0), model='skipgram',
                             window=W, shrink_windows=False,
                             buffer_size=batches.example_buffer_size(size, 'skipgram', W, 16))
  n = int(ex.count)
  steps = -(-n // 16)
  got = [batches.batch_at(ex, s, 16) for s in range(steps)]
  assert all(b.center_B.shape == (16,) for b in got)
  # Batch s holds examples s, s + steps, s + 2 * steps, ...: every one once, padding (weight 0) after the last.
  slots_SxB = np.arange(steps)[:, None] + steps * np.arange(16)[None, :]
  weights_SxB = np.stack([b.weight_B for b in got])
  np.testing.assert_array_equal(weights_SxB, slots_SxB < n)
  context_SxB = np.stack([b.context_B for b in got])
  np.testing.assert_array_equal(context_SxB[slots_SxB < n], np.asarray(ex.context_P)[slots_SxB[slots_SxB < n]])
  assert sorted(slots_SxB[slots_SxB < n].tolist()) == list(range(n))
  halves = [batches.batch_at(ex, 1, 16, part, 2) for part in (0, 1)]  # two devices split batch 1 in halves
  np.testing.assert_array_equal(np.concatenate([h.context_B for h in halves]), got[1].context_B)
  cbow = batches.make_examples(jax.device_put(block), jnp.ones(50), jax.random.key(0), model='cbow', window=W,
                               shrink_windows=False, buffer_size=batches.example_buffer_size(size, 'cbow', W, 16))
  b = batches.batch_at(cbow, 0, 16)
  assert isinstance(b, batches.CbowBatch) and b.contexts_BxC.shape == b.mask_BxC.shape == (16, 2 * W)
  # The mask is read off the examples' ids (-1: no context); the batch's empty slots hold id 0.
  contexts = np.asarray(cbow.contexts_PxC)[-(-int(cbow.count) // 16) * np.arange(16)]
  np.testing.assert_array_equal(b.mask_BxC, (contexts >= 0).astype(np.float32))
  np.testing.assert_array_equal(b.contexts_BxC, np.maximum(contexts, 0))
  assert 0 < b.mask_BxC.sum() < b.mask_BxC.size  # the sentence ends leave slots empty


def test_step_negatives_equal_per_step_draws():
  noise = jw2v.noise(np.arange(30, 0, -1))
  key = jax.random.key(3)
  many = batches.step_negatives(key, jnp.arange(5, 9), noise, (4, 2))
  for s in range(4):
    np.testing.assert_array_equal(many[s], batches.draw_negatives(jax.random.fold_in(key, 5 + s), noise, (4, 2)))


def test_pooled_negatives_keep_the_noise_distribution():
  V, rare_from, pool, B = 64, 8, 16, 64
  counts = np.round(1e6 / np.arange(1, V + 1)).astype(np.int64)
  noise = jw2v.noise(counts, rare_from=rare_from)
  key = jax.random.key(3)
  steps = jnp.arange(4000)
  plain = np.asarray(batches.step_negatives(key, steps, noise, (B,)))
  pooled = np.asarray(batches.step_negatives(key, steps, noise, (B,), pool=pool))
  frequent = plain < rare_from
  # Frequent words are the plain draws, untouched; rare ones fall on at most `pool` words per step.
  np.testing.assert_array_equal(pooled[frequent], plain[frequent])
  assert np.all(pooled[~frequent] >= rare_from)
  assert max(len(np.unique(row[row >= rare_from])) for row in pooled) <= pool
  assert np.mean([len(np.unique(row[row >= rare_from])) for row in plain]) > pool  # so the pool bites
  # The marginal is the noise distribution: every word's frequency within 4.5 standard errors of q.
  q = counts ** 0.75 / np.sum(counts ** 0.75)
  n = pooled.size
  freq = np.bincount(pooled.ravel(), minlength=V) / n
  # Draws within a step are correlated through the pool (a rare word's count in a step varies about twice
  # as much as with independent draws here): the standard error allows four times the variance.
  se = np.sqrt(4 * q * (1 - q) / n)
  assert np.all(np.abs(freq - q) < 4.5 * se), np.max(np.abs(freq - q) / se)
  # A pool of one: every rare negative of a step is the same word.
  one = np.asarray(batches.step_negatives(key, steps[:50], noise, (B,), pool=1))
  assert all(len(np.unique(row[row >= rare_from])) <= 1 for row in one)


def test_no_pool_without_rare_words():
  counts = np.arange(30, 0, -1)
  assert jw2v.noise(counts, rare_from=30).rare_alias_Mx2 is None and jw2v.noise(counts).rare_from is None
  key, steps = jax.random.key(1), jnp.arange(3)
  plain = batches.step_negatives(key, steps, jw2v.noise(counts), (8, 4))
  np.testing.assert_array_equal(batches.step_negatives(key, steps, jw2v.noise(counts, rare_from=30), (8, 4), pool=64),
                                plain)
  np.testing.assert_array_equal(batches.step_negatives(key, steps, jw2v.noise(counts, rare_from=5), (8, 4)), plain)
