"""Training states: what a run carries from step to step, how it starts, and where it lives.

Two states, one per update path, with the same methods, so that no caller asks which one it holds:
`TrainState` (the reference path: the public params pytree and optax's state) and `SparseState` (the
sparse path: W_in and W_out stored transposed, so that an output vector is a contiguous row).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from jw2v import devices
from jw2v.config import Config
from jw2v.model import init_params


class TrainState(NamedTuple):
  """Reference-path state (a sweep adds a leading model axis R to every array)."""
  params: dict       # {'W_in': (V, H), 'W_out': (H, V)}
  opt_state: Any     # optax's state for `params`
  key: jax.Array     # negatives: step t draws from fold_in(key, t)
  step: jax.Array    # int32 (): steps taken

  def as_params(self) -> dict:
    """The public params pytree {'W_in': (V, H), 'W_out': (H, V)}."""
    return self.params

  def tables(self) -> list:
    return [self.params['W_in'], self.params['W_out']]

  def specs(self, layout: devices.Layout) -> 'TrainState':
    """PartitionSpecs of the arrays: all replicated (the reference path has no split tables)."""
    return jax.tree.map(lambda _: P(), self)

  def padded(self, rows: int, width: Optional[int] = None) -> 'TrainState':
    """The reference path stores its tables as they are."""
    return self

  def trimmed(self, vocab_size: int, dim: int) -> 'TrainState':
    return self

  def with_key_data(self) -> 'TrainState':
    """The key as its raw uint32 data (for files and for placement)."""
    return self._replace(key=jax.random.key_data(self.key))

  def with_key(self) -> 'TrainState':
    """The inverse of `with_key_data`."""
    return self._replace(key=jax.random.wrap_key_data(self.key))


class SparseState(NamedTuple):
  """Sparse-path state (a sweep adds a leading model axis R to every array)."""
  W_in: jax.Array     # (V, H)
  W_out_T: jax.Array  # (V, H): W_out transposed, an output vector per row
  key: jax.Array      # negatives: step t draws from fold_in(key, t)
  step: jax.Array     # int32 (): steps taken
  W_hs_T: Optional[jax.Array] = None  # (V - 1, H): hierarchical softmax's inner nodes (Config.hs), else None

  def as_params(self) -> dict:
    """The public params pytree {'W_in': (V, H), 'W_out': (H, V)}, and 'W_hs': (H, V - 1) with hs."""
    params = {'W_in': self.W_in, 'W_out': self.W_out_T.swapaxes(-1, -2)}
    if self.W_hs_T is not None:
      params['W_hs'] = self.W_hs_T.swapaxes(-1, -2)
    return params

  def tables(self) -> list:
    return [self.W_in, self.W_out_T] + ([] if self.W_hs_T is None else [self.W_hs_T])

  def specs(self, layout: devices.Layout) -> 'SparseState':
    """PartitionSpecs of the arrays: the tables as `layout` says (W_hs_T replicated), the key and step
    replicated."""
    return SparseState(layout.table_spec, layout.table_spec, P(), P(), None if self.W_hs_T is None else P())

  def padded(self, rows: int, width: Optional[int] = None) -> 'SparseState':
    """Tables of `rows` rows and `width` columns (default: `devices.table_width` of their dim, as `train`
    stores them), zeros added. No step changes the zeros: rows past the vocabulary are never looked up, and
    the extra columns of h and of every output row are zero, so are their updates."""
    V, H = self.W_in.shape[-2:]
    width = devices.table_width(H) if width is None else width
    if (V, H) == (rows, width):
      return self
    pad = [(0, 0)] * (self.W_in.ndim - 2) + [(0, rows - V), (0, width - H)]
    pad_fn = jnp.pad if isinstance(self.W_in, jax.Array) else (lambda x, p: np.pad(np.asarray(x), p))  # traced or host
    padded = self._replace(W_in=pad_fn(self.W_in, pad), W_out_T=pad_fn(self.W_out_T, pad))
    if self.W_hs_T is None:
      return padded
    return padded._replace(W_hs_T=pad_fn(self.W_hs_T, pad[:-2] + [(0, 0), (0, width - H)]))

  def trimmed(self, vocab_size: int, dim: int) -> 'SparseState':
    """The tables cut back to the vocabulary's rows and `dim` columns (undoes `padded`)."""
    trimmed = self._replace(W_in=self.W_in[..., :vocab_size, :dim], W_out_T=self.W_out_T[..., :vocab_size, :dim])
    return trimmed if self.W_hs_T is None else trimmed._replace(W_hs_T=self.W_hs_T[..., :vocab_size - 1, :dim])

  def with_key_data(self) -> 'SparseState':
    """The key as its raw uint32 data (for files and for placement)."""
    return self._replace(key=jax.random.key_data(self.key))

  def with_key(self) -> 'SparseState':
    """The inverse of `with_key_data`."""
    return self._replace(key=jax.random.wrap_key_data(self.key))


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


