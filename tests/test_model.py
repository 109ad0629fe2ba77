import jax
import jax.numpy as jnp
import numpy as np

import jw2v
from jw2v.model import cbow_hidden


def _params(key, V=12, H=4):
  k1, k2 = jax.random.split(key)
  return {'W_in': jax.random.normal(k1, (V, H)), 'W_out': jax.random.normal(k2, (H, V))}


def test_init_params_follows_word2vec_c():
  params = jw2v.init_params(jax.random.key(0), 500, 40, scale=0.5)
  assert params['W_in'].shape == (500, 40) and params['W_out'].shape == (40, 500)
  assert params['W_in'].dtype == jnp.float32
  W_in = np.asarray(params['W_in'])
  assert W_in.min() >= -0.5 / 40 and W_in.max() < 0.5 / 40
  assert W_in.std() > 0.25 * (1 / 40) / np.sqrt(12)  # spread over the range, not constant
  assert not np.any(np.asarray(params['W_out']))


def test_init_scale_widens_the_initial_range():
  narrow = np.asarray(jw2v.init_params(jax.random.key(0), 500, 40, scale=0.5)['W_in'])  # word2vec.c's range
  wide = np.asarray(jw2v.init_params(jax.random.key(0), 500, 40)['W_in'])  # gensim 4's, the default
  assert wide.min() >= -1 / 40 and wide.max() < 1 / 40 and np.abs(wide).max() > 0.99 / 40
  np.testing.assert_allclose(wide, 2 * narrow, rtol=1e-6, atol=1e-9)


def test_embedding_is_one_hot_product():
  W_in = jax.random.normal(jax.random.key(1), (7, 3))
  idx = jnp.array([4, 0, 4, 6])
  one_hot = jax.nn.one_hot(idx, 7)
  np.testing.assert_allclose(jw2v.embedding(W_in, idx), one_hot @ W_in, rtol=1e-6)


def test_embedding_dot_selects_the_target_logit():
  params = _params(jax.random.key(2))
  h = jax.random.normal(jax.random.key(3), (5, 4))
  target = jnp.array([0, 11, 3, 3, 7])
  full_logits = h @ params['W_out']  # the multi-class layer the chapter replaces
  np.testing.assert_allclose(jw2v.embedding_dot(params['W_out'], h, target),
                             full_logits[jnp.arange(5), target], rtol=1e-5)


def _np_sigmoid_loss(pos, neg, mask):
  log_sig = lambda x: -np.log1p(np.exp(-x))
  return float(np.sum(-log_sig(pos) - np.sum(mask * log_sig(-neg), axis=-1)))


def test_skipgram_loss_matches_numpy_and_is_summed():
  params = _params(jax.random.key(4))
  W_in, W_out = np.asarray(params['W_in'], np.float64), np.asarray(params['W_out'], np.float64)
  center, context = np.array([1, 2, 2]), np.array([3, 3, 5])
  negatives = np.array([[0, 3, 4], [7, 8, 9], [5, 5, 1]])  # some equal the target
  h = W_in[center]
  pos = np.sum(h * W_out.T[context], -1)
  neg = np.einsum('bh,bkh->bk', h, W_out.T[negatives])
  expected = _np_sigmoid_loss(pos, neg, negatives != context[:, None])
  loss = jw2v.skipgram_loss(params, center, context, negatives)
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  one = sum(float(jw2v.skipgram_loss(params, center[i:i + 1], context[i:i + 1], negatives[i:i + 1]))
            for i in range(3))
  np.testing.assert_allclose(loss, one, rtol=1e-5)


def test_negative_equal_to_target_contributes_nothing():
  params = _params(jax.random.key(5))
  center, context = jnp.array([1]), jnp.array([3])
  with_target = jw2v.skipgram_loss(params, center, context, jnp.array([[3, 4]]))
  without = jw2v.skipgram_loss(params, center, context, jnp.array([[4]]))
  np.testing.assert_allclose(with_target, without, rtol=1e-6)


def test_cbow_hidden_is_masked_mean():
  W_in = jax.random.normal(jax.random.key(6), (9, 3))
  contexts = jnp.array([[1, 2, 3, 0], [4, 4, 0, 0]])
  mask = jnp.array([[1, 1, 1, 0], [1, 1, 0, 0]], jnp.float32)
  h = cbow_hidden(W_in, contexts, mask)
  np.testing.assert_allclose(h[0], W_in[1:4].mean(0), rtol=1e-6)
  np.testing.assert_allclose(h[1], W_in[4], rtol=1e-6)


