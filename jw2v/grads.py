"""The hand-derived backward pass of the chapter, written with `.at[idx].add` (scatter-add).

Rows of `dout` that land on the same index must be *added*: a frequent word appears many times in a batch.
Tests check these against `jax.grad` of the losses in `jw2v.model`.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from jw2v.model import cbow_hidden, embedding, hs_live


def embedding_backward(dW: jax.Array, idx: jax.Array, dout: jax.Array) -> jax.Array:
  """Embedding backward: `dW[idx] += dout`, summing rows of repeated indices (np.add.at)."""
  return dW.at[idx].add(dout)


def _score_grads(h_BxH, W_out, target_B, negatives_BxK, weight_B):
  """Gradients of the negative-sampling loss w.r.t. h and W_out, for one hidden vector per example."""
  if weight_B is None:
    weight_B = jnp.ones(target_B.shape, h_BxH.dtype)
  targets_BxT = jnp.concatenate([target_B[:, None], negatives_BxK], axis=1)
  out_BxTxH = W_out.T[targets_BxT]
  score_BxT = jnp.einsum('bh,bth->bt', h_BxH, out_BxTxH)
  label_BxT = jnp.zeros_like(score_BxT).at[:, 0].set(1.0)
  counts_BxT = jnp.concatenate([jnp.ones_like(target_B[:, None]), negatives_BxK != target_B[:, None]], axis=1)
  # d/ds of -log sigmoid(s) is sigmoid(s) - 1; of -log sigmoid(-s) it is sigmoid(s).
  dscore_BxT = (jax.nn.sigmoid(score_BxT) - label_BxT) * counts_BxT * weight_B[:, None]
  dh_BxH = jnp.einsum('bt,bth->bh', dscore_BxT, out_BxTxH)
  dout_BxTxH = dscore_BxT[:, :, None] * h_BxH[:, None, :]
  dW_out_T = embedding_backward(jnp.zeros_like(W_out.T), targets_BxT, dout_BxTxH)
  return dh_BxH, dW_out_T.T


def hs_grads(h_BxH: jax.Array, W_hs: jax.Array, points_BxD: jax.Array, codes_BxD: jax.Array,
             mask_BxD: jax.Array, weight_B: Optional[jax.Array] = None):
  """Gradients of `model.hs_loss` w.r.t. h and W_hs, derived by hand: node d of example b is trained
  towards t = 1 - code, and d/ds of its loss is sigmoid(s) - t (word2vec.c's g, without the learning rate),
  or 0 for a node scored beyond +-MAX_EXP (word2vec.c skips it).

  Returns:
    (dh (B, H), dW_hs (H, V - 1)); repeated inner nodes (every path starts at the root) are summed.
  """
  if weight_B is None:
    weight_B = jnp.ones(points_BxD.shape[:1], h_BxH.dtype)
  nodes_BxDxH = W_hs.T[points_BxD]
  score_BxD = jnp.einsum('bh,bdh->bd', h_BxH, nodes_BxDxH)
  dscore_BxD = (jax.nn.sigmoid(score_BxD) - (1.0 - codes_BxD)) * hs_live(score_BxD, mask_BxD) * weight_B[:, None]
  dh_BxH = jnp.einsum('bd,bdh->bh', dscore_BxD, nodes_BxDxH)
  dW_hs_T = embedding_backward(jnp.zeros_like(W_hs.T), points_BxD, dscore_BxD[:, :, None] * h_BxH[:, None, :])
  return dh_BxH, dW_hs_T.T


def skipgram_hs_grads(params: dict, center_B: jax.Array, context_B: jax.Array, tree,
                      weight_B: Optional[jax.Array] = None) -> dict:
  """Gradient of `skipgram_loss` with hierarchical softmax only (no negatives), derived by hand.

  Returns:
    {'W_in': (V, H), 'W_hs': (H, V - 1)}.
  """
  h_BxH = embedding(params['W_in'], center_B)
  dh_BxH, dW_hs = hs_grads(h_BxH, params['W_hs'], tree.points_VxD[context_B], tree.codes_VxD[context_B],
                           tree.mask_VxD[context_B], weight_B)
  return {'W_in': embedding_backward(jnp.zeros_like(params['W_in']), center_B, dh_BxH), 'W_hs': dW_hs}


def skipgram_grads(params: dict, center_B: jax.Array, context_B: jax.Array, negatives_BxK: jax.Array,
                   weight_B: Optional[jax.Array] = None) -> dict:
  """Gradient of `skipgram_loss`, derived by hand.

  Returns:
    {'W_in': (V, H), 'W_out': (H, V)}, like params.
  """
  h_BxH = embedding(params['W_in'], center_B)
  dh_BxH, dW_out = _score_grads(h_BxH, params['W_out'], context_B, negatives_BxK, weight_B)
  dW_in = embedding_backward(jnp.zeros_like(params['W_in']), center_B, dh_BxH)
  return {'W_in': dW_in, 'W_out': dW_out}


def cbow_grads(params: dict, contexts_BxC: jax.Array, mask_BxC: jax.Array, center_B: jax.Array,
               negatives_BxK: jax.Array, weight_B: Optional[jax.Array] = None, mean: bool = True) -> dict:
  """Gradient of `cbow_loss`, derived by hand: each real context row gets dh / (number of real contexts),
  or with `mean=False` (h the sum) dh itself.

  Returns:
    {'W_in': (V, H), 'W_out': (H, V)}, like params.
  """
  h_BxH = cbow_hidden(params['W_in'], contexts_BxC, mask_BxC, mean)
  dh_BxH, dW_out = _score_grads(h_BxH, params['W_out'], center_B, negatives_BxK, weight_B)
  mask_BxC = mask_BxC.astype(h_BxH.dtype)
  share_BxC = mask_BxC / jnp.maximum(jnp.sum(mask_BxC, axis=-1, keepdims=True), 1.0) if mean else mask_BxC
  dW_in = embedding_backward(jnp.zeros_like(params['W_in']), contexts_BxC,
                             share_BxC[:, :, None] * dh_BxH[:, None, :])
  return {'W_in': dW_in, 'W_out': dW_out}
