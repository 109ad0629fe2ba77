"""Dispatches: up to `steps` consecutive steps over a block's examples in one jitted call, on a donated state.

The negatives of all of a dispatch's steps are drawn up front, vectorised (`batches.step_negatives`: step t
still draws from fold_in(key, t)), so that the random-number work runs once per dispatch instead of once
per step. `make_multi_step` makes the dispatch of one model (on one device, or over a mesh), and
`make_sweep_step` that of R models trained at once on one device (`train_many`).
"""

from __future__ import annotations

import functools
import os
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec as P

from jw2v import batches, devices
from jw2v.train.state import SparseState


def _run_steps(step: Callable, batch_size: int, steps: int, parts: int, state, examples, first, n, progress0,
               progress_per_token, negatives_SxbxK, schedule: Callable, transform: Optional[Callable] = None,
               models: int = 1, tree=None, start=0, loss_S=None):
  """Steps first+start..first+n-1 of a block's examples (a `fori_loop` with a dynamic trip count): (state,
  loss_S).

  Inside `shard_map` (parts > 1) each device takes its part of every batch. `transform` maps each batch
  before its step (a sweep's copies of it, one per model); `models` and `tree` (hierarchical softmax) are
  passed on to the step. Step i takes negatives_SxbxK[i - start]; `loss_S` (default zeros) receives its loss
  at i.
  """
  part = 0 if parts == 1 else jax.lax.axis_index(devices.AXIS)
  model_step = step if models == 1 else functools.partial(step, models=models)
  model_step = model_step if tree is None else functools.partial(model_step, tree=tree)

  def body(i, carry):
    state, loss_S = carry
    batch = batches.batch_at(examples, first + i, batch_size, part, parts)
    progress = progress0 + progress_per_token * examples.offset_P[(first + i) * batch_size]
    state, loss = model_step(state, transform(batch) if transform else batch, negatives_SxbxK[i - start],
                             schedule(progress))
    return state, loss_S.at[i].set(loss)
  if loss_S is None:
    loss_S = jnp.zeros((steps,) if models == 1 else (steps, models), jnp.float32)
  return jax.lax.fori_loop(start, n, body, (state, loss_S))


def _negatives(state, noise: batches.Noise, *, steps: int, shape: tuple, pool: int) -> jax.Array:
  """The negatives of a dispatch's `steps` steps from the state's step on: S x B x K."""
  return batches.step_negatives(state.key, state.step + jnp.arange(steps), noise, shape, pool)


# With `Config.merge_every`, the rows of this many of the most frequent words (ids 0 .. FREQUENT_ROWS - 1)
# are merged every `merge_every` steps; the rest once per dispatch.
FREQUENT_ROWS = 16384


class _Frequent(NamedTuple):
  """The rows of the tables that local updates merge every `merge_every` steps: the first `rows` rows of
  W_in and W_out_T (the most frequent words), and the last `hs_rows` of W_hs_T (the inner nodes nearest
  the root, which Huffman trees number last)."""
  rows: int
  hs_rows: int

  @classmethod
  def of_state(cls, state: SparseState, frequent_rows: int) -> '_Frequent':
    hs_total = 0 if state.W_hs_T is None else state.W_hs_T.shape[0]
    return cls(min(frequent_rows, state.W_in.shape[0]), min(frequent_rows, hs_total))

  def take(self, state: SparseState) -> tuple:
    """The frequent rows of each table (W_in, W_out_T, W_hs_T; None without hierarchical softmax)."""
    hs = None if state.W_hs_T is None else state.W_hs_T[state.W_hs_T.shape[0] - self.hs_rows:]
    return state.W_in[:self.rows], state.W_out_T[:self.rows], hs

  def put(self, state: SparseState, rows: tuple) -> SparseState:
    """`state` with the rows `take` takes replaced by `rows`."""
    W_in, W_out_T, hs = rows
    state = state._replace(W_in=state.W_in.at[:self.rows].set(W_in), W_out_T=state.W_out_T.at[:self.rows].set(W_out_T))
    if hs is None:
      return state
    return state._replace(W_hs_T=state.W_hs_T.at[state.W_hs_T.shape[0] - self.hs_rows:].set(hs))


def _merged_run(run: Callable, copies: int, state: SparseState, *args, tree=None):
  """`run` on this device's own copy of the tables, then every copy's change added to each (inside
  `shard_map` over `copies` devices): the steps of `Config.local_updates`."""
  new, loss_S = run(state, *args, tree=tree)
  return _merged(state, new, copies), jax.lax.psum(loss_S, devices.AXIS)


