"""Training: state, the two update paths, several steps per dispatch, and the epoch loop.

- Reference path (`reference_step`): `jax.grad` of the pure loss w.r.t. the whole params pytree, then any
  optax optimizer. The gradient is a dense (V, H) array, so each step costs O(V*H).
- Sparse path (`sparse_step`): SGD. The same loss is differentiated w.r.t. the gathered rows only, and
  the row gradients are added back with `.at[idx].add` on donated tables: O(B*K*H), independent of V.
  W_out is kept transposed, (V, H), so that an output vector is a contiguous row; `params` converts back.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jw2v import batches as batches_lib
from jw2v.batches import SkipgramBatch
from jw2v.config import Config
from jw2v.corpus import Corpus
from jw2v.model import cbow_loss, embedding, init_params, negative_sampling_loss, skipgram_loss
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


def _target(batch):
  return batch.context_B if isinstance(batch, SkipgramBatch) else batch.center_B


def model_loss(params: dict, batch, negatives_BxK: jax.Array) -> jax.Array:
  """The model's summed loss on a SkipgramBatch or CbowBatch."""
  if isinstance(batch, SkipgramBatch):
    return skipgram_loss(params, batch.center_B, batch.context_B, negatives_BxK, batch.weight_B)
  return cbow_loss(params, batch.contexts_BxC, batch.mask_BxC, batch.center_B, negatives_BxK, batch.weight_B)


