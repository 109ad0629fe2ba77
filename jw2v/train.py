"""Training: state, the two update paths, several steps per dispatch, and the epoch loop.

- Reference path (`reference_step`): `jax.grad` of the pure loss w.r.t. the whole params pytree, then any
  optax optimizer. The gradient is a dense (V, H) array, so each step costs O(V*H).
- Sparse path (`sparse_step`): SGD. The same loss is differentiated w.r.t. the gathered rows only, and
  the row gradients are added back with `.at[idx].add` on donated tables: O(B*K*H), independent of V.
  W_out is kept transposed, (V, H), so that an output vector is a contiguous row; `params` converts back.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jw2v import batches as batches_lib
from jw2v.batches import CbowBatch, SkipgramBatch
from jw2v.config import Config
from jw2v.corpus import Corpus
from jw2v.model import cbow_loss, embedding, init_params, negative_sampling_loss, skipgram_loss
from jw2v.vocab import Vocab, keep_probabilities, noise_cdf


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
  """The public params pytree {'W_in': (V, H), 'W_out': (H, V)} of either state."""
  if isinstance(state, SparseState):
    return {'W_in': state.W_in, 'W_out': state.W_out_T.T}
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


def _negatives(key, step, cdf_V, target_B, negative):
  return batches_lib.draw_negatives(jax.random.fold_in(key, step), cdf_V, (target_B.shape[0], negative))


def model_loss(params: dict, batch, negatives_BxK: jax.Array) -> jax.Array:
  """The model's summed loss on a SkipgramBatch or CbowBatch."""
  if isinstance(batch, SkipgramBatch):
    return skipgram_loss(params, batch.center_B, batch.context_B, negatives_BxK, batch.weight_B)
  return cbow_loss(params, batch.contexts_BxC, batch.mask_BxC, batch.center_B, negatives_BxK, batch.weight_B)