def _chunked_run(run: Callable, copies: int, steps: int, merge_every: int, frequent_rows: int, draw: Callable,
                 state: SparseState, examples, first, n, progress0, progress_per_token, noise, tree=None):
  """`_merged_run` with `Config.merge_every`: the steps run in chunks of `merge_every`; after each chunk but
  the last the frequent rows (`_Frequent`) are merged, against their values at the previous merge, and
  after the last the whole tables, as `_merged_run` merges them (the frequent rows against their last
  merge). Each chunk draws its own steps' negatives (`draw`, the global batch's; this device takes its
  part), so that a dispatch of many steps that its block cuts short draws no more than it uses. With one
  copy (one device, outside `shard_map`) only the chunks' steps run.
  """
  chunk = functools.partial(_chunk_steps, run, copies, merge_every, draw, examples, first, n, progress0,
                            progress_per_token, noise, tree)
  chunks, loss_S = -(-n // merge_every), jnp.zeros((steps,), jnp.float32)
  if copies == 1:  # one device: nothing to merge
    return jax.lax.fori_loop(0, chunks, lambda c, carry: chunk(c, *carry), (state, loss_S))
  frequent = _Frequent.of_state(state, frequent_rows)
  merged_chunk = functools.partial(_merged_chunk, chunk, copies, frequent)
  carry = (state, loss_S, frequent.take(state))
  new, loss_S, base = jax.lax.fori_loop(0, chunks - 1, merged_chunk, carry)
  new, loss_S = chunk(jnp.maximum(chunks - 1, 0), new, loss_S)
  return _merged(frequent.put(state, base), new, copies), jax.lax.psum(loss_S, devices.AXIS)


def _chunk_steps(run: Callable, copies: int, merge_every: int, draw: Callable, examples, first, n, progress0,
                 progress_per_token, noise, tree, c, state, loss_S):
  """Chunk c's steps, with negatives drawn for them: (state, loss_S)."""
  start = c * merge_every
  negatives_SxBxK = draw(state, noise)
  part = negatives_SxBxK.shape[1] // copies
  negatives_Sxbxk = negatives_SxBxK if copies == 1 else jax.lax.dynamic_slice_in_dim(
      negatives_SxBxK, jax.lax.axis_index(devices.AXIS) * part, part, axis=1)
  return run(state, examples, first, jnp.minimum(start + merge_every, n), progress0, progress_per_token,
             negatives_Sxbxk, tree=tree, start=start, loss_S=loss_S)


def _merged_chunk(chunk: Callable, copies: int, frequent: _Frequent, c, carry):
  """A `fori_loop` body: chunk c's steps, then the frequent rows merged (carry: the state, the losses, and
  the frequent rows' values at their last merge)."""
  state, loss_S, base = carry
  state, loss_S = chunk(c, state, loss_S)
  base = tuple(None if old is None else _summed_change(old, now, copies)
               for old, now in zip(base, frequent.take(state)))
  return frequent.put(state, base), loss_S, base


def _merged(old: SparseState, new: SparseState, copies: int) -> SparseState:
  """`new` with each table's change since `old` summed over the copies (`_summed_change`)."""
  summed = lambda old, now: None if old is None else _summed_change(old, now, copies)
  return new._replace(W_in=summed(old.W_in, new.W_in), W_out_T=summed(old.W_out_T, new.W_out_T),
                      W_hs_T=summed(old.W_hs_T, new.W_hs_T))


def _summed_change(old: jax.Array, now: jax.Array, copies: int) -> jax.Array:
  """old + the sum over the copies of (now - old), inside `shard_map` over `copies` devices: each copy's
  table after a merge.

  Written as sum(now) - (copies - 1) * old, so that the collective reads the tables themselves (XLA's CPU
  devices sum a computed difference 2-3 times slower). When the rows split evenly over the copies, the sum
  is a reduce-scatter (each device sums its share of the rows) then an all-gather: on XLA's CPU devices
  faster than one all-reduce of the whole table (docs/performance.md).
  """
  rows = old.shape[0]
  if rows % copies:
    return jax.lax.psum(now, devices.AXIS) - (copies - 1) * old
  part = rows // copies
  mine = jax.lax.dynamic_slice_in_dim(old, jax.lax.axis_index(devices.AXIS) * part, part)
  summed = jax.lax.psum_scatter(now, devices.AXIS, scatter_dimension=0, tiled=True) - (copies - 1) * mine
  return jax.lax.all_gather(summed, devices.AXIS, tiled=True)


def make_multi_step(step: Callable, schedule: optax.Schedule, *, negative: int, batch_size: int, steps: int,
                    layout: Optional[devices.Layout] = None, pool: int = 0, merge: bool = False,
                    merge_every: Optional[int] = None, frequent_rows: Optional[int] = None) -> Callable:
  """Jits up to `steps` consecutive steps of one model over a block's examples into one dispatch.

  Args:
    step: `step(state, batch, negatives_BxK, lr) -> (state, loss)`, e.g. from `make_step` (with the same
      layout).
    schedule: learning rate as a function of progress (0..1).
    negative: negatives per example.
    batch_size: examples per step (the global batch, split over the layout's devices).
    steps: the most steps one dispatch runs.
    layout: run on this mesh: each device takes its share of every batch (the same global batches
      whatever the number of devices); None: one device, without `shard_map`, whose collectives would be
      identities but not free.
    pool: rare words drawn per step for the rare negatives (`batches.step_negatives`; 0: none; needs a
      noise made with `rare_from`).
    merge: with `layout`: `step` works on one device's copy of the tables (made without the layout), and
      the copies' changes are summed at the end of the dispatch (`Config.local_updates`).
    merge_every: with `merge`: the rows of the `frequent_rows` most frequent words are also summed every
      this many steps (`Config.merge_every`); None: only at the dispatch's end. The negatives are then
      drawn this many steps at a time (also on one device), not for the whole dispatch at once.
    frequent_rows: see `merge_every` (default `FREQUENT_ROWS`).

  Returns:
    `multi_step(state, examples, first, n, progress0, progress_per_token, noise, tree=None) -> (state,
    loss_S)`: runs batches first..first+n-1 (n <= steps, a dynamic trip count) of `examples`; the progress
    of a step is progress0 + progress_per_token * (block position of its first centre). loss_S holds each
    step's loss. `tree` (a `vocab.HuffmanTree` of device arrays) goes to every step (hierarchical softmax).
  """
  parts = 1 if layout is None else layout.devices
  run = functools.partial(_run_steps, step, batch_size, steps, parts, schedule=schedule)
  negatives = functools.partial(_negatives, steps=steps, shape=(batch_size, negative), pool=pool)
  chunked = merge and merge_every is not None
  if chunked:
    draw = functools.partial(_negatives, steps=merge_every, shape=(batch_size, negative), pool=pool)
    run = functools.partial(_chunked_run, run, parts, steps, merge_every,
                            FREQUENT_ROWS if frequent_rows is None else frequent_rows, draw)
  elif merge and layout is not None:
    run = functools.partial(_merged_run, run, parts)

  @functools.partial(jax.jit, donate_argnums=(0,))
  def multi_step(state, examples, first, n, progress0, progress_per_token, noise, tree=None):
    draws = noise if chunked else negatives(state, noise)
    args = (state, examples, first, n, progress0, progress_per_token, draws)
    if layout is None:
      return run(*args, tree=tree)
    specs = state.specs(layout)
    in_specs = (specs, P(), P(), P(), P(), P(), P() if chunked else P(None, devices.AXIS)) + (
        () if tree is None else (P(),))
    spread = run if tree is None else (lambda *a: run(*a[:-1], tree=a[-1]))
    return jax.shard_map(spread, mesh=layout.mesh, in_specs=in_specs, out_specs=(specs, P()),
                         check_vma=False)(*args, *(() if tree is None else (tree,)))
  return multi_step


def interpolate(rates_x2: jax.Array, progress: jax.Array) -> jax.Array:
  """The learning rate(s) at `progress` of schedules going linearly from rates_x2[..., 0] to [..., 1]."""
  return rates_x2[..., 0] + (rates_x2[..., 1] - rates_x2[..., 0]) * jnp.clip(progress, 0.0, 1.0)


def make_sweep_step(step: Callable, *, negative: int, batch_size: int, steps: int, stacked: bool,
                    group: Optional[int] = None, pool: int = 0) -> Callable:
  """Jits up to `steps` steps of R models at once (one device) into one dispatch: `make_multi_step` for a sweep.

  The models share the examples; each draws its own negatives from its own key and follows its own linear
  learning-rate schedule.

  Args:
    step, negative, batch_size, steps, pool: as for `make_multi_step`.
    stacked: the sparse path: the R models' tables are stacked into one table of R * V rows (model r's
      word w at row r * V + w) and one step runs on G copies of the batch, each pointing at its model's
      rows (`_stacked_sweep`); else the step is `jax.vmap`-ed over the models.
    group: with `stacked`, the steps update this many models together (default all R); groups take turns.

  Returns:
    `multi_step(state_R, examples, first, n, progress0, progress_per_token, noise, rates_Rx2) ->
    (state_R, loss_RxS)`, `rates_Rx2` each model's starting and final learning rate.
  """
  run = functools.partial(_run_steps, step, batch_size, steps, 1)
  negatives = functools.partial(_negatives, steps=steps, shape=(batch_size, negative), pool=pool)
  sweep = functools.partial(_stacked_sweep, run, group) if stacked else functools.partial(_vmapped_sweep, run)

  @functools.partial(jax.jit, donate_argnums=(0,))
  def multi_step(state_R, examples, first, n, progress0, progress_per_token, noise, rates_Rx2):
    negatives_RxSxBxK = jax.vmap(negatives, in_axes=(0, None))(state_R, noise)
    return sweep(state_R, examples, first, n, progress0, progress_per_token, negatives_RxSxBxK, rates_Rx2)
  return multi_step


def _vmapped_sweep(run: Callable, state_R, examples, first, n, progress0, progress_per_token, negatives_RxSxBxK,
                   rates_Rx2):
  one = lambda state, negatives_SxBxK, rates_2: run(state, examples, first, n, progress0, progress_per_token,
                                                     negatives_SxBxK, functools.partial(interpolate, rates_2))
  return jax.vmap(one)(state_R, negatives_RxSxBxK, rates_Rx2)


def _stacked_sweep(run: Callable, group: Optional[int], state_R: SparseState, examples, first, n, progress0,
                   progress_per_token, negatives_RxSxBxK, rates_Rx2):
  """The sparse path's sweep: plain gathers and scatters on the stacked tables (the same arithmetic as
  vmapping the step, which would make vmapped gathers and scatters), groups of G models in turn."""
  R, V, H = state_R.W_in.shape
  G = min(group or R, R)
  group_steps = functools.partial(_group_steps, run, G, V, examples, first, n, progress0, progress_per_token,
                                  negatives_RxSxBxK, rates_Rx2)
  flat = state_R._replace(W_in=state_R.W_in.reshape(R * V, H), W_out_T=state_R.W_out_T.reshape(R * V, H))
  steps = negatives_RxSxBxK.shape[1]
  flat, loss_RxS = jax.lax.fori_loop(0, R // G, group_steps, (flat, jnp.zeros((R, steps), jnp.float32)))
  return SparseState(flat.W_in.reshape(R, V, H), flat.W_out_T.reshape(R, V, H), state_R.key, state_R.step + n), loss_RxS


def _group_steps(run: Callable, G: int, V: int, examples, first, n, progress0, progress_per_token,
                 negatives_RxSxBxK, rates_Rx2, g, carry):
  """A `fori_loop` body: the steps of models g*G..(g+1)*G-1 on the stacked tables."""
  flat, loss_RxS = carry
  steps, B, K = negatives_RxSxBxK.shape[1:]
  take = lambda x: jax.lax.dynamic_slice_in_dim(x, g * G, G)
  offset_G = (g * G + jnp.arange(G, dtype=jnp.int32)) * V
  negatives_SxGBxK = jnp.moveaxis(take(negatives_RxSxBxK) + offset_G[:, None, None, None], 0, 1).reshape(
      steps, G * B, K)
  flat, loss_SxG = run(flat, examples, first, n, progress0, progress_per_token, negatives_SxGBxK,
                       functools.partial(interpolate, take(rates_Rx2)),
                       transform=functools.partial(_for_models, offset_G), models=G)
  return flat, jax.lax.dynamic_update_slice_in_dim(loss_RxS, loss_SxG.reshape(steps, G).T, g * G, 0)


def _for_models(offset_G: jax.Array, batch):
  """G copies of a batch, copy r's word ids pointing at model r's rows (offset_G[r] = its first row)."""
  G = offset_G.shape[0]

  def field(x):
    if jnp.issubdtype(x.dtype, jnp.integer):
      return (x[None] + offset_G.reshape((G,) + (1,) * x.ndim)).reshape((-1,) + x.shape[1:])
    return jnp.tile(x, (G,) + (1,) * (x.ndim - 1))
  return type(batch)(*map(field, batch))


def compiler_options(deterministic: bool = False) -> dict:
  """XLA options for jw2v's programs on the default backend.

  On CUDA GPUs the loop over steps runs as a CUDA graph (command buffers that include while loops): a
  step is a few dozen small kernels, whose launches one by one take a large share of its time. An
  `xla_gpu_enable_command_buffer` setting in XLA_FLAGS takes precedence. `deterministic` asks for XLA's
  deterministic GPU kernels: a scatter-add then sums repeated rows in a fixed order.
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
