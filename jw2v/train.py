"""Training: state, the two update paths, several steps per dispatch, and the epoch loop.

- Reference path (`reference_step`): `jax.grad` of the pure loss w.r.t. the whole params pytree, then any
  optax optimizer. The gradient is a dense (V, H) array, so each step costs O(V*H).
- Sparse path (`sparse_step`): SGD. The same loss is differentiated w.r.t. the gathered rows only, and
  the row gradients are added back with `.at[idx].add` on donated tables: O(B*K*H), independent of V.
  W_out is kept transposed, (V, H), so that an output vector is a contiguous row; `params` converts back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import os
import time
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P
from tqdm.auto import tqdm

from jw2v import batches as batches_lib
from jw2v import collector
from jw2v import mesh as mesh_lib
from jw2v.batches import SkipgramBatch
from jw2v.config import Config
from jw2v.errors import ConfigError
from jw2v.corpus import Corpus
from jw2v.model import (cbow_loss, embedding, init_params, logistic_loss, shared_negative_weights,
                        skipgram_loss)
from jw2v.vocab import Vocab, keep_probabilities


class TrainState(NamedTuple):
  """Reference-path state: the public params pytree and the optax state."""
  params: dict
  opt_state: Any
  key: jax.Array
  step: jax.Array


class SparseState(NamedTuple):
  """Sparse-path state: W_in (V, H) and W_out stored transposed as W_out_T (V, H)."""
  W_in: jax.Array
  W_out_T: jax.Array
  key: jax.Array
  step: jax.Array


class TrainResult(NamedTuple):
  """What `train` returns: params {'W_in': (V, H), 'W_out': (H, V)} as numpy arrays, and the history."""
  params: dict
  history: dict


def params_of(state) -> dict:
  """The public params pytree {'W_in': (V, H), 'W_out': (H, V)} of either state (R x ... for R models)."""
  if isinstance(state, SparseState):
    return {'W_in': state.W_in, 'W_out': state.W_out_T.swapaxes(-1, -2)}
  return state.params


def make_optimizer(config: Config) -> optax.GradientTransformation:
  """The named optimizer with an injectable learning rate (the loop sets it each step)."""
  return optax.inject_hyperparams(getattr(optax, config.optimizer))(learning_rate=config.learning_rate)


def learning_rate_schedule(config: Config) -> optax.Schedule:
  """Learning rate as a function of progress (fraction of the run's words processed, 0..1).

  SGD decays linearly from alpha to min_alpha, as word2vec.c and gensim do; the other optimizers keep a
  constant rate (the book's Adam recipe).
  """
  if config.optimizer == 'sgd':
    return optax.linear_schedule(config.learning_rate, config.min_alpha, transition_steps=1)
  return optax.constant_schedule(config.learning_rate)


def _interpolate(rates_x2: jax.Array, progress: jax.Array) -> jax.Array:
  """The learning rate(s) at `progress` of schedules going linearly from rates_x2[..., 0] to [..., 1]."""
  return rates_x2[..., 0] + (rates_x2[..., 1] - rates_x2[..., 0]) * jnp.clip(progress, 0.0, 1.0)


def init_state(config: Config, params: dict, *, key: jax.Array,
               optimizer: Optional[optax.GradientTransformation] = None):
  """The training state for the path `config.update_path` selects.

  Args:
    config: the run's Config.
    params: initial {'W_in': (V, H), 'W_out': (H, V)}.
    key: PRNG key for the negatives (step t uses `fold_in(key, t)`).
    optimizer: reference path only; defaults to `make_optimizer(config)`.
  """
  step = jnp.zeros((), jnp.int32)
  W_in, W_out = jnp.asarray(params['W_in'], jnp.float32), jnp.asarray(params['W_out'], jnp.float32)
  if config.update_path == 'sparse':
    return SparseState(W_in, jnp.array(W_out.T), key, step)
  optimizer = optimizer or make_optimizer(config)
  params = {'W_in': W_in, 'W_out': W_out}
  return TrainState(params, optimizer.init(params), key, step)


def _target(batch):
  return batch.context_B if isinstance(batch, SkipgramBatch) else batch.center_B


def model_loss(params: dict, batch, negatives_BxK: jax.Array) -> jax.Array:
  """The model's summed loss on a SkipgramBatch or CbowBatch."""
  if isinstance(batch, SkipgramBatch):
    return skipgram_loss(params, batch.center_B, batch.context_B, negatives_BxK, batch.weight_B)
  return cbow_loss(params, batch.contexts_BxC, batch.mask_BxC, batch.center_B, negatives_BxK, batch.weight_B)


def reference_step(state: TrainState, batch, negatives_BxK: jax.Array, lr: jax.Array, *,
                   optimizer: optax.GradientTransformation, axis: Optional[str] = None) -> tuple[TrainState, jax.Array]:
  """One step of the reference path: dense `jax.grad` of the whole pytree, then the optax update.

  Args:
    state: TrainState.
    batch: SkipgramBatch or CbowBatch (one batch, no steps axis).
    negatives_BxK: the step's negatives.
    lr: learning rate, written into the optimizer's injected hyperparameters when it has them.
    optimizer: the optax transformation that made `state.opt_state`.
    axis: inside `shard_map` over a mesh axis: this device's share of the batch; the gradients and the
      loss are summed over the axis (the params are replicated).

  Returns:
    The new state and the batch loss.
  """
  loss, grads = jax.value_and_grad(model_loss)(state.params, batch, negatives_BxK)
  if axis is not None:
    loss, grads = jax.lax.psum((loss, grads), axis)
  opt_state = state.opt_state
  if 'learning_rate' in getattr(opt_state, 'hyperparams', {}):  # made by optax.inject_hyperparams
    opt_state.hyperparams['learning_rate'] = lr
  updates, opt_state = optimizer.update(grads, opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return TrainState(params, opt_state, state.key, state.step + 1), loss


def sparse_step(state: SparseState, batch, negatives_BxK: jax.Array, lr: jax.Array, *,
                cbow_full_error: bool = True, axis: Optional[str] = None, sharded_rows: Optional[int] = None,
                models: int = 1, shared_negatives_for: Optional[int] = None) -> tuple[SparseState, jax.Array]:
  """One SGD step of the sparse path; cost independent of the vocabulary size.

  The loss is a function of the gathered rows (h, the positive targets' output vectors and the negatives'
  output vectors); `jax.vjp` gives the gradients of those rows only, which are added back into the tables
  with `.at[idx].add` (repeated indices summed).

  Args:
    state: SparseState (donate it: the tables are updated in place).
    batch: SkipgramBatch or CbowBatch.
    negatives_BxK: the step's negatives.
    lr: learning rate of this step.
    cbow_full_error: CBOW only. True (word2vec.c, gensim's cbow_mean=1): every context row receives the
      full gradient of h. False: each receives gradient/count, which is what `jax.grad` of the mean gives.
    axis: inside `shard_map` over a mesh axis: the batch is this device's share; every device's row
      updates are applied (`_add_rows`) and the loss is summed over the axis.
    sharded_rows: with `axis`, the tables are split by rows along it, this many rows per device
      (`_rows` fetches rows that other devices hold); None when every device holds whole tables.
    models: the tables stack this many models' tables (row r * V + w is word w of model r) and the batch
      is `models` equal parts, part r indexing model r's rows (see `make_multi_step`); `lr` and the
      returned loss then have one entry per model.
    shared_negatives_for: skip-gram on centre rows (a CbowBatch: h = W_in[centre], the context slots are
      the positives) with each centre's negatives shared by its pairs, standing for this many negatives
      per pair (`model.skipgram_shared_loss`, `Config.centre_negatives`).

  Returns:
    The new state and the batch loss.
  """
  rows = functools.partial(_rows, axis=axis, sharded_rows=sharded_rows)
  add_rows = functools.partial(_add_rows, axis=axis, sharded_rows=sharded_rows)
  h_is_centre = isinstance(batch, SkipgramBatch) or shared_negatives_for is not None
  if h_is_centre:
    h_BxH = rows(state.W_in, batch.center_B)
  else:
    count_Bx1 = jnp.maximum(jnp.sum(batch.mask_BxC, axis=-1, keepdims=True), 1.0)
    if sharded_rows is None:
      h_BxH = _masked_row_sum(state.W_in, batch.contexts_BxC, batch.mask_BxC) / count_Bx1
    else:
      h_BxH = jnp.einsum('bch,bc->bh', rows(state.W_in, batch.contexts_BxC), batch.mask_BxC) / count_Bx1
  if shared_negatives_for is not None:  # skip-gram on centre rows: every real context slot is a positive
    positives_BxP = batch.contexts_BxC
    neg_weight_BxK = shared_negative_weights(positives_BxP, batch.mask_BxC, negatives_BxK, shared_negatives_for)
    weight_BxJ = jnp.concatenate([batch.mask_BxC, neg_weight_BxK], axis=1)
  else:
    positives_BxP = _target(batch)[:, None]
    weight_BxJ = jnp.concatenate([jnp.ones_like(batch.weight_B[:, None]),
                                  (negatives_BxK != positives_BxP).astype(jnp.float32)], axis=1)
  # Positives and negatives as one array of output rows: one gather, one product with h, one loss over
  # both (`model.logistic_loss`, so that the backward pass has no scores to split), and their updates come
  # out side by side, ready for the scatter (joining two arrays of updates had cost a CPU step 6 %).
  P = positives_BxP.shape[1]
  out_idx_BxJ = jnp.concatenate([positives_BxP, negatives_BxK], axis=1)

  def loss_of_scores(scores_BxJ):
    if models == 1:
      return logistic_loss(scores_BxJ, weight_BxJ, P, batch.weight_B)
    by_model = lambda x: x.reshape((models, -1) + x.shape[1:])
    return jax.vmap(lambda s, w, wb: logistic_loss(s, w, P, wb))(  # one loss per model
        by_model(scores_BxJ), by_model(weight_BxJ), by_model(batch.weight_B))

  if shared_negatives_for is not None:
    scatter_idx_BxJ = jnp.concatenate([_only_real(positives_BxP, batch.mask_BxC), negatives_BxK], axis=1)
  else:
    scatter_idx_BxJ = out_idx_BxJ
  out_rows_BxJxH = rows(state.W_out_T, out_idx_BxJ)
  # The cotangent -lr makes the backward pass produce the updates themselves: XLA fuses the scale into the
  # gradient computation instead of making another pass over the rows (which cost a third of a CPU step).
  minus_lr = lambda loss: -jnp.asarray(lr, loss.dtype).reshape(loss.shape)
  if shared_negatives_for is not None and axis is None:
    # J = P + K output rows per example: the Embedding Dot backward is written out, so that each slot's
    # rows are updated by their own scatter of g * h (`_add_rows_by_slot`) instead of from B * J update
    # rows built first (a CPU epoch of PTB 7 % faster; with CBOW's J = 1 + K it was not).
    scores_BxJ = jnp.einsum('bh,bjh->bj', h_BxH, out_rows_BxJxH)
    loss, backward = jax.vjp(loss_of_scores, scores_BxJ)
    g_BxJ, = backward(minus_lr(loss))
    upd_h_BxH = jnp.einsum('bj,bjh->bh', g_BxJ, out_rows_BxJxH)
    W_out_T = _add_rows_by_slot(state.W_out_T, scatter_idx_BxJ, h_BxH, g_BxJ)
  else:
    loss_of_rows = lambda h_BxH, out_rows_BxJxH: loss_of_scores(jnp.einsum('bh,bjh->bj', h_BxH, out_rows_BxJxH))
    loss, backward = jax.vjp(loss_of_rows, h_BxH, out_rows_BxJxH)
    upd_h_BxH, upd_out_BxJxH = backward(minus_lr(loss))
    W_out_T = add_rows(state.W_out_T, scatter_idx_BxJ, upd_out_BxJxH)
  if h_is_centre:
    W_in = add_rows(state.W_in, batch.center_B, upd_h_BxH)
  else:
    share_BxC = batch.mask_BxC if cbow_full_error else batch.mask_BxC / count_Bx1
    contexts_BxC = _only_real(batch.contexts_BxC, batch.mask_BxC)
    if axis is None:
      W_in = _add_rows_by_slot(state.W_in, contexts_BxC, upd_h_BxH, None if cbow_full_error else share_BxC)
    else:
      W_in = add_rows(state.W_in, contexts_BxC, share_BxC[:, :, None] * upd_h_BxH[:, None, :])
  if axis is not None:
    loss = jax.lax.psum(loss, axis)
  return SparseState(W_in, W_out_T, state.key, state.step + 1), loss


# CBOW's context rows are summed and updated one slot at a time, in a loop: each pass gathers (or
# scatters) B rows straight from (into) the table. Copying all B * C rows out first and reducing them with
# an einsum, or building B * C update rows for one scatter, moved 4 MB per step through memory (a CPU
# epoch of PTB: 0.36 -> 0.28 s with both loops). A Python-unrolled sum is no substitute: XLA fuses it into
# every consumer of h and recomputes it there.
def _masked_row_sum(table: jax.Array, idx_BxC: jax.Array, mask_BxC: jax.Array) -> jax.Array:
  """sum_c mask[b, c] * table[idx[b, c]]: (B, H)."""
  def add_slot(c, total_BxH):
    idx_B = jax.lax.dynamic_index_in_dim(idx_BxC, c, axis=1, keepdims=False)
    mask_Bx1 = jax.lax.dynamic_index_in_dim(mask_BxC, c, axis=1, keepdims=True)
    return total_BxH + table[idx_B] * mask_Bx1
  zeros_BxH = jnp.zeros(idx_BxC.shape[:1] + table.shape[1:], table.dtype)
  return jax.lax.fori_loop(0, idx_BxC.shape[1], add_slot, zeros_BxH, unroll=5)


def _add_rows_by_slot(table: jax.Array, idx_BxC: jax.Array, updates_BxH: jax.Array,
                      share_BxC: Optional[jax.Array] = None) -> jax.Array:
  """table.at[idx[b, c]].add(share[b, c] * updates[b]) over all slots c (share None: 1), repeated rows
  summed and indices past the table dropped."""
  def add_slot(c, table):
    idx_B = jax.lax.dynamic_index_in_dim(idx_BxC, c, axis=1, keepdims=False)
    if share_BxC is None:
      return table.at[idx_B].add(updates_BxH, mode='drop')
    share_Bx1 = jax.lax.dynamic_index_in_dim(share_BxC, c, axis=1, keepdims=True)
    return table.at[idx_B].add(share_Bx1 * updates_BxH, mode='drop')
  return jax.lax.fori_loop(0, idx_BxC.shape[1], add_slot, table)


def _only_real(idx: jax.Array, mask: jax.Array) -> jax.Array:
  """Scatter indices with the padding slots (mask 0) pointed past every table, so that the scatter drops
  their (zero) updates instead of adding them to row 0: CBOW's W_in scatter took 0.07 instead of 0.09 ms."""
  return jnp.where(mask > 0, idx, jnp.iinfo(jnp.int32).max)


def _rows(table: jax.Array, idx: jax.Array, *, axis: Optional[str], sharded_rows: Optional[int]) -> jax.Array:
  """`table[idx]` (shape idx.shape + (H,)), also when the table is split by rows along a mesh axis.

  Split tables: every device's indices are gathered; each device looks up the rows it holds (zeros for the
  others), and a sum-scatter hands each device the rows of its own indices. Traffic is proportional to
  the batch, not to the vocabulary.
  """
  if sharded_rows is None:
    return embedding(table, idx)
  every = jax.lax.all_gather(idx.reshape(-1), axis, tiled=True)
  local = every - jax.lax.axis_index(axis) * sharded_rows
  held = (local >= 0) & (local < sharded_rows)
  found = jnp.where(held[:, None], table[jnp.clip(local, 0, sharded_rows - 1)], 0.0)
  return jax.lax.psum_scatter(found, axis, scatter_dimension=0, tiled=True).reshape(idx.shape + table.shape[1:])


def _add_rows(table: jax.Array, idx: jax.Array, updates: jax.Array, *, axis: Optional[str],
              sharded_rows: Optional[int]) -> jax.Array:
  """`table.at[idx].add(updates)` with every device's updates (repeated indices summed; indices past the
  table are dropped, which `_only_real` uses for padding slots).

  On a mesh axis all devices' (index, update) pairs are gathered and each device adds them to its copy of
  the table, or, when split, the ones for the rows it holds.
  """
  idx, updates = idx.reshape(-1), updates.reshape(-1, updates.shape[-1])
  if axis is None:
    return table.at[idx].add(updates, mode='drop')
  idx = jax.lax.all_gather(idx, axis, tiled=True)
  updates = jax.lax.all_gather(updates, axis, tiled=True)
  if sharded_rows is None:
    return table.at[idx].add(updates, mode='drop')
  local = idx - jax.lax.axis_index(axis) * sharded_rows
  local = jnp.where((local >= 0) & (local < sharded_rows), local, sharded_rows)  # others' rows: dropped
  return table.at[local].add(updates, mode='drop')


def make_step(config: Config, optimizer: Optional[optax.GradientTransformation] = None,
              layout: Optional[mesh_lib.Layout] = None) -> Callable:
  """`step(state, batch, negatives_BxK, lr) -> (state, loss)` for the config's update path.

  With a layout, the step is meant to run inside `shard_map` over its mesh (see `make_multi_step`).
  """
  axis = None if layout is None else mesh_lib.AXIS
  config = config.resolved(jax.default_backend())
  if config.update_path == 'sparse':
    sharded_rows = layout.rows_per_device if layout is not None and layout.shard_tables else None
    return functools.partial(sparse_step, cbow_full_error=config.cbow_full_error, axis=axis,
                             sharded_rows=sharded_rows,
                             shared_negatives_for=config.negative if config.centre_negatives else None)
  if layout is not None and layout.shard_tables:
    raise ConfigError('sharded tables need the sparse SGD path (optimizer sgd)')
  return functools.partial(reference_step, optimizer=optimizer or make_optimizer(config), axis=axis)


def state_specs(state, layout: mesh_lib.Layout):
  """PartitionSpecs of a state's arrays: tables by `layout`, everything else replicated."""
  if isinstance(state, SparseState):
    return SparseState(layout.table_spec, layout.table_spec, P(), P())
  return jax.tree.map(lambda _: P(), state)


def place(state, layout: mesh_lib.Layout):
  """Puts a state (host or device arrays, tables of `layout.rows` rows) where `layout` says."""
  specs = state_specs(state, layout)
  key = jax.random.wrap_key_data(mesh_lib.put(jax.random.key_data(state.key), layout.replicated()))
  arrays = jax.tree.map(lambda x, spec: mesh_lib.put(x, NamedSharding(layout.mesh, spec)),
                        state._replace(key=None), specs._replace(key=None))
  return arrays._replace(key=key)


def host_state(state, vocab_size: int, dim: int):
  """A state on the host as numpy arrays, its tables cut back to the vocabulary's rows and `dim` columns
  (also with a leading model axis, from `train_many`)."""
  key = jax.random.wrap_key_data(mesh_lib.host(jax.random.key_data(state.key)))
  arrays = jax.tree.map(mesh_lib.host, state._replace(key=None))
  if isinstance(arrays, SparseState):
    arrays = arrays._replace(W_in=arrays.W_in[..., :vocab_size, :dim], W_out_T=arrays.W_out_T[..., :vocab_size, :dim])
  return arrays._replace(key=key)


def pad_tables(state, rows: int, width: Optional[int] = None):
  """A sparse-path state whose tables have `rows` rows and `width` columns (default: `mesh.table_width` of
  their dim, as `train` stores them): zeros added, which no step changes (rows past the vocabulary are
  never looked up; the extra columns of h and of every output row are zero, so are their updates). Any
  other state is returned as it is."""
  if not isinstance(state, SparseState):
    return state
  V, H = state.W_in.shape[-2:]
  width = mesh_lib.table_width(H) if width is None else width
  if (V, H) == (rows, width):
    return state
  pad = [(0, 0)] * (state.W_in.ndim - 2) + [(0, rows - V), (0, width - H)]
  if isinstance(state.W_in, jax.Array):  # e.g. traced, in `_initial_state`
    return state._replace(W_in=jnp.pad(state.W_in, pad), W_out_T=jnp.pad(state.W_out_T, pad))
  return state._replace(W_in=np.pad(np.asarray(state.W_in), pad), W_out_T=np.pad(np.asarray(state.W_out_T), pad))


def _run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The keys a run with this seed uses: (initial vectors, negatives, examples)."""
  init_key, neg_key, data_key = jax.random.split(jax.random.key(seed), 3)
  return init_key, neg_key, data_key


def _initial_state(config: Config, vocab_size: int, layout: mesh_lib.Layout, optimizer):
  """A fresh state made where it will live (each device computes only its rows of split tables), and the
  run's key for the examples, all from `config.seed` in one program.

  (The values do not depend on the layout: JAX's random numbers are the same however they are sharded.)
  One program because each eagerly run JAX operation is compiled on first use: deriving the keys outside
  cost 0.1 s of a CPU run's start.
  """
  def make():
    init_key, neg_key, data_key = _run_keys(config.seed)
    params = init_params(init_key, vocab_size, config.dim, config.init_scale)
    state = init_state(config, params, key=neg_key, optimizer=optimizer)
    return pad_tables(state, layout.rows), data_key
  specs = (state_specs(jax.eval_shape(make)[0], layout), P())
  return jax.jit(make, out_shardings=jax.tree.map(lambda spec: NamedSharding(layout.mesh, spec), specs))()


def make_multi_step(step: Callable, schedule: optax.Schedule, *, negative: int, batch_size: int,
                    steps: int, layout: Optional[mesh_lib.Layout] = None, replicas: bool = False,
                    group: Optional[int] = None, pool: int = 0) -> Callable:
  """Jits up to `steps` consecutive steps over a block's examples into one dispatch, on a donated state.

  The negatives of all the dispatch's steps are drawn up front, vectorised (`batches.step_negatives`: step
  t still uses fold_in(key, t)), so the random-number work runs once per dispatch instead of once per step;
  on a CPU its per-step cost was a large part of a step.

  Args:
    step: `step(state, batch, negatives_BxK, lr) -> (state, loss)`, e.g. from `make_step` (with the same
      layout).
    schedule: learning rate as a function of progress (0..1).
    negative: negatives per example.
    batch_size: examples per step (the global batch, split over the layout's devices).
    steps: the most steps one dispatch runs.
    layout: run on this mesh: each device takes its share of every batch (the same global batches
      whatever the number of devices); None: one device, no shard_map.
    replicas: train R models at once (`jax.vmap`): the state has a leading axis R, the function takes a
      last argument `rates_Rx2` (each model's starting and final learning rate, replacing `schedule`, which
      is then unused) and returns losses R x S. The models share the examples; each draws its own
      negatives from its own key.
    group: with `replicas`, the sparse path's steps update this many models together (default all R);
      groups take turns.
    pool: rare words drawn per step for the rare negatives (`batches.step_negatives`; 0: none; needs a
      noise made with `rare_from`).

  Returns:
    `multi_step(state, examples, first, n, progress0, progress_per_token, noise) -> (state, loss_S)`: runs
    batches first..first+n-1 (n <= steps, a dynamic trip count) of `examples`; the progress of a step is
    progress0 + progress_per_token * (block position of its first centre). loss_S holds each step's loss.
  """
  parts = 1 if layout is None else layout.devices
  if replicas and layout is not None:
    raise ConfigError('replicas train on one device')

  def run(state, examples, first, n, progress0, progress_per_token, negatives_SxbxK, schedule=schedule,
          transform=None, models=1):
    part = 0 if layout is None else jax.lax.axis_index(mesh_lib.AXIS)
    model_step = step if models == 1 else functools.partial(step, models=models)

    def body(i, carry):
      state, loss_S = carry
      batch = batches_lib.batch_at(examples, first + i, batch_size, part, parts)
      progress = progress0 + progress_per_token * examples.offset_P[(first + i) * batch_size]
      state, loss = model_step(state, transform(batch) if transform else batch, negatives_SxbxK[i],
                               schedule(progress))
      return state, loss_S.at[i].set(loss)
    losses = jnp.zeros((steps,) if models == 1 else (steps, models), jnp.float32)
    return jax.lax.fori_loop(0, n, body, (state, losses))

  def negatives(state, noise):
    return batches_lib.step_negatives(state.key, state.step + jnp.arange(steps), noise, (batch_size, negative),
                                      pool)

  if replicas:
    @functools.partial(jax.jit, donate_argnums=(0,))
    def multi_step_many(state_R, examples, first, n, progress0, progress_per_token, noise, rates_Rx2):
      negatives_RxSxBxK = jax.vmap(negatives, in_axes=(0, None))(state_R, noise)
      if not isinstance(state_R, SparseState):
        return jax.vmap(lambda state, negatives_SxBxK, rates_2: run(
            state, examples, first, n, progress0, progress_per_token, negatives_SxBxK,
            functools.partial(_interpolate, rates_2)))(state_R, negatives_RxSxBxK, rates_Rx2)
      # The sparse path stacks the R models' tables into one of R * V rows (model r's word w at row
      # r * V + w) and runs one step on G copies of the batch, each pointing at its model's rows: the same
      # arithmetic as vmapping the step over the models, but plain gathers and scatters (vmapped ones made a
      # CPU step twice as slow per model). Groups of G models run one after the other in a loop over the
      # same stacked tables, with no copies.
      R, V, H = state_R.W_in.shape
      G = min(group or R, R)

      def run_group(g, carry):
        flat, loss_RxS = carry
        take = lambda x: jax.lax.dynamic_slice_in_dim(x, g * G, G)
        offset_G = (g * G + jnp.arange(G, dtype=jnp.int32)) * V
        rates_Gx2 = take(rates_Rx2)

        def for_models(batch):
          def field(x):
            if jnp.issubdtype(x.dtype, jnp.integer):
              return (x[None] + offset_G.reshape((G,) + (1,) * x.ndim)).reshape((-1,) + x.shape[1:])
            return jnp.tile(x, (G,) + (1,) * (x.ndim - 1))
          return type(batch)(*map(field, batch))

        negatives_SxGBxK = jnp.moveaxis(take(negatives_RxSxBxK) + offset_G[:, None, None, None], 0, 1).reshape(
            steps, G * batch_size, negative)
        flat, loss_SxG = run(flat, examples, first, n, progress0, progress_per_token, negatives_SxGBxK,
                             functools.partial(_interpolate, rates_Gx2), transform=for_models, models=G)
        return flat, jax.lax.dynamic_update_slice_in_dim(loss_RxS, loss_SxG.reshape(steps, G).T, g * G, 0)

      flat = state_R._replace(W_in=state_R.W_in.reshape(R * V, H), W_out_T=state_R.W_out_T.reshape(R * V, H))
      flat, loss_RxS = jax.lax.fori_loop(0, R // G, run_group, (flat, jnp.zeros((R, steps), jnp.float32)))
      return SparseState(flat.W_in.reshape(R, V, H), flat.W_out_T.reshape(R, V, H), state_R.key,
                         state_R.step + n), loss_RxS
    return multi_step_many

  @functools.partial(jax.jit, donate_argnums=(0,))
  def multi_step(state, examples, first, n, progress0, progress_per_token, noise):
    args = (state, examples, first, n, progress0, progress_per_token, negatives(state, noise))
    if layout is None:
      return run(*args)
    specs = state_specs(state, layout)
    return jax.shard_map(run, mesh=layout.mesh, in_specs=(specs, P(), P(), P(), P(), P(), P(None, mesh_lib.AXIS)),
                         out_specs=(specs, P()), check_vma=False)(*args)
  return multi_step


class Checkpoint(NamedTuple):
  """Everything needed to continue a run exactly.

  Attributes:
    state: the SparseState or TrainState, as host (numpy) arrays.
    epoch, block, step: position of the next step: epoch, block of the corpus, step within the block.
    epoch_loss, epoch_examples, epoch_seconds: the current epoch's totals so far.
    history: the finished epochs' history entries.
  """
  state: Any
  epoch: int
  block: int
  step: int
  epoch_loss: float
  epoch_examples: int
  epoch_seconds: float
  history: list


class TrainingStopped(Exception):
  """`should_stop` asked for a stop; `checkpoint` holds the run's state at the stop."""

  def __init__(self, checkpoint: Checkpoint):
    super().__init__(f'training stopped in epoch {checkpoint.epoch + 1}')
    self.checkpoint = checkpoint


class DivergenceError(FloatingPointError):
  """The loss became infinite or NaN, or ran away (`RUNAWAY` times that of untrained vectors); nothing
  after the last good checkpoint was saved."""


def train(corpus: Corpus, vocab: Vocab, config: Config, *, params: Optional[dict] = None,
          optimizer: Optional[optax.GradientTransformation] = None, progress: bool = True,
          resume: Optional[Checkpoint] = None, checkpoint: Optional[Callable[[Checkpoint], None]] = None,
          checkpoint_every: Optional[float] = None, should_stop: Optional[Callable[[], bool]] = None
          ) -> TrainResult:
  """Trains word vectors on an encoded corpus.

  Args:
    corpus: from `jw2v.load_corpus` or `jw2v.open_prepared`.
    vocab: the vocabulary `corpus` was encoded with.
    config: hyperparameters.
    params: initial params to continue from; default `init_params` with `config.seed`.
    optimizer: reference path only: any optax GradientTransformation (default: `config.optimizer`, whose
      learning rate follows `learning_rate_schedule`; a transformation given here uses its own schedule).
    progress: show a progress bar (epoch, words/s, running loss).
    resume: continue from this checkpoint (the same corpus and config): the result is the same as that of
      the run that was stopped, had it not been.
    checkpoint: called with a Checkpoint at the end of every epoch, every `checkpoint_every` seconds, and
      when training stops early.
    checkpoint_every: seconds between periodic checkpoints (None: only at epoch ends).
    should_stop: polled between dispatches; when it returns True, training checkpoints and raises
      TrainingStopped.

  Returns:
    TrainResult: numpy params and the history
    `{'epochs': [{'epoch', 'loss', 'seconds', 'words_per_sec', 'examples'}], 'setup_seconds',
    'compile_seconds', 'finish_seconds'}`; `loss` is the mean loss per example (per pair for skip-gram, per
    centre for CBOW), `seconds` counts training only, and `words_per_sec` is the corpus's raw words divided
    by it. The other entries time what comes before and after the epochs.

  Raises:
    DivergenceError: the loss stopped being finite, or a dispatch's loss per example rose past `RUNAWAY`
      times that of untrained vectors (the state is discarded; no checkpoint is written).
    TrainingStopped: `should_stop` returned True.
  """
  return _train_models(corpus, vocab, [config], params=params, optimizer=optimizer, progress=progress,
                       resume=resume, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                       should_stop=should_stop)[0]


SWEEPABLE = ('seed', 'alpha', 'min_alpha')


def train_many(corpus: Corpus, vocab: Vocab, configs: Sequence[Config], *, progress: bool = True,
               models_per_step: Optional[int] = None) -> list[TrainResult]:
  """Trains several models at once, one jitted, `jax.vmap`-ed step for all of them (a sweep).

  The configs may differ only in `seed`, `alpha` and `min_alpha`. Each model has its own initial vectors
  and negatives (from its seed) and its own learning rate; all share the examples (subsampling and
  windows, drawn with the first config's seed), so a model of the sweep differs from the same config
  trained alone only in that draw. The models train on one device, without checkpoints.

  Args:
    corpus, vocab: as for `train`.
    configs: one Config per model.
    progress: show a progress bar.
    models_per_step: how many models one step updates together (the vmapped step, on their stacked
      tables); groups of that many take turns within each dispatch. Default: 1 on a CPU, where the
      tables of several models at once fall out of the cache (a step of 4 PTB models together cost 2x per
      model, in turns 1x), and all of them on other devices.

  Returns:
    One TrainResult per config, in order. The history's `seconds` and `words_per_sec` are those of the
    whole sweep.

  Raises:
    ConfigError: no configs, or configs that differ in more than the sweepable fields.
  """
  configs = list(configs)
  if not configs:
    raise ConfigError('train_many needs at least one config')
  for i, config in enumerate(configs):
    same = dataclasses.replace(config, **{k: getattr(configs[0], k) for k in SWEEPABLE})
    if same != configs[0]:
      differ = [f.name for f in dataclasses.fields(Config) if getattr(same, f.name) != getattr(configs[0], f.name)]
      raise ConfigError(f'the models of a sweep may differ only in {", ".join(SWEEPABLE)}; config {i} also '
                        f'differs in {", ".join(differ)}')
  if configs[0].devices not in (None, 1) or configs[0].shard_tables:
    raise ConfigError('a sweep trains on one device: leave devices and shard_tables unset')
  if models_per_step is None:
    models_per_step = 1 if jax.default_backend() == 'cpu' else len(configs)
  if not (isinstance(models_per_step, int) and 1 <= models_per_step and len(configs) % models_per_step == 0):
    raise ConfigError(f'models_per_step must divide the number of models ({len(configs)}), got {models_per_step}')
  return _train_models(corpus, vocab, configs, progress=progress, models_per_step=models_per_step)


def _train_models(*args, **kwargs) -> list[TrainResult]:
  """`train` for one config, or R configs (`train_many`: vmapped over a leading model axis, one device).

  Python's garbage collector is paused until the programs are compiled: tracing makes many objects,
  and the full collections they set off took 0.05 s of a CPU run's start (PTB CBOW, 4 alternating runs).
  """
  with collector.paused() as resume_collector:
    return _run_models(*args, **kwargs, programs_compiled=resume_collector)


def _run_models(corpus: Corpus, vocab: Vocab, configs: list[Config], *, params: Optional[dict] = None,
                optimizer: Optional[optax.GradientTransformation] = None, progress: bool = True,
                resume: Optional[Checkpoint] = None, checkpoint: Optional[Callable[[Checkpoint], None]] = None,
                checkpoint_every: Optional[float] = None, should_stop: Optional[Callable[[], bool]] = None,
                models_per_step: Optional[int] = None, programs_compiled: Callable[[], None] = lambda: None
                ) -> list[TrainResult]:
  """`_train_models`; calls `programs_compiled()` once the programs are compiled, before training."""
  entered = time.perf_counter()
  configs = [c.resolved(jax.default_backend()) for c in configs]
  config, R, many = configs[0], len(configs), len(configs) > 1
  layout = mesh_lib.make_layout(len(vocab), 1 if many else config.devices, config.shard_tables)
  if config.batch_size % layout.devices:
    raise ConfigError(f'the batch size ({config.batch_size}) must be a multiple of the number of devices '
                      f'({layout.devices})')
  if config.update_path == 'reference':
    optimizer = optimizer or make_optimizer(config)
  if resume is None and params is None and not many:
    state, data_key = _initial_state(config, len(vocab), layout, optimizer)
  else:
    init_keys, neg_keys, data_keys = zip(*map(_run_keys, (c.seed for c in configs)))
    data_key = data_keys[0]
    if resume is not None:
      state = resume.state
    else:
      start = lambda c, k: params if params is not None else init_params(k, len(vocab), c.dim, c.init_scale)
      states = [init_state(c, start(c, k), key=n, optimizer=optimizer) for c, k, n in zip(configs, init_keys, neg_keys)]
      state = jax.tree.map(lambda *x: jnp.stack(x), *states) if many else states[0]
    state = place(pad_tables(state, layout.rows), layout)
  table_bytes = mesh_lib.bytes_per_device([state.W_in, state.W_out_T] if isinstance(state, SparseState)
                                          else [state.params['W_in'], state.params['W_out']])
  noise = batches_lib.noise(vocab.counts, config.ns_exponent, rare_from=config.pool_rare_from)
  noise = jax.tree.map(lambda x: mesh_lib.put(x, layout.replicated()), noise)
  keep = keep_probabilities(vocab.counts, config.sample).astype(np.float32)
  keep_V = mesh_lib.put(keep, layout.replicated())
  B, S = config.batch_size, config.steps_per_call
  untrained = untrained_loss(config)
  T = batches_lib.block_size(corpus, config.block_tokens, layout.devices)
  one_device = layout.devices == 1 and jax.process_count() == 1
  if config.examples_on == 'host' and not one_device:
    raise ConfigError(f'examples_on="host" makes the examples for one device; this run trains on '
                      f'{layout.devices} (leave it unset to make them on the devices)')
  on_host = config.examples_on == 'host' or (config.examples_on is None and one_device
                                              and jax.default_backend() == 'cpu')
  how = dict(model=config.example_layout, window=config.window, shrink_windows=config.shrink_windows,
             buffer_size=batches_lib.example_buffer_size(T, config.example_layout, config.window, B))
  # Block b of epoch e draws from fold_in(fold_in(data_key, e), b), folded in inside the programs rather
  # than eagerly (an eager fold_in is one more program to compile at the start).
  block_key = lambda key, epoch, b: jax.random.fold_in(jax.random.fold_in(key, epoch), b)
  # Every device holds a slice of each block (a process reads only its devices' slices of the corpus);
  # the examples made from it are the same on all devices, whatever their number.
  def make_examples(block, keep_V, key, epoch, b):
    return batches_lib.make_examples(block, keep_V, block_key(key, epoch, b), **how)
  make_examples = jax.jit(make_examples, out_shardings=layout.replicated())

  @jax.jit
  def block_bits(key, epoch, b):
    return batches_lib.example_bits(block_key(key, epoch, b), T)
  # One device needs no shard_map: its collectives would be identities, but wrapping the loop in it cost
  # 18 % of a CPU step. The step function is the same.
  spread = layout if layout.devices > 1 else None
  multi_step = make_multi_step(make_step(config, optimizer, spread), learning_rate_schedule(config),
                               negative=config.negatives_per_example, batch_size=B, steps=S,
                               layout=spread, replicas=many, group=models_per_step, pool=config.negative_pool)
  corpus_words = len(corpus.ids)
  total_words = corpus_words * config.epochs
  here = resume or Checkpoint(None, 0, 0, 0, 0.0, 0, 0.0, [])

  def blocks():
    """Run by a background thread, ahead of use: each block on the device, or its examples made on the host
    (with their count); and where the block lies."""
    for epoch in range(here.epoch, config.epochs):
      for b, span in enumerate(batches_lib.block_spans(corpus, T)):
        if (epoch, b) < (here.epoch, here.block):
          continue
        where = (span.lo, span.hi - span.lo)
        if not on_host:
          yield epoch, b, mesh_lib.put_block(corpus, span, T, layout), None, *where
          continue
        bits = np.asarray(block_bits(data_key, epoch, b))  # waits for the device work queued before it
        examples = batches_lib.host_examples(batches_lib.host_block(corpus, span, T), keep, bits, **how)
        examples_on_device = jax.tree.map(lambda x: mesh_lib.put(x, layout.replicated()), examples)
        yield epoch, b, examples_on_device, int(examples.count), *where

  t0 = time.perf_counter()
  with contextlib.closing(batches_lib.prefetch(blocks())) as feed:  # stops the feed's thread however we leave
    options = compiler_options(config.deterministic)
    # A sweep's models each follow their own schedule (all linear): its rates at the start and the end.
    rates = (jnp.array([[schedule(0.0), schedule(1.0)] for schedule in map(learning_rate_schedule, configs)],
                       jnp.float32),) if many else ()
    compile_steps = lambda examples_shape: multi_step.lower(
        state, examples_shape, 0, 0, 0.0, 0.0, noise, *rates).compile(options)
    if on_host:  # compiled while the feed's thread makes the first block's examples
      compiled = compile_steps(jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=layout.replicated()),
          batches_lib.examples_shape(T, **{k: how[k] for k in ('model', 'window', 'buffer_size')})))
    first_block = next(feed, None)
    epochs_R = [list(here.history) for _ in range(R)]
    history = {'epochs': epochs_R[0], 'setup_seconds': t0 - entered, 'table_bytes_per_device': table_bytes}
    if first_block is None:  # a checkpoint taken after the last epoch
      return [TrainResult(params_of(host_state(state, len(vocab), config.dim)),
                          {**history, 'compile_seconds': 0.0, 'finish_seconds': 0.0})]
    if not on_host:
      lowered = make_examples.lower(first_block[2], keep_V, data_key, 0, 0)
      make_examples = lowered.compile(options)
      compiled = compile_steps(lowered.out_info)  # (tracing it again for jax.eval_shape cost 0.03 s)
    multi_step = lambda *args: compiled(*args, *rates)
    history['compile_seconds'] = time.perf_counter() - t0
    programs_compiled()

    bar = tqdm(total=total_words, unit='word', unit_scale=True, dynamic_ncols=True,
               disable=not progress or jax.process_index() != 0,
               smoothing=0.1, initial=here.epoch * corpus_words + first_block[4])
    now = {'epoch': here.epoch, 'loss': np.full(R, here.epoch_loss), 'examples': here.epoch_examples,
           'seconds': here.epoch_seconds, 'since': time.perf_counter(), 'saved': time.perf_counter()}
    in_flight = []  # dispatches whose losses are not read yet: (loss_S, examples_S, words, first step)

    def read_losses(keep_last: int):
      """Adds the losses of all but the newest `keep_last` dispatches (waiting for them) to the epoch."""
      while len(in_flight) > keep_last:
        loss_S, examples_S, words, first_step = in_flight.pop(0)
        n, examples = len(examples_S), int(examples_S.sum())
        losses_RxS = mesh_lib.host(loss_S).reshape(R, -1)[:, :n]  # a copy: waits for that dispatch only
        if not np.all(np.isfinite(losses_RxS)):
          model, bad = np.argwhere(~np.isfinite(losses_RxS))[0]
          raise diverged(f'the loss became {losses_RxS[model, bad]} at step {first_step + bad}'
                         + (f' (model {model} of the sweep)' if many else ''))
        runaway = runaway_step(losses_RxS, examples_S, RUNAWAY * untrained)
        if runaway is not None:
          model, bad, per_example = runaway
          raise diverged(f'the loss rose to {per_example:.4g} per example at step {first_step + bad}, '
                         f'{per_example / untrained:.3g}x the loss of untrained vectors ({untrained:.3g})'
                         + (f' (model {model} of the sweep)' if many else ''))
        now['loss'] += losses_RxS.sum(axis=1)
        now['examples'] += examples
        bar.update(words)
        bar.set_postfix(loss=' '.join(f'{x:.4f}' for x in now['loss'] / max(now['examples'], 1)), refresh=False)

    def diverged(what):
      bar.close()
      shared = ', or per-pair negatives (centre_negatives=0)' if config.centre_negatives else ''
      return DivergenceError(f'{what} (epoch {last_epoch + 1}); try a lower learning rate (alpha, now '
                             f'{config.learning_rate}) or a smaller batch size (now {B}){shared}')

    def checked_host_state():
      """The state on the host, checked: a step can turn the tables to NaN before any loss shows it."""
      host = host_state(state, len(vocab), config.dim)
      if not all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(params_of(host))):
        raise diverged(f'the vectors stopped being finite at or before step {global_step - 1}')
      return host

    def snapshot(epoch, block, step) -> Checkpoint:
      read_losses(0)
      seconds = now['seconds'] + time.perf_counter() - now['since']
      return Checkpoint(checked_host_state(), epoch, block, step, float(now['loss'][0]), now['examples'],
                        seconds, list(history['epochs']))

    def save(epoch, block, step):
      if checkpoint is not None:
        checkpoint(snapshot(epoch, block, step))
      now['saved'] = time.perf_counter()

    def finish_epoch():
      read_losses(0)
      seconds = now['seconds'] + time.perf_counter() - now['since']
      for r in range(R):
        epochs_R[r].append({'epoch': now['epoch'] + 1, 'loss': float(now['loss'][r]) / max(now['examples'], 1),
                            'seconds': seconds, 'words_per_sec': corpus.raw_words / seconds,
                            'examples': now['examples']})
      now.update(epoch=now['epoch'] + 1, loss=np.zeros(R), examples=0, seconds=0.0, since=time.perf_counter())
      save(now['epoch'], 0, 0)

    global_step, last_epoch = int(mesh_lib.host(state.step).reshape(-1)[0]), here.epoch
    for epoch, b, fed, count, block_start, n_tokens in itertools.chain([first_block], feed):
      if epoch != now['epoch']:
        finish_epoch()
      bar.set_description(f'epoch {epoch + 1}/{config.epochs}')
      if count is None:  # a block: its examples are made on the device
        examples = make_examples(fed, keep_V, data_key, epoch, b)
        count = int(mesh_lib.host(examples.count))  # waits for the work queued before it
      else:
        examples = fed
      n_steps = -(-count // B)
      progress0 = (epoch * corpus_words + block_start) / total_words
      start = min(here.step, n_steps) if (epoch, b) == (here.epoch, here.block) else 0
      if start:
        bar.update(n_tokens * start // n_steps)  # done before the checkpoint
      for first in range(start, n_steps, S) if start < n_steps else [start]:
        done = min(first + S, n_steps)
        state, loss_S = multi_step(state, examples, first, done - first, progress0, 1.0 / total_words, noise)
        # The bar counts the block's tokens in proportion to the steps run.
        words = n_tokens * done // n_steps - n_tokens * first // n_steps if n_steps else n_tokens
        in_flight.append((loss_S, batches_lib.batch_counts(count, B, first, done - first), words, global_step))
        global_step += done - first
        last_epoch = epoch
        read_losses(1)  # the previous dispatch's: the device always has one queued
        stop = should_stop is not None and should_stop()
        due = checkpoint_every is not None and time.perf_counter() - now['saved'] >= checkpoint_every
        stop, due = mesh_lib.agree(stop, due)  # every process of a run stops and saves at the same step
        if stop:
          snap = snapshot(epoch, b, done)
          if checkpoint is not None:
            checkpoint(snap)
          bar.close()
          raise TrainingStopped(snap)
        if due:
          save(epoch, b, done)
    finish_epoch()
    bar.close()
    finishing = time.perf_counter()
    params = params_of(checked_host_state())
    history['finish_seconds'] = time.perf_counter() - finishing
    if not many:
      return [TrainResult(params, history)]
    return [TrainResult(jax.tree.map(lambda x: x[r], params), {**history, 'epochs': epochs_R[r]}) for r in range(R)]


# A dispatch whose loss per example passes this many times that of untrained vectors stops the run: the
# steps' summed updates overshoot and feed on themselves (a normal run's loss only falls below it).
RUNAWAY = 3.0


def untrained_loss(config: Config) -> float:
  """The most a training example's loss can be with untrained vectors: every score is 0 (W_out starts at
  zero), so each of its positives and negatives costs log 2; a centre with shared negatives has up to
  2 * window pairs. Resolved configs only."""
  pairs = 2 * config.window if config.centre_negatives else 1
  return pairs * (1 + config.negative) * math.log(2)


def runaway_step(losses_RxS: np.ndarray, examples_S: np.ndarray,
                 ceiling: float) -> Optional[tuple[int, int, float]]:
  """Where a dispatch's loss ran away: its mean loss per example passed `ceiling`.

  Args:
    losses_RxS: the summed loss of each of the dispatch's S steps, for each of R models.
    examples_S: the real examples of each step (`batches.batch_counts`).
    ceiling: the highest mean loss per example that is not a runaway.

  Returns:
    None, or (model, step, loss per example of that step) for the first model past the ceiling and its
    first step past it.
  """
  over_R = losses_RxS.sum(axis=1) > ceiling * max(int(examples_S.sum()), 1)
  if not over_R.any():
    return None
  model = int(np.argmax(over_R))
  per_example_S = losses_RxS[model] / np.maximum(examples_S, 1)
  step = int(np.argmax(per_example_S > ceiling))  # one exists: the mean is past the ceiling
  return model, step, float(per_example_S[step])


def compiler_options(deterministic: bool = False) -> dict:
  """XLA options for jw2v's programs on the default backend.

  On CUDA GPUs the loop over steps runs as a CUDA graph (command buffers that include while loops): a
  step is a few dozen small kernels, and launching them one by one cost about a fifth of the step time
  on an H100. An `xla_gpu_enable_command_buffer` setting in XLA_FLAGS takes precedence. `deterministic`
  asks for XLA's deterministic GPU kernels: a scatter-add then sums repeated rows in a fixed order.
  """
  device = jax.devices()[0]
  if device.platform != 'gpu':
    return {}
  options = {'xla_gpu_deterministic_ops': True} if deterministic else {}
  if 'cuda' in device.client.platform_version.lower() and 'xla_gpu_enable_command_buffer' not in os.environ.get(
      'XLA_FLAGS', ''):
    options.update(xla_gpu_enable_command_buffer='FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL',
                   xla_gpu_graph_min_graph_size=1)
  return options
