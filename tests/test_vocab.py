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
  draws = np.asarray(jw2v.draw_negatives(jax.random.key(0), jw2v.noise(counts), (400_000,)))
  freq = np.bincount(draws, minlength=len(counts)) / draws.size
  expected = counts**0.75 / np.sum(counts**0.75)
  np.testing.assert_allclose(freq, expected, atol=4 * np.sqrt(expected / draws.size).max())
  assert draws.min() >= 0 and draws.max() < len(counts)


def _cdf_mass(cdf):
  """How many of the 2**32 uint32 draws `searchsorted(cdf, u, 'right')` (clamped) gives to each word."""
  return np.diff(np.concatenate([[0], cdf.astype(np.int64)[:-1], [2**32]]))


ranks = np.arange(1, 200_001)


@pytest.mark.parametrize('counts', [np.array([500, 200, 100, 50, 20, 5, 1]), np.array([1]), np.array([1, 1]),
                                    np.ones(1024, np.int64), np.ones(1025, np.int64), np.array([10**9, 1, 1, 1, 1]),
                                    np.array([7, 0, 0, 3, 0, 1]), np.arange(3000, 0, -1) ** 2,
                                    np.random.default_rng(0).integers(1, 10**6, 5000),
                                    np.round(1e9 / (ranks * np.sum(1.0 / ranks))).astype(np.int64)])
def test_alias_table_draws_exactly_the_cdf_distribution(counts):
  cdf = jw2v.noise_cdf(counts)
  table = jw2v.noise_alias(cdf)
  N, V = table.shape[0], len(counts)
  C = 2**32 // N
  threshold, alias = table[:, 0].astype(np.int64), table[:, 1]
  assert N >= max(V, 4) and N & (N - 1) == 0
  assert np.all((threshold >= 0) & (threshold <= C)) and np.all((alias >= 0) & (alias < V))
  # Each word gets exactly as many of the 2**32 draws as under the cdf: its buckets' thresholds plus
  # the rest of the buckets that alias it.
  mass = np.zeros(N, np.int64)
  np.add.at(mass, np.arange(N), threshold)
  np.add.at(mass, alias, C - threshold)
  np.testing.assert_array_equal(mass[:V], _cdf_mass(cdf))
  assert not mass[V:].any()


def test_draws_follow_the_alias_table_bit_by_bit():
  counts = np.array([500, 200, 100, 50, 20, 5, 1])
  noise = jw2v.noise(counts)
  table = np.asarray(noise.alias_Nx2).astype(np.int64)
  N = table.shape[0]
  coin_bits = 32 - (N.bit_length() - 1)
  # In every bucket: the lowest and highest coins, and those on either side of its threshold.
  bucket, coin = np.meshgrid(np.arange(N), [0, 1, 2**coin_bits - 1], indexing='ij')
  edges = np.clip(table[:, :1] + np.array([-1, 0]), 0, 2**coin_bits - 1)
  bucket = np.concatenate([bucket, np.repeat(np.arange(N)[:, None], 2, 1)], 1).ravel()
  coin = np.concatenate([coin, edges], 1).ravel()
  u = ((bucket << coin_bits) | coin).astype(np.uint32)
  expected = np.where(coin < table[bucket, 0], bucket, table[bucket, 1])
  import unittest.mock
  with unittest.mock.patch.object(jax.random, 'bits', lambda key, shape, dtype: jnp.asarray(u)):
    np.testing.assert_array_equal(jw2v.draw_negatives(None, noise, u.shape), expected)


def test_vocab_file_round_trip_and_errors(tmp_path):
  vocab = jw2v.build_vocab(collections.Counter('été a a b'.split()), min_count=1)
  save_vocab(vocab, tmp_path / 'v.txt')
  again = load_vocab(tmp_path / 'v.txt')
  assert again.words == vocab.words and again.counts.tolist() == vocab.counts.tolist()
  (tmp_path / 'bad.txt').write_text('a 3\nb\n')
  with pytest.raises(jw2v.DataError, match=r'bad.txt:2'):
    load_vocab(tmp_path / 'bad.txt')


def test_max_final_vocab_gives_gensims_vocabulary(tmp_path):
  gensim = pytest.importorskip('gensim')
  rng = np.random.default_rng(3)
  sentences = [[f'w{int(x)}' for x in rng.zipf(1.3, size=12) if x < 400] for _ in range(2000)]
  counts = jw2v.corpus.count_words(jw2v.corpus.sentences_text(sentences))
  for min_count, final in ((1, 50), (5, 50), (1, 10_000), (3, 7)):
    model = gensim.models.Word2Vec(min_count=min_count, max_final_vocab=final, vector_size=4)
    model.build_vocab(sentences)
    ours = jw2v.build_vocab(counts, min_count, max_final_vocab=final)
    # the same words (gensim orders equal counts its own way; jw2v by first occurrence, as DESIGN says)
    assert set(ours.words) == set(model.wv.index_to_key) and len(ours) == len(model.wv), (min_count, final)
    assert sorted(ours.counts.tolist()) == sorted(model.wv.get_vecattr(w, 'count') for w in model.wv.index_to_key)
    assert len(ours) <= final
  # equal counts are never split, so it may keep fewer than asked; max_vocab_size cuts exactly
  tied = collections.Counter({'a': 5, 'b': 3, 'c': 3, 'd': 1})
  assert jw2v.build_vocab(tied, 1, max_final_vocab=2).words == ('a',)
  assert jw2v.build_vocab(tied, 1, max_vocab_size=2).words == ('a', 'b')


def test_extend_vocab_grows_it_as_gensims_build_vocab_update_does():
  gensim = pytest.importorskip('gensim')
  old_text = [['a', 'b', 'a', 'c'], ['b', 'a', 'd']] * 5
  new_text = [['a', 'e', 'e', 'f', 'c'], ['e', 'g', 'f']] * 3
  old = jw2v.build_vocab(jw2v.corpus.count_words(jw2v.corpus.sentences_text(old_text)), min_count=5)
  grown = jw2v.extend_vocab(old, jw2v.corpus.count_words(jw2v.corpus.sentences_text(new_text)), min_count=5)
  assert grown.words[:len(old)] == old.words and grown.words[len(old):] == ('e', 'f')  # g: 3 < 5
  model = gensim.models.Word2Vec(min_count=5, vector_size=4)
  model.build_vocab(old_text)
  model.build_vocab(new_text, update=True)
  assert set(grown.words) == set(model.wv.index_to_key)
  assert {w: int(c) for w, c in zip(grown.words, grown.counts)} == {
      w: model.wv.get_vecattr(w, 'count') for w in model.wv.index_to_key}