def reference_step(state: TrainState, batch, negatives_BxK: jax.Array, lr: jax.Array, *,
                   optimizer: optax.GradientTransformation) -> tuple[TrainState, jax.Array]:
  """One step of the reference path: dense `jax.grad` of the whole pytree, then the optax update.

  Args:
    state: TrainState.
    batch: SkipgramBatch or CbowBatch (one batch, no steps axis).
    negatives_BxK: the step's negatives.
    lr: learning rate, written into the optimizer's injected hyperparameters when it has them.
    optimizer: the optax transformation that made `state.opt_state`.

  Returns:
    The new state and the batch loss.
  """
  loss, grads = jax.value_and_grad(model_loss)(state.params, batch, negatives_BxK)
  opt_state = state.opt_state
  if 'learning_rate' in getattr(opt_state, 'hyperparams', {}):  # made by optax.inject_hyperparams
    opt_state.hyperparams['learning_rate'] = lr
  updates, opt_state = optimizer.update(grads, opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return TrainState(params, opt_state, state.key, state.step + 1), loss


def sparse_step(state: SparseState, batch, negatives_BxK: jax.Array, lr: jax.Array, *,
                cbow_full_error: bool = True) -> tuple[SparseState, jax.Array]:
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

  Returns:
    The new state and the batch loss.
  """
  skipgram = isinstance(batch, SkipgramBatch)
  target_B = _target(batch)
  neg_mask_BxK = (negatives_BxK != target_B[:, None]).astype(jnp.float32)

  if skipgram:
    h_BxH = embedding(state.W_in, batch.center_B)
  else:
    rows_BxCxH = embedding(state.W_in, batch.contexts_BxC)
    count_Bx1 = jnp.maximum(jnp.sum(batch.mask_BxC, axis=-1, keepdims=True), 1.0)
    h_BxH = jnp.einsum('bch,bc->bh', rows_BxCxH, batch.mask_BxC) / count_Bx1
  pos_BxH = embedding(state.W_out_T, target_B)
  neg_BxKxH = embedding(state.W_out_T, negatives_BxK)

  def loss_of_rows(h_BxH, pos_BxH, neg_BxKxH):
    return negative_sampling_loss(jnp.sum(h_BxH * pos_BxH, axis=-1), jnp.einsum('bh,bkh->bk', h_BxH, neg_BxKxH),
                                  neg_mask_BxK, batch.weight_B)

  # The cotangent -lr makes the backward pass produce the updates themselves: XLA fuses the scale into the
  # gradient computation instead of making another pass over the rows (which cost a third of a CPU step).
  loss, backward = jax.vjp(loss_of_rows, h_BxH, pos_BxH, neg_BxKxH)
  upd_h_BxH, upd_pos_BxH, upd_neg_BxKxH = backward(-jnp.asarray(lr, loss.dtype))
  out_idx = jnp.concatenate([target_B, negatives_BxK.reshape(-1)])
  out_rows = jnp.concatenate([upd_pos_BxH, upd_neg_BxKxH.reshape(-1, upd_neg_BxKxH.shape[-1])])
  W_out_T = state.W_out_T.at[out_idx].add(out_rows)
  if skipgram:
    W_in = state.W_in.at[batch.center_B].add(upd_h_BxH)
  else:
    share_BxC = batch.mask_BxC if cbow_full_error else batch.mask_BxC / count_Bx1
    W_in = state.W_in.at[batch.contexts_BxC].add(share_BxC[:, :, None] * upd_h_BxH[:, None, :])
  return SparseState(W_in, W_out_T, state.key, state.step + 1), loss


def make_step(config: Config, optimizer: Optional[optax.GradientTransformation] = None) -> Callable:
  """`step(state, batch, negatives_BxK, lr) -> (state, loss)` for the config's update path."""
  if config.update_path == 'sparse':
    return functools.partial(sparse_step, cbow_full_error=config.cbow_full_error)
  return functools.partial(reference_step, optimizer=optimizer or make_optimizer(config))


def make_multi_step(step: Callable, schedule: optax.Schedule, *, negative: int, batch_size: int,
                    steps: int, search_steps: Optional[int] = None) -> Callable:
  """Jits up to `steps` consecutive steps over a block's examples into one dispatch, on a donated state.

  The negatives of all the dispatch's steps are drawn up front, vectorised (`batches.step_negatives`: step
  t still uses fold_in(key, t)), so the random-number and binary-search loops run once per dispatch instead
  of once per step; on a CPU their per-step cost was a large part of a step.

  Args:
    step: `step(state, batch, negatives_BxK, lr) -> (state, loss)`, e.g. from `make_step`.
    schedule: learning rate as a function of progress (0..1).
    negative: negatives per example.
    batch_size: examples per step.
    steps: the most steps one dispatch runs.
    search_steps: when the noise passed is a `batches.Noise`, the steps its guide table needs.

  Returns:
    `multi_step(state, examples, first, n, progress0, progress_per_token, noise) -> (state, loss_S)`: runs
    batches first..first+n-1 (n <= steps, a dynamic trip count) of `examples`; the progress of a step is
    progress0 + progress_per_token * (block position of its first centre). loss_S holds each step's loss.
  """
  @functools.partial(jax.jit, donate_argnums=(0,))
  def multi_step(state, examples, first, n, progress0, progress_per_token, noise):
    negatives_SxBxK = batches_lib.step_negatives(state.key, state.step + jnp.arange(steps), noise,
                                                 (batch_size, negative), search_steps)

    def body(i, carry):
      state, loss_S = carry
      batch = batches_lib.batch_at(examples, first + i, batch_size)
      progress = progress0 + progress_per_token * examples.offset_P[(first + i) * batch_size]
      state, loss = step(state, batch, negatives_SxBxK[i], schedule(progress))
      return state, loss_S.at[i].set(loss)
    return jax.lax.fori_loop(0, n, body, (state, jnp.zeros(steps, jnp.float32)))
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
  """The loss became infinite or NaN; nothing after the last good checkpoint was saved."""


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
    DivergenceError: the loss stopped being finite (the state is discarded; no checkpoint is written).
    TrainingStopped: `should_stop` returned True.
  """
  entered = time.perf_counter()
  key = jax.random.key(config.seed)
  init_key, neg_key, data_key = jax.random.split(key, 3)
  if params is None:
    params = init_params(init_key, len(vocab), config.dim)
  if config.update_path == 'reference':
    optimizer = optimizer or make_optimizer(config)
  state = init_state(config, params, key=neg_key, optimizer=optimizer)
  if resume is not None:
    state = jax.device_put(resume.state)
  noise, search_steps = batches_lib.noise(vocab.counts, config.ns_exponent)
  keep_V = jnp.asarray(keep_probabilities(vocab.counts, config.sample), jnp.float32)
  B, S = config.batch_size, config.steps_per_call
  T = batches_lib.block_size(corpus, config.block_tokens)
  make_examples = jax.jit(functools.partial(
      batches_lib.make_examples, model=config.model, window=config.window, shrink_windows=config.shrink_windows,
      buffer_size=batches_lib.example_buffer_size(T, config.model, config.window, B)))
  multi_step = make_multi_step(make_step(config, optimizer), learning_rate_schedule(config),
                               negative=config.negative, batch_size=B, steps=S, search_steps=search_steps)
  corpus_words = len(corpus.ids)
  total_words = corpus_words * config.epochs
  here = resume or Checkpoint(None, 0, 0, 0, 0.0, 0, 0.0, [])

  def blocks():  # a background thread cuts the blocks and copies them to the device, ahead of use
    for epoch in range(here.epoch, config.epochs):
      for b, (block_start, block) in enumerate(batches_lib.corpus_blocks(corpus, T)):
        if (epoch, b) >= (here.epoch, here.block):
          yield epoch, b, jax.device_put(block), block_start, int(block.n)

  t0 = time.perf_counter()
  with contextlib.closing(batches_lib.prefetch(blocks())) as feed:  # stops the feed's thread however we leave
    first_block = next(feed, None)
    history = {'epochs': list(here.history), 'setup_seconds': t0 - entered}
    if first_block is None:  # a checkpoint taken after the last epoch
      return TrainResult(jax.tree.map(np.asarray, params_of(state)), {**history, 'compile_seconds': 0.0,
                                                                      'finish_seconds': 0.0})
    examples_shape = jax.eval_shape(make_examples, first_block[2], keep_V, data_key)
    options = compiler_options(config.deterministic)
    make_examples = make_examples.lower(first_block[2], keep_V, data_key).compile(options)
    multi_step = multi_step.lower(state, examples_shape, 0, 0, 0.0, 0.0, noise).compile(options)
    history['compile_seconds'] = time.perf_counter() - t0

    bar = tqdm(total=total_words, unit='word', unit_scale=True, disable=not progress, dynamic_ncols=True,
               smoothing=0.1, initial=here.epoch * corpus_words + first_block[3])
    now = {'epoch': here.epoch, 'loss': here.epoch_loss, 'examples': here.epoch_examples,
           'seconds': here.epoch_seconds, 'since': time.perf_counter(), 'saved': time.perf_counter()}
    in_flight = []  # dispatches whose losses are not read yet: (loss_S, n_steps, examples, words, first step)

    def read_losses(keep_last: int):
      """Adds the losses of all but the newest `keep_last` dispatches (waiting for them) to the epoch."""
      while len(in_flight) > keep_last:
        loss_S, n, examples, words, first_step = in_flight.pop(0)
        losses = np.asarray(loss_S)[:n]  # a copy: waits for that dispatch only
        if not np.all(np.isfinite(losses)):
          bad = first_step + int(np.argmin(np.isfinite(losses)))
          raise diverged(f'the loss became {losses[~np.isfinite(losses)][0]} at step {bad}')
        now['loss'] += float(losses.sum())
        now['examples'] += examples
        bar.update(words)
        bar.set_postfix(loss=f'{now["loss"] / max(now["examples"], 1):.4f}', refresh=False)

    def diverged(what):
      bar.close()
      return DivergenceError(f'{what} (epoch {last_epoch + 1}); try a lower learning rate (alpha, now '
                             f'{config.learning_rate}) or a smaller batch size (now {B})')

    def host_state():
      """The state on the host, checked: a step can turn the tables to NaN before any loss shows it."""
      host = jax.device_get(state)
      if not all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(params_of(host))):
        raise diverged(f'the vectors stopped being finite at or before step {global_step - 1}')
      return host

    def snapshot(epoch, block, step) -> Checkpoint:
      read_losses(0)
      seconds = now['seconds'] + time.perf_counter() - now['since']
      return Checkpoint(host_state(), epoch, block, step, now['loss'], now['examples'], seconds,
                        list(history['epochs']))

    def save(epoch, block, step):
      if checkpoint is not None:
        checkpoint(snapshot(epoch, block, step))
      now['saved'] = time.perf_counter()

    def finish_epoch():
      read_losses(0)
      seconds = now['seconds'] + time.perf_counter() - now['since']
      history['epochs'].append({'epoch': now['epoch'] + 1, 'loss': now['loss'] / max(now['examples'], 1),
                                'seconds': seconds, 'words_per_sec': corpus.raw_words / seconds,
                                'examples': now['examples']})
      now.update(epoch=now['epoch'] + 1, loss=0.0, examples=0, seconds=0.0, since=time.perf_counter())
      save(now['epoch'], 0, 0)

    global_step, last_epoch = int(state.step), here.epoch
    for epoch, b, block, block_start, n_tokens in itertools.chain([first_block], feed):
      if epoch != now['epoch']:
        finish_epoch()
      bar.set_description(f'epoch {epoch + 1}/{config.epochs}')
      examples = make_examples(block, keep_V, jax.random.fold_in(jax.random.fold_in(data_key, epoch), b))
      count = int(examples.count)  # waits for the work queued before it
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
        in_flight.append((loss_S, done - first, max(min(done * B, count) - first * B, 0), words, global_step))
        global_step += done - first
        last_epoch = epoch
        read_losses(1)  # the previous dispatch's: the device always has one queued
        if should_stop is not None and should_stop():
          snap = snapshot(epoch, b, done)
          if checkpoint is not None:
            checkpoint(snap)
          bar.close()
          raise TrainingStopped(snap)
        if checkpoint_every is not None and time.perf_counter() - now['saved'] >= checkpoint_every:
          save(epoch, b, done)
    finish_epoch()
    bar.close()
    finishing = time.perf_counter()
    params = jax.tree.map(np.asarray, params_of(host_state()))
    history['finish_seconds'] = time.perf_counter() - finishing
    return TrainResult(params, history)


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