def params_of(state) -> dict:
  """The public params pytree {'W_in': (V, H), 'W_out': (H, V)} of either state (R x ... for R models)."""
  return state.as_params()


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


def init_state(config: Config, params: dict, *, key: jax.Array,
               optimizer: Optional[optax.GradientTransformation] = None):
  """The training state for the path `config.update_path` selects.

  Args:
    config: the run's Config.
    params: initial {'W_in': (V, H), 'W_out': (H, V)}.
    key: PRNG key for the negatives (step t uses `fold_in(key, t)`).
    optimizer: reference path only; defaults to `make_optimizer(config)`.

  Returns:
    A SparseState or a TrainState, at step 0. With `config.hs`, params without 'W_hs' (e.g. of a run
    without hs) start its inner nodes at zero.
  """
  step = jnp.zeros((), jnp.int32)
  W_in, W_out = jnp.asarray(params['W_in'], jnp.float32), jnp.asarray(params['W_out'], jnp.float32)
  W_hs = None
  if config.hs:
    W_hs = jnp.asarray(params['W_hs'], jnp.float32) if 'W_hs' in params else jnp.zeros(
        (W_in.shape[1], W_in.shape[0] - 1), jnp.float32)
  if config.update_path == 'sparse':
    return SparseState(W_in, jnp.array(W_out.T), key, step, None if W_hs is None else jnp.array(W_hs.T))
  optimizer = optimizer or make_optimizer(config)
  params = {'W_in': W_in, 'W_out': W_out, **({} if W_hs is None else {'W_hs': W_hs})}
  return TrainState(params, optimizer.init(params), key, step)


def run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The keys a run with this seed uses: (initial vectors, negatives, examples)."""
  init_key, neg_key, data_key = jax.random.split(jax.random.key(seed), 3)
  return init_key, neg_key, data_key


def _fresh_states(configs: tuple, vocab_size: int, rows: int, optimizer, params: Optional[dict]):
  """The configs' initial states (stacked along a leading model axis when there are several), tables padded
  to `rows`, and the first config's key for the examples."""
  states = []
  for config in configs:
    init_key, neg_key, _ = run_keys(config.seed)
    start = params if params is not None else init_params(init_key, vocab_size, config.dim, config.init_scale,
                                                          config.hs)
    states.append(init_state(config, start, key=neg_key, optimizer=optimizer))
  state = states[0] if len(states) == 1 else jax.tree.map(lambda *x: jnp.stack(x), *states)
  return state.padded(rows), run_keys(configs[0].seed)[2]


def initial_state(configs, vocab_size: int, layout: devices.Layout, optimizer=None, params: Optional[dict] = None):
  """The run's initial state and its key for the examples, made where they will live, in one program.

  Each device computes only its rows of split tables; the values do not depend on the layout (JAX's
  random numbers are the same however they are sharded).

  Args:
    configs: one Config, or a sweep's configs (the state then has a leading model axis).
    vocab_size: V.
    layout: where the state lives (`devices.make_layout`).
    optimizer: reference path only; defaults to `make_optimizer`.
    params: initial params for every model; default `init_params` with each config's seed.

  Returns:
    (state, the key of the examples).
  """
  configs = tuple(configs)
  make = lambda params: _fresh_states(configs, vocab_size, layout.rows, optimizer, params)
  specs = (jax.eval_shape(make, params)[0].specs(layout), P())
  shardings = jax.tree.map(lambda spec: NamedSharding(layout.mesh, spec), specs)
  return jax.jit(make, out_shardings=shardings)(params)


def place(state, layout: devices.Layout):
  """Puts a state (host or device arrays, tables of `layout.rows` rows) where `layout` says."""
  specs = state.specs(layout)._replace(key=P())
  arrays = jax.tree.map(lambda x, spec: devices.put(x, NamedSharding(layout.mesh, spec)), state.with_key_data(), specs)
  return arrays.with_key()


def host_state(state, vocab_size: int, dim: int):
  """A state on the host as numpy arrays, its tables cut back to the vocabulary's rows and `dim` columns
  (also with a leading model axis, from `train_many`)."""
  return jax.tree.map(devices.host, state.with_key_data()).with_key().trimmed(vocab_size, dim)
