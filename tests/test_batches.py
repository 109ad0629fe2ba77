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


def _examples(corpus, model, shrink=True, keep=None, seed=0, block_tokens=1 << 20):
  keep = np.ones(50) if keep is None else keep
  blocks = list(batches.epoch_examples(corpus, keep, model, W, shrink, np.random.default_rng(seed), block_tokens))
  return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _exact_pair_count(lengths, window):
  return sum(min(i, window) + min(n - 1 - i, window) for n in lengths for i in range(n))


@pytest.mark.parametrize('block_tokens', [1 << 20, 7])
def test_fixed_window_pairs_are_exactly_the_neighbours_within_sentences(block_tokens):
  lengths = [1, 5, 2, 9, 4]
  corpus = _corpus(lengths)
  ex = _examples(corpus, 'skipgram', shrink=False, block_tokens=block_tokens)
  assert len(ex['center']) == _exact_pair_count(lengths, W)
  sentence = batches.sentence_ids(corpus.offsets)
  center_pos = ex['position']
  # Each centre's contexts are exactly its neighbours within W inside its own sentence, left to right.
  for pos in np.unique(center_pos):
    s = sentence[pos]
    lo, hi = corpus.offsets[s], corpus.offsets[s + 1]
    expected = [corpus.ids[j] for j in range(max(lo, pos - W), min(hi, pos + W + 1)) if j != pos]
    got = ex['context'][center_pos == pos]
    assert got.tolist() == expected
    assert np.all(ex['center'][center_pos == pos] == corpus.ids[pos])


def test_shrinking_windows_draw_uniformly():
  corpus = _corpus([20_000])
  ex = _examples(corpus, 'skipgram', shrink=True)
  # P(context at distance d is used) = P(window >= d) = (W - d + 1) / W, on each side.
  per_center = np.bincount(ex['position'], minlength=20_000)
  assert per_center.min() >= 1 and per_center.max() <= 2 * W
  np.testing.assert_allclose(per_center[W:-W].mean(), 2 * sum((W - d + 1) / W for d in range(1, W + 1)),
                             rtol=0.02)


def test_subsampling_keeps_words_at_their_probability():
  corpus = _corpus([50_000], vocab_size=50)
  keep = np.linspace(0.1, 1.0, 50)
  ex = _examples(corpus, 'cbow', shrink=False, keep=keep)
  kept = np.bincount(ex['center'], minlength=50) / np.bincount(corpus.ids, minlength=50)
  np.testing.assert_allclose(kept, keep, atol=0.06)
  dropped = _examples(corpus, 'cbow', shrink=False, keep=np.where(np.arange(50) < 25, 0.0, 1.0))
  assert np.all(dropped['center'] >= 25) and np.all(dropped['contexts'][dropped['mask'] > 0] >= 25)


def test_cbow_rows_hold_the_same_contexts_as_skipgram_pairs():
  corpus = _corpus([4, 12, 1, 30])
  sg = _examples(corpus, 'skipgram', seed=5)
  cb = _examples(corpus, 'cbow', seed=5)  # same seed: same subsampling and windows
  assert cb['contexts'].shape[1] == 2 * W
  assert np.all(cb['mask'].sum(1) >= 1)
  for row in range(len(cb['center'])):
    pos = cb['position'][row]
    from_pairs = sorted(sg['context'][sg['position'] == pos].tolist())
    assert sorted(cb['contexts'][row][cb['mask'][row] > 0].tolist()) == from_pairs
  assert len(cb['center']) == len(np.unique(sg['position']))


def test_chunks_have_fixed_shapes_and_cover_every_example():
  corpus = _corpus([40, 33, 27])
  ex = _examples(corpus, 'skipgram', shrink=False)
  n = len(ex['center'])
  chunks = list(batches.chunks(iter([ex]), 'skipgram', batch_size=16, steps=4, epoch=1, epochs=3,
                               corpus_words=len(corpus.ids)))
  assert all(c.batch.center_B.shape == (4, 16) and c.batch.center_B.dtype == np.int32 for c in chunks)
  weights = np.concatenate([c.batch.weight_B.ravel() for c in chunks])
  assert weights.sum() == n and np.all(weights[:n] == 1) and np.all(weights[n:] == 0)
  centers = np.concatenate([c.batch.center_B.ravel() for c in chunks])[:n]
  np.testing.assert_array_equal(centers, ex['center'])
  assert sum(c.words for c in chunks) == len(corpus.ids)
  assert sum(int(c.active_S.sum()) for c in chunks) == -(-n // 16)
  progress = np.concatenate([c.progress_S[c.active_S] for c in chunks])
  assert np.all(np.diff(progress) >= 0) and 1 / 3 <= progress[0] and progress[-1] < 2 / 3


def test_cbow_chunks():
  corpus = _corpus([40, 33])
  ex = _examples(corpus, 'cbow')
  chunk = next(batches.chunks(iter([ex]), 'cbow', batch_size=8, steps=2, epoch=0, epochs=1,
                              corpus_words=len(corpus.ids)))
  assert chunk.batch.contexts_BxC.shape == (2, 8, 2 * W) and chunk.batch.mask_BxC.shape == (2, 8, 2 * W)
  np.testing.assert_array_equal(chunk.batch.center_B.ravel(), ex['center'][:16])
