"""Steps: one update of the tables from one batch, for each update path and example layout.

Every step has the signature `step(state, batch, negatives_BxK, lr) -> (state, loss)`; `make_step` picks
and configures the one a Config asks for.

- `reference_step`: `jax.grad` of the pure loss w.r.t. the whole params pytree, then any optax optimizer.
  The gradient is a dense (V, H) array, so a step costs O(V * H).
- The sparse steps (SGD on a SparseState): the same loss is differentiated w.r.t. the gathered rows only,
  and the row updates are added back with `.at[idx].add` on donated tables: O(B * K * H), independent of V.
  One per example layout: `skipgram_step` (a (centre, context) pair per example), `cbow_step` (a centre
  and its context slots) and `shared_negatives_step` (skip-gram on a centre and its context slots, the
  centre's negatives shared by its pairs: `Config.centre_negatives`).

The sparse steps take `models`: the tables then stack that many models' tables (row r * V + w is word w
of model r) and the batch is `models` equal parts, part r indexing model r's rows (`dispatch`); `lr` and
the loss have one entry per model.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import optax

from jw2v import devices
from jw2v.batches import CbowBatch, SkipgramBatch
from jw2v.config import Config
from jw2v.model import cbow_loss, hs_logistic_loss, logistic_loss, shared_negative_weights, skipgram_loss
from jw2v.train.rows import RowAccess, only_real
from jw2v.train.state import SparseState, TrainState, make_optimizer


def skipgram_batch_loss(params: dict, batch: SkipgramBatch, negatives_BxK: jax.Array, tree=None) -> jax.Array:
  """`model.skipgram_loss` of a SkipgramBatch (with hierarchical softmax when a tree is given)."""
  return skipgram_loss(params, batch.center_B, batch.context_B, negatives_BxK, batch.weight_B, tree)


def cbow_batch_loss(params: dict, batch: CbowBatch, negatives_BxK: jax.Array, mean: bool = True,
                    tree=None) -> jax.Array:
  """`model.cbow_loss` of a CbowBatch (h the mean of the context rows, or with `mean=False` their sum)."""
  return cbow_loss(params, batch.contexts_BxC, batch.mask_BxC, batch.center_B, negatives_BxK, batch.weight_B, mean,
                   tree)


def reference_step(state: TrainState, batch, negatives_BxK: jax.Array, lr: jax.Array, *, loss: Callable,
                   optimizer: optax.GradientTransformation, axis: Optional[str] = None,
                   tree=None) -> tuple[TrainState, jax.Array]:
  """One step of the reference path: dense `jax.grad` of the whole pytree, then the optax update.

  Args:
    state: TrainState.
    batch: a batch of `loss`'s layout (one batch, no steps axis).
    negatives_BxK: the step's negatives.
    lr: learning rate, written into the optimizer's injected hyperparameters when it has them.
    loss: `loss(params, batch, negatives_BxK)`, e.g. `skipgram_batch_loss`.
    optimizer: the optax transformation that made `state.opt_state`.
    axis: inside `shard_map` over a mesh axis: this device's share of the batch; the gradients and the
      loss are summed over the axis (the params are replicated).
    tree: a `vocab.HuffmanTree` of device arrays, passed to `loss` (hierarchical softmax).

  Returns:
    The new state and the batch loss.
  """
  value, grads = jax.value_and_grad(loss)(state.params, batch, negatives_BxK, tree=tree)
  if axis is not None:
    value, grads = jax.lax.psum((value, grads), axis)
  opt_state = state.opt_state
  if 'learning_rate' in getattr(opt_state, 'hyperparams', {}):  # made by optax.inject_hyperparams
    opt_state.hyperparams['learning_rate'] = lr
  updates, opt_state = optimizer.update(grads, opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return TrainState(params, opt_state, state.key, state.step + 1), value


def scores_loss(weight_BxJ: jax.Array, positives: int, weight_B: jax.Array, models: int) -> Callable:
  """The summed logistic loss as a function of the scores of J output rows per example, the first
  `positives` of them positive targets (`model.logistic_loss`): one loss, or one per model."""
  if models == 1:
    return lambda scores_BxJ: logistic_loss(scores_BxJ, weight_BxJ, positives, weight_B)
  by_model = lambda x: x.reshape((models, -1) + x.shape[1:])
  per_model = jax.vmap(lambda s, w, wb: logistic_loss(s, w, positives, wb))
  return lambda scores_BxJ: per_model(by_model(scores_BxJ), by_model(weight_BxJ), by_model(weight_B))


def _minus_lr(lr: jax.Array, loss: jax.Array) -> jax.Array:
  """The cotangent that makes the backward pass produce the SGD updates themselves (XLA fuses the scale
  into the gradient instead of making another pass over the rows)."""
  return -jnp.asarray(lr, loss.dtype).reshape(loss.shape)


def scores(h_BxH: jax.Array, out_rows_BxJxH: jax.Array) -> jax.Array:
  """Embedding Dot for J output rows per example: h . row, (B, J)."""
  return jnp.einsum('bh,bjh->bj', h_BxH, out_rows_BxJxH)


def row_updates(h_BxH: jax.Array, out_rows_BxJxH: jax.Array, loss_of_scores: Callable, lr: jax.Array):
  """The loss of h against its J output rows, and the SGD updates of h (B, H) and of the rows (B, J, H)."""
  loss_of_rows = lambda h_BxH, out_rows_BxJxH: loss_of_scores(scores(h_BxH, out_rows_BxJxH))
  loss, backward = jax.vjp(loss_of_rows, h_BxH, out_rows_BxJxH)
  upd_h_BxH, upd_out_BxJxH = backward(_minus_lr(lr, loss))
  return loss, upd_h_BxH, upd_out_BxJxH


def one_positive(target_B: jax.Array, weight_B: jax.Array, negatives_BxK: jax.Array):
  """The output rows of examples with one positive target each: (indices (B, 1 + K), weights (B, 1 + K)).

  Positives and negatives are one array of rows: one gather, one product with h, one loss over both,
  and their updates come out side by side, ready for one scatter. A negative equal to the target weighs
  0 (word2vec.c skips it).
  """
  idx_BxJ = jnp.concatenate([target_B[:, None], negatives_BxK], axis=1)
  weight_BxJ = jnp.concatenate([jnp.ones_like(weight_B[:, None]),
                                (negatives_BxK != target_B[:, None]).astype(jnp.float32)], axis=1)
  return idx_BxJ, weight_BxJ


def _output_updates(state: SparseState, h_BxH: jax.Array, target_B: jax.Array, weight_B: jax.Array,
                    negatives_BxK: jax.Array, lr: jax.Array, rows: RowAccess, models: int, tree):
  """The output layer's part of a step: negative sampling (when K > 0) and hierarchical softmax (with a
  tree), each scored against h. Returns the loss, the update of h, and the state with W_out_T and W_hs_T
  updated."""
  loss, upd_h_BxH = 0.0, 0.0
  if negatives_BxK.shape[1]:
    out_idx_BxJ, weight_BxJ = one_positive(target_B, weight_B, negatives_BxK)
    loss_of_scores = scores_loss(weight_BxJ, 1, weight_B, models)
    loss, upd_h_BxH, upd_out_BxJxH = row_updates(h_BxH, rows.gather(state.W_out_T, out_idx_BxJ), loss_of_scores, lr)
    state = state._replace(W_out_T=rows.add(state.W_out_T, out_idx_BxJ, upd_out_BxJxH))
  if tree is not None:
    points_BxD = tree.points_VxD[target_B]
    loss_of_scores = functools.partial(hs_logistic_loss, codes_BxD=tree.codes_VxD[target_B],
                                       mask_BxD=tree.mask_VxD[target_B], weight_B=weight_B)
    hs, upd_h_hs_BxH, upd_nodes_BxDxH = row_updates(h_BxH, rows.gather(state.W_hs_T, points_BxD), loss_of_scores, lr)
    state = state._replace(W_hs_T=rows.add(state.W_hs_T, points_BxD, upd_nodes_BxDxH))
    loss, upd_h_BxH = loss + hs, upd_h_BxH + upd_h_hs_BxH
  return loss, upd_h_BxH, state


def skipgram_step(state: SparseState, batch: SkipgramBatch, negatives_BxK: jax.Array, lr: jax.Array, *,
                  rows: RowAccess = RowAccess(), models: int = 1, tree=None) -> tuple[SparseState, jax.Array]:
  """One SGD step of skip-gram on (centre, context) pairs: h = W_in[centre], target the context word.

  Args:
    state: SparseState (donate it: the tables are updated in place).
    batch: SkipgramBatch.
    negatives_BxK: the step's negatives (K = 0: no negative sampling).
    lr: learning rate of this step (one per model).
    rows: how the tables' rows are reached (one device, or a mesh axis).
    models: the tables stack this many models' tables (see the module's docstring).
    tree: a `vocab.HuffmanTree` of device arrays: also train hierarchical softmax (`Config.hs`).

  Returns:
    The new state and the batch loss.
  """
  h_BxH = rows.gather(state.W_in, batch.center_B)
  loss, upd_h_BxH, state_out = _output_updates(state, h_BxH, batch.context_B, batch.weight_B, negatives_BxK, lr,
                                               rows, models, tree)
  W_in = rows.add(state.W_in, batch.center_B, upd_h_BxH)
  return state_out._replace(W_in=W_in, step=state.step + 1), rows.psum(loss)


def cbow_step(state: SparseState, batch: CbowBatch, negatives_BxK: jax.Array, lr: jax.Array, *,
              full_error: bool = True, mean: bool = True, rows: RowAccess = RowAccess(),
              models: int = 1, tree=None) -> tuple[SparseState, jax.Array]:
  """One SGD step of CBOW: h = the mean (or sum) of the context rows, target the centre word.

  Args:
    state: as for `skipgram_step`.
    negatives_BxK: as for `skipgram_step`.
    lr: as for `skipgram_step`.
    rows: as for `skipgram_step`.
    models: as for `skipgram_step`.
    tree: as for `skipgram_step`.
    batch: CbowBatch.
    full_error: with `mean`: True (word2vec.c, gensim's cbow_mean=1): every context row receives the full
      update of h. False: each receives update/count, which is what `jax.grad` of the mean gives.
    mean: h is the mean of the context rows; False: their sum (gensim's cbow_mean=0), every row then
      receiving the full update (the exact gradient of the sum).

  Returns:
    The new state and the batch loss.
  """
  count_Bx1 = jnp.maximum(jnp.sum(batch.mask_BxC, axis=-1, keepdims=True), 1.0)
  total_BxH = rows.masked_sum(state.W_in, batch.contexts_BxC, batch.mask_BxC)
  h_BxH = total_BxH / count_Bx1 if mean else total_BxH
  loss, upd_h_BxH, state_out = _output_updates(state, h_BxH, batch.center_B, batch.weight_B, negatives_BxK, lr,
                                               rows, models, tree)
  share_BxC = None if full_error or not mean else batch.mask_BxC / count_Bx1
  W_in = rows.add_by_slot(state.W_in, only_real(batch.contexts_BxC, batch.mask_BxC), upd_h_BxH, share_BxC)
  return state_out._replace(W_in=W_in, step=state.step + 1), rows.psum(loss)


def shared_negatives_step(state: SparseState, batch: CbowBatch, negatives_BxN: jax.Array, lr: jax.Array, *,
                          negative: int, rows: RowAccess = RowAccess(), models: int = 1
                          ) -> tuple[SparseState, jax.Array]:
  """One SGD step of skip-gram on centre rows, each centre's N negatives shared by its pairs.

  h = W_in[centre]; every real context slot is a positive target, and each shared negative weighs
  `negative / N` per pair it serves (`model.skipgram_shared_loss`). Not word2vec's algorithm: see
  `Config.centre_negatives`.

  Args:
    state, lr, rows, models: as for `skipgram_step`.
    batch: CbowBatch (centre and context slots).
    negatives_BxN: each centre's shared negatives.
    negative: negatives per pair that the weights stand for (`Config.negative`).

  Returns:
    The new state and the batch loss.
  """
  h_BxH = rows.gather(state.W_in, batch.center_B)
  positives_BxC, mask_BxC = batch.contexts_BxC, batch.mask_BxC
  neg_weight_BxN = shared_negative_weights(positives_BxC, mask_BxC, negatives_BxN, negative)
  loss_of_scores = scores_loss(jnp.concatenate([mask_BxC, neg_weight_BxN], axis=1), positives_BxC.shape[1],
                             batch.weight_B, models)
  out_rows_BxJxH = rows.gather(state.W_out_T, jnp.concatenate([positives_BxC, negatives_BxN], axis=1))
  # With J = C + N output rows per example, the Embedding Dot backward is written out, so that each
  # slot's rows receive g * h by their own scatter instead of from B * J update rows built first.
  scores_BxJ = scores(h_BxH, out_rows_BxJxH)
  loss, backward = jax.vjp(loss_of_scores, scores_BxJ)
  g_BxJ, = backward(_minus_lr(lr, loss))
  upd_h_BxH = jnp.einsum('bj,bjh->bh', g_BxJ, out_rows_BxJxH)
  scatter_idx_BxJ = jnp.concatenate([only_real(positives_BxC, mask_BxC), negatives_BxN], axis=1)
  W_out_T = rows.add_by_slot(state.W_out_T, scatter_idx_BxJ, h_BxH, g_BxJ)
  W_in = rows.add(state.W_in, batch.center_B, upd_h_BxH)
  return SparseState(W_in, W_out_T, state.key, state.step + 1), rows.psum(loss)


def make_step(config: Config, optimizer: Optional[optax.GradientTransformation] = None,
              layout: Optional[devices.Layout] = None) -> Callable:
  """`step(state, batch, negatives_BxK, lr) -> (state, loss)` for the config's update path and layout.

  Args:
    config: the run's Config.
    optimizer: reference path only; default `make_optimizer(config)`.
    layout: the step runs inside `shard_map` over this layout's mesh (see `dispatch`); None: one device.

  Returns:
    The step, with every setting bound.
  """
  config = config.resolved(jax.default_backend())
  axis = None if layout is None else devices.AXIS
  if config.update_path == 'reference':  # (Config allows split tables on the sparse path only)
    loss = skipgram_batch_loss if config.model == 'skipgram' else functools.partial(cbow_batch_loss,
                                                                                      mean=config.cbow_mean)
    return functools.partial(reference_step, loss=loss, optimizer=optimizer or make_optimizer(config), axis=axis)
  rows = RowAccess(axis, layout.rows_per_device if layout is not None and layout.shard_tables else None)
  if config.centre_negatives:
    return functools.partial(shared_negatives_step, negative=config.negative, rows=rows)
  if config.model == 'skipgram':
    return functools.partial(skipgram_step, rows=rows)
  return functools.partial(cbow_step, full_error=config.cbow_full_error, mean=config.cbow_mean, rows=rows)
