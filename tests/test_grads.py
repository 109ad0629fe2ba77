"""jax.grad of the pure losses against the chapter's hand-derived `.at[].add` backward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jw2v
from jw2v.grads import embedding_backward

V, H, B, K, C = 30, 8, 64, 5, 6


def _rel_err(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture
def params():
  k1, k2 = jax.random.split(jax.random.key(0))
  return {'W_in': 0.5 * jax.random.normal(k1, (V, H)), 'W_out': 0.5 * jax.random.normal(k2, (H, V))}


@pytest.fixture
def sg_batch():
  rng = np.random.default_rng(0)
  # Few distinct ids: every index repeats many times in the batch.
  center = rng.integers(0, 4, B)
  context = rng.integers(2, 7, B)
  negatives = rng.integers(0, 8, (B, K))
  negatives[::3, 0] = context[::3]  # some negatives equal their target
  return jnp.asarray(center), jnp.asarray(context), jnp.asarray(negatives)


@pytest.fixture
def cbow_batch():
  rng = np.random.default_rng(1)
  contexts = rng.integers(0, 5, (B, C))
  mask = (rng.random((B, C)) < 0.7).astype(np.float32)
  mask[:, 0] = 1.0
  center = rng.integers(3, 8, B)
  negatives = rng.integers(0, 9, (B, K))
  negatives[::4, 1] = center[::4]
  return jnp.asarray(contexts), jnp.asarray(mask), jnp.asarray(center), jnp.asarray(negatives)


def test_batches_really_repeat_indices(sg_batch, cbow_batch):
  assert len(np.unique(sg_batch[0])) <= 4 < B
  assert len(np.unique(cbow_batch[0])) <= 5


def test_skipgram_hand_backward_equals_jax_grad(params, sg_batch):
  auto = jax.grad(jw2v.skipgram_loss)(params, *sg_batch)
  hand = jw2v.skipgram_grads(params, *sg_batch)
  for name in ('W_in', 'W_out'):
    assert hand[name].shape == params[name].shape
    assert _rel_err(hand[name], auto[name]) < 1e-5, name


def test_cbow_hand_backward_equals_jax_grad(params, cbow_batch):
  auto = jax.grad(jw2v.cbow_loss)(params, *cbow_batch)
  hand = jw2v.cbow_grads(params, *cbow_batch)
  for name in ('W_in', 'W_out'):
    assert _rel_err(hand[name], auto[name]) < 1e-5, name


def test_weighted_hand_backward_equals_jax_grad(params, sg_batch):
  weight = jnp.asarray((np.arange(B) % 3 != 0).astype(np.float32))
  auto = jax.grad(jw2v.skipgram_loss)(params, *sg_batch, weight)
  hand = jw2v.skipgram_grads(params, *sg_batch, weight)
  assert _rel_err(hand['W_in'], auto['W_in']) < 1e-5


def test_overwriting_backward_is_wrong(params, sg_batch):
  """`dW[idx] = dout` keeps one row per index instead of their sum: it differs from jax.grad."""
  center = sg_batch[0]
  dout = jax.random.normal(jax.random.key(3), (B, H))
  added = embedding_backward(jnp.zeros((V, H)), center, dout)
  overwritten = jnp.zeros((V, H)).at[center].set(dout)
  np.testing.assert_allclose(added, _np_add_at(center, dout), rtol=1e-5, atol=1e-6)
  assert _rel_err(overwritten, added) > 0.5
  # And in the full model: the hand backward with .set instead of .add misses most of the gradient.
  auto = jax.grad(jw2v.skipgram_loss)(params, *sg_batch)
  h_grad_rows = jax.grad(lambda h: _loss_from_h(params, h, *sg_batch[1:]))(params['W_in'][center])
  overwrite_W_in = jnp.zeros((V, H)).at[center].set(h_grad_rows)
  assert _rel_err(overwrite_W_in, auto['W_in']) > 0.5


def _np_add_at(idx, rows):
  out = np.zeros((V, H))
  np.add.at(out, np.asarray(idx), np.asarray(rows))
  return out


def _loss_from_h(params, h, context, negatives):
  pos = jw2v.embedding_dot(params['W_out'], h, context)
  neg = jw2v.embedding_dot(params['W_out'], h[:, None, :], negatives)
  return jw2v.negative_sampling_loss(pos, neg, (negatives != context[:, None]).astype(h.dtype))


def test_gradient_is_local_to_the_batch(params, sg_batch, cbow_batch):
  center, context, negatives = sg_batch
  grads = jax.grad(jw2v.skipgram_loss)(params, *sg_batch)
  untouched_in = np.setdiff1d(np.arange(V), center)
  untouched_out = np.setdiff1d(np.arange(V), np.concatenate([context, negatives.ravel()]))
  assert len(untouched_in) > 10 and len(untouched_out) > 10
  assert np.all(np.asarray(grads['W_in'])[untouched_in] == 0.0)
  assert np.all(np.asarray(grads['W_out'])[:, untouched_out] == 0.0)
  assert np.all(np.abs(np.asarray(grads['W_in'])[np.unique(center)]).sum(1) > 0)

  contexts, mask, cb_center, cb_negatives = cbow_batch
  grads = jax.grad(jw2v.cbow_loss)(params, *cbow_batch)
  used = np.unique(np.asarray(contexts)[np.asarray(mask) > 0])
  assert np.all(np.asarray(grads['W_in'])[np.setdiff1d(np.arange(V), used)] == 0.0)


def test_jit_and_eager_agree(params, sg_batch, cbow_batch):
  for loss_fn, grad_fn, batch in ((jw2v.skipgram_loss, jw2v.skipgram_grads, sg_batch),
                                  (jw2v.cbow_loss, jw2v.cbow_grads, cbow_batch)):
    np.testing.assert_allclose(jax.jit(loss_fn)(params, *batch), loss_fn(params, *batch), rtol=1e-6)
    eager, jitted = grad_fn(params, *batch), jax.jit(grad_fn)(params, *batch)
    for name in ('W_in', 'W_out'):
      assert _rel_err(jitted[name], eager[name]) < 1e-6


def test_check_grads_numerically(params, sg_batch, cbow_batch):
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    check_grads(lambda p: jw2v.skipgram_loss(p, *sg_batch), (p64,), order=2, modes=['rev'])
    check_grads(lambda p: jw2v.cbow_loss(p, *cbow_batch), (p64,), order=1, modes=['rev', 'fwd'])
