import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jw2v
from jw2v.vocab import load_vocab, save_vocab


def test_order_by_count_then_first_occurrence():
  counts = collections.Counter('d b a c b a e a d'.split() + ['c', 'x'])
  vocab = jw2v.build_vocab(counts, min_count=2)
  # a:3; then the count-2 words d, b, c in order of first appearance; e and x (count 1) dropped.
  assert vocab.words == ('a', 'd', 'b', 'c')
  assert vocab.counts.tolist() == [3, 2, 2, 2]
  assert vocab.index == {'a': 0, 'd': 1, 'b': 2, 'c': 3}


def test_max_vocab_size_keeps_the_most_frequent():
  counts = collections.Counter('a a a b b c c d'.split())
  assert jw2v.build_vocab(counts, min_count=1, max_vocab_size=2).words == ('a', 'b')


def test_keep_probabilities_formula():
  counts = np.array([10_000, 1_000, 10, 1])
  t = 1e-3
  threshold = t * counts.sum()
  p = jw2v.keep_probabilities(counts, t)
  expected = np.minimum(1, (np.sqrt(counts / threshold) + 1) * threshold / counts)
  np.testing.assert_allclose(p, expected)
  assert p[0] < p[1] < 1.0 and p[3] == 1.0
  np.testing.assert_array_equal(jw2v.keep_probabilities(counts, 0.0), 1.0)


def test_noise_distribution_is_unigram_to_the_075():
  counts = np.array([500, 200, 100, 50, 20, 5, 1])
  cdf = jw2v.noise_cdf(counts, 0.75)
  assert cdf.dtype == np.uint32 and cdf[-1] == 2**32 - 1 and np.all(np.diff(cdf.astype(np.int64)) > 0)
  draws = np.asarray(jw2v.draw_negatives(jax.random.key(0), jnp.asarray(cdf), (400_000,)))
  freq = np.bincount(draws, minlength=len(counts)) / draws.size
  expected = counts**0.75 / np.sum(counts**0.75)
  np.testing.assert_allclose(freq, expected, atol=4 * np.sqrt(expected / draws.size).max())
  assert draws.min() >= 0 and draws.max() < len(counts)


def test_vocab_file_round_trip_and_errors(tmp_path):
  vocab = jw2v.build_vocab(collections.Counter('été a a b'.split()), min_count=1)
  save_vocab(vocab, tmp_path / 'v.txt')
  again = load_vocab(tmp_path / 'v.txt')
  assert again.words == vocab.words and again.counts.tolist() == vocab.counts.tolist()
  (tmp_path / 'bad.txt').write_text('a 3\nb\n')
  with pytest.raises(jw2v.DataError, match=r'bad.txt:2'):
    load_vocab(tmp_path / 'bad.txt')


@pytest.mark.parametrize('counts', [np.array([500, 200, 100, 50, 20, 5, 1]), np.array([1, 1]),
                                    np.arange(3000, 0, -1) ** 2, np.random.default_rng(0).integers(1, 10**6, 5000)])
def test_guide_table_gives_the_same_draws_as_binary_search(counts):
  nz, steps = jw2v.noise(counts)
  cdf = jw2v.noise_cdf(counts)
  assert steps <= 6 and nz.guide_G.shape[0] - 1 >= len(counts)
  key = jax.random.key(4)
  np.testing.assert_array_equal(jw2v.draw_negatives(key, nz, (50_000,), steps),
                                jw2v.draw_negatives(key, jnp.asarray(cdf), (50_000,)))
  # Draws exactly at, just below and just above every boundary, and the extremes.
  edges = np.concatenate([cdf.astype(np.int64) + d for d in (-1, 0, 1)] + [[0, 2**32 - 1]])
  u = np.unique(np.clip(edges, 0, 2**32 - 1)).astype(np.uint32)
  expected = np.minimum(np.searchsorted(cdf, u, side='right'), len(counts) - 1)
  import unittest.mock
  with unittest.mock.patch.object(jax.random, 'bits', lambda key, shape, dtype: jnp.asarray(u)):
    np.testing.assert_array_equal(jw2v.draw_negatives(None, nz, u.shape, steps), expected)
