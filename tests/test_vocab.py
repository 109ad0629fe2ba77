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