def reference_step(state: TrainState, batch, lr: jax.Array, cdf_V: jax.Array, *, negative: int,
                   optimizer: optax.GradientTransformation) -> tuple[TrainState, jax.Array]:
  """One step of the reference path: dense `jax.grad` of the whole pytree, then the optax update.

  Args:
    state: TrainState.
    batch: SkipgramBatch or CbowBatch (one batch, no steps axis).
    lr: learning rate, written into the optimizer's injected hyperparameters when it has them.
    cdf_V: noise distribution from `vocab.noise_cdf`.
    negative: negatives per example.
    optimizer: the optax transformation that made `state.opt_state`.

  Returns:
    The new state and the batch loss.
  """
  target_B = batch.context_B if isinstance(batch, SkipgramBatch) else batch.center_B
  negatives_BxK = _negatives(state.key, state.step, cdf_V, target_B, negative)
  loss, grads = jax.value_and_grad(model_loss)(state.params, batch, negatives_BxK)
  opt_state = state.opt_state
  if 'learning_rate' in getattr(opt_state, 'hyperparams', {}):  # made by optax.inject_hyperparams
    opt_state.hyperparams['learning_rate'] = lr
  updates, opt_state = optimizer.update(grads, opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return TrainState(params, opt_state, state.key, state.step + 1), loss


def sparse_step(state: SparseState, batch, lr: jax.Array, cdf_V: jax.Array, *, negative: int,
                cbow_full_error: bool = True) -> tuple[SparseState, jax.Array]:
  """One SGD step of the sparse path; cost independent of the vocabulary size.

  The loss is a function of the gathered rows (h and the output vectors of the targets); `jax.vjp` gives
  the gradients of those rows only, which are added back into the tables with `.at[idx].add` (repeated
  indices summed).

  Args:
    state: SparseState (donate it: the tables are updated in place).
    batch: SkipgramBatch or CbowBatch.
    lr: learning rate of this step.
    cdf_V: noise distribution from `vocab.noise_cdf`.
    negative: negatives per example.
    cbow_full_error: CBOW only. True (word2vec.c, gensim's cbow_mean=1): every context row receives the
      full gradient of h. False: each receives gradient/count, which is what `jax.grad` of the mean gives.

  Returns:
    The new state and the batch loss.
  """
  skipgram = isinstance(batch, SkipgramBatch)
  target_B = batch.context_B if skipgram else batch.center_B
  negatives_BxK = _negatives(state.key, state.step, cdf_V, target_B, negative)
  targets_BxT = jnp.concatenate([target_B[:, None], negatives_BxK], axis=1)
  neg_mask_BxK = (negatives_BxK != target_B[:, None]).astype(jnp.float32)

  if skipgram:
    h_BxH = embedding(state.W_in, batch.center_B)
  else:
    rows_BxCxH = embedding(state.W_in, batch.contexts_BxC)
    count_Bx1 = jnp.maximum(jnp.sum(batch.mask_BxC, axis=-1, keepdims=True), 1.0)
    h_BxH = jnp.einsum('bch,bc->bh', rows_BxCxH, batch.mask_BxC) / count_Bx1
  out_BxTxH = embedding(state.W_out_T, targets_BxT)

  def loss_of_rows(h_BxH, out_BxTxH):
    score_BxT = jnp.sum(h_BxH[:, None, :] * out_BxTxH, axis=-1)
    return negative_sampling_loss(score_BxT[:, 0], score_BxT[:, 1:], neg_mask_BxK, batch.weight_B)

  loss, (dh_BxH, dout_BxTxH) = jax.value_and_grad(loss_of_rows, argnums=(0, 1))(h_BxH, out_BxTxH)
  W_out_T = state.W_out_T.at[targets_BxT].add(-lr * dout_BxTxH)
  if skipgram:
    W_in = state.W_in.at[batch.center_B].add(-lr * dh_BxH)
  else:
    share_BxC = batch.mask_BxC if cbow_full_error else batch.mask_BxC / count_Bx1
    W_in = state.W_in.at[batch.contexts_BxC].add(-lr * share_BxC[:, :, None] * dh_BxH[:, None, :])
  return SparseState(W_in, W_out_T, state.key, state.step + 1), loss


def make_step(config: Config, optimizer: Optional[optax.GradientTransformation] = None) -> Callable:
  """`step(state, batch, lr, cdf_V) -> (state, loss)` for the config's update path."""
  if config.update_path == 'sparse':
    return functools.partial(sparse_step, negative=config.negative, cbow_full_error=config.cbow_full_error)
  return functools.partial(reference_step, negative=config.negative,
                           optimizer=optimizer or make_optimizer(config))


def make_multi_step(step: Callable, schedule: optax.Schedule) -> Callable:
  """Jits `n_steps` consecutive steps into one dispatch, on a donated state.

  Returns:
    `multi_step(state, batch_S, progress_S, n_steps, cdf_V) -> (state, loss_S)`: runs steps 0..n_steps-1
    of a chunk whose arrays have a leading axis S (a dynamic trip count, so a short final chunk reuses the
    same compiled loop); loss_S holds each step's loss, 0 for steps not run.
  """
  @functools.partial(jax.jit, donate_argnums=(0,))
  def multi_step(state, batch_S, progress_S, n_steps, cdf_V):
    def body(i, carry):
      state, loss_S = carry
      batch = jax.tree.map(lambda a: a[i], batch_S)
      state, loss = step(state, batch, schedule(progress_S[i]), cdf_V)
      return state, loss_S.at[i].set(loss)
    return jax.lax.fori_loop(0, n_steps, body, (state, jnp.zeros(progress_S.shape, jnp.float32)))
  return multi_step


def train(corpus: Corpus, vocab: Vocab, config: Config, *, params: Optional[dict] = None,
          optimizer: Optional[optax.GradientTransformation] = None, progress: bool = True) -> TrainResult:
  """Trains word vectors on an encoded corpus.

  Args:
    corpus: from `jw2v.load_corpus` / `jw2v.encode`.
    vocab: the vocabulary `corpus` was encoded with.
    config: hyperparameters.
    params: initial params to continue from; default `init_params` with `config.seed`.
    optimizer: reference path only: any optax GradientTransformation (default: `config.optimizer`, whose
      learning rate follows `learning_rate_schedule`; a transformation given here uses its own schedule).
    progress: show a progress bar (epoch, words/s, running loss).

  Returns:
    TrainResult: numpy params and the history
    `{'epochs': [{'epoch', 'loss', 'seconds', 'words_per_sec', 'examples'}], 'compile_seconds': ...}`;
    `loss` is the mean loss per example (per pair for skip-gram, per centre for CBOW), `seconds` counts
    training only, and `words_per_sec` is the corpus's raw words divided by it.
  """
  key = jax.random.key(config.seed)
  init_key, neg_key = jax.random.split(key)
  if params is None:
    params = init_params(init_key, len(vocab), config.dim)
  if config.update_path == 'reference':
    optimizer = optimizer or make_optimizer(config)
  state = init_state(config, params, key=neg_key, optimizer=optimizer)
  cdf_V = jnp.asarray(noise_cdf(vocab.counts, config.ns_exponent))
  keep_V = keep_probabilities(vocab.counts, config.sample)
  multi_step = make_multi_step(make_step(config, optimizer), learning_rate_schedule(config))

  t0 = time.perf_counter()
  dummy = _dummy_chunk(config)
  multi_step = multi_step.lower(state, dummy.batch, dummy.progress_S, 0, cdf_V).compile()
  history = {'epochs': [], 'compile_seconds': time.perf_counter() - t0}

  corpus_words = len(corpus.ids)
  bar = tqdm(total=corpus_words * config.epochs, unit='word', unit_scale=True, disable=not progress,
             dynamic_ncols=True, smoothing=0.1)
  for epoch in range(config.epochs):
    bar.set_description(f'epoch {epoch + 1}/{config.epochs}')
    rng = np.random.default_rng((config.seed, epoch))
    blocks = batches_lib.epoch_examples(corpus, keep_V, config.model, config.window, config.shrink_windows, rng)
    chunks = batches_lib.chunks(blocks, config.model, config.batch_size, config.steps_per_call, epoch,
                                config.epochs, corpus_words)
    start = time.perf_counter()
    losses, examples, in_flight = [], 0, None
    for chunk in chunks:
      n_steps = int(chunk.active_S.sum())
      state, loss_S = multi_step(state, chunk.batch, chunk.progress_S, n_steps, cdf_V)
      examples += int(chunk.batch.weight_B.sum())
      if in_flight is not None:  # wait for the previous chunk only, so that one is always queued
        _report(bar, losses, *in_flight)
      in_flight = (loss_S, chunk.words, examples)
    if in_flight is not None:
      _report(bar, losses, *in_flight)
    seconds = time.perf_counter() - start
    loss = float(np.sum(losses)) / max(examples, 1)
    if not math.isfinite(loss):
      bar.close()
      raise FloatingPointError(f'loss became {loss} in epoch {epoch + 1}; try a lower learning rate (alpha)')
    history['epochs'].append({'epoch': epoch + 1, 'loss': loss, 'seconds': seconds,
                              'words_per_sec': corpus.raw_words / seconds, 'examples': examples})
  bar.close()
  params = jax.tree.map(np.asarray, params_of(state))
  return TrainResult(params, history)


def _report(bar, losses, loss_S, words, examples_so_far):
  losses.append(float(jnp.sum(loss_S)))  # blocks until that chunk is done
  bar.update(words)
  bar.set_postfix(loss=f'{sum(losses) / max(examples_so_far, 1):.4f}', refresh=False)


def _dummy_chunk(config: Config) -> batches_lib.Chunk:
  """A chunk of the run's shapes, for compiling ahead of the first epoch."""
  if config.model == 'skipgram':
    ex = {'center': np.zeros(1, np.int32), 'context': np.zeros(1, np.int32)}
  else:
    ex = {'contexts': np.zeros((1, 2 * config.window), np.int32), 'mask': np.zeros((1, 2 * config.window)),
          'center': np.zeros(1, np.int32)}
  ex['position'] = np.zeros(1, np.int64)
  return batches_lib._make_chunk(ex, config.model, config.batch_size, config.steps_per_call, 0, 1, 1, 0)