def test_cbow_loss_ignores_padding_slots_and_weights():
  params = _params(jax.random.key(7))
  negatives = jnp.array([[5, 6], [7, 8]])
  base = jw2v.cbow_loss(params, jnp.array([[1, 2, 0], [3, 0, 0]]), jnp.array([[1., 1, 0], [1, 0, 0]]),
                        jnp.array([9, 10]), negatives)
  other_padding = jw2v.cbow_loss(params, jnp.array([[1, 2, 11], [3, 4, 5]]),
                                 jnp.array([[1., 1, 0], [1, 0, 0]]), jnp.array([9, 10]), negatives)
  np.testing.assert_allclose(base, other_padding, rtol=1e-6)
  first_only = jw2v.cbow_loss(params, jnp.array([[1, 2, 0], [3, 0, 0]]), jnp.array([[1., 1, 0], [1, 0, 0]]),
                              jnp.array([9, 10]), negatives, jnp.array([1.0, 0.0]))
  alone = jw2v.cbow_loss(params, jnp.array([[1, 2, 0]]), jnp.array([[1., 1, 0]]), jnp.array([9]), negatives[:1])
  np.testing.assert_allclose(first_only, alone, rtol=1e-6)


def test_shared_negatives_with_one_pair_per_centre_are_skipgram():
  # A centre with one real context and N == negative shared negatives is word2vec.c's pair.
  params = _params(jax.random.key(8))
  center, context = jnp.array([1, 2, 2]), jnp.array([3, 4, 3])
  negatives = jnp.array([[5, 6], [3, 4], [7, 7]])  # the second holds its own positive target: skipped
  contexts = jnp.stack([context, jnp.array([9, 9, 9])], axis=1)  # a padding slot, masked out
  mask = jnp.array([[1., 0], [1, 0], [1, 0]])
  weight = jnp.array([1.0, 0.5, 1.0])
  np.testing.assert_allclose(jw2v.skipgram_shared_loss(params, contexts, mask, center, negatives, 2, weight),
                             jw2v.skipgram_loss(params, center, context, negatives, weight), rtol=1e-6)


def test_shared_negatives_serve_every_pair_of_the_centre_with_scaled_weight():
  params = _params(jax.random.key(9))
  contexts, mask = jnp.array([[3, 4, 5, 0]]), jnp.array([[1., 1, 1, 0]])
  negatives = jnp.array([[6, 4, 7, 8]])  # 4 is also a context: it serves the other two pairs only
  weights = jw2v.model.shared_negative_weights(contexts, mask, negatives, 2)
  np.testing.assert_allclose(weights, [[1.5, 1.0, 1.5, 1.5]])  # pairs served x negative / N
  shared = jw2v.skipgram_shared_loss(params, contexts, mask, jnp.array([1]), negatives, 2)
  # The same as the three pairs, each with all four negatives at weight 2/4 (the positive itself skipped).
  pairs = sum(jw2v.model.negative_sampling_loss(
      jw2v.embedding_dot(params['W_out'], params['W_in'][1], jnp.array(c)),
      jw2v.embedding_dot(params['W_out'], params['W_in'][1][None, :], negatives[0]),
      0.5 * (negatives[0] != c).astype(jnp.float32)) for c in (3, 4, 5))
  np.testing.assert_allclose(shared, pairs, rtol=1e-6)


def test_logistic_loss_is_positives_then_negatives():
  scores = jnp.array([[2.0, -1.0, 0.5, 3.0], [0.0, 1.0, -2.0, 0.25]])
  weights = jnp.array([[1.0, 0.0, 1.5, 1.0], [1.0, 1.0, 0.5, 0.0]])
  sig = lambda x: 1 / (1 + np.exp(-np.asarray(x)))
  expected_B = -(weights[:, :2] * np.log(sig(scores[:, :2]))).sum(1) - (weights[:, 2:] * np.log(sig(-scores[:, 2:]))).sum(1)
  np.testing.assert_allclose(jw2v.logistic_loss(scores, weights, 2), expected_B.sum(), rtol=1e-6)
  np.testing.assert_allclose(jw2v.logistic_loss(scores, weights, 2, jnp.array([0.0, 2.0])), 2 * expected_B[1], rtol=1e-6)
  # One positive per example: negative_sampling_loss.
  np.testing.assert_allclose(jw2v.negative_sampling_loss(scores[:, 0], scores[:, 1:], weights[:, 1:]),
                             jw2v.logistic_loss(scores, jnp.concatenate([jnp.ones((2, 1)), weights[:, 1:]], 1), 1),
                             rtol=1e-6)
