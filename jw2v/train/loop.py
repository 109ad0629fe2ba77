"""The training loop: `train` sets a run up, compiles its programs, then runs one flat loop over the feed.

A `LossBook` keeps the running epoch's losses (read from the devices one dispatch late, so that the
device always has one queued) and checks each dispatch for a loss that is not finite or ran away;
checkpoints and stops are plain functions of the loop's position.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import time
from typing import Callable, Iterator, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jw2v import batches, collector, devices
from jw2v.config import Config
from jw2v.corpus import Corpus
from jw2v.errors import ConfigError
from jw2v.train import feed as feed_lib
from jw2v.train.dispatch import compiler_options, make_multi_step, make_sweep_step
from jw2v.train.state import (Checkpoint, host_state, initial_state, learning_rate_schedule, make_optimizer, place,
                              run_keys)
from jw2v.train.steps import make_step
from jw2v.vocab import Vocab, huffman_tree


class TrainResult(NamedTuple):
  """What `train` returns: params {'W_in': (V, H), 'W_out': (H, V)} as numpy arrays, and the history."""
  params: dict
  history: dict


class TrainingStopped(Exception):
  """`should_stop` asked for a stop; `checkpoint` holds the run's state at the stop."""

  def __init__(self, checkpoint: Checkpoint):
    super().__init__(f'training stopped in epoch {checkpoint.epoch + 1}')
    self.checkpoint = checkpoint


class DivergenceError(FloatingPointError):
  """The loss became infinite or NaN, or ran away (`RUNAWAY` times that of untrained vectors); nothing
  after the last good checkpoint was saved."""


# A dispatch whose loss per example passes this many times that of untrained vectors stops the run: the
# steps' summed updates overshoot and feed on themselves (a normal run's loss only falls below it).
RUNAWAY = 3.0


def untrained_loss(config: Config, hs_depth: int = 0) -> float:
  """The most a training example's loss can be with untrained vectors: every score is 0 (W_out and W_hs
  start at zero), so each of its positives and negatives costs log 2, and so does each inner node of its
  target's path (at most `hs_depth`, with hs); a centre with shared negatives has up to 2 * window pairs.
  Resolved configs only."""
  pairs = 2 * config.window if config.centre_negatives else 1
  return pairs * ((1 + config.negative if config.negative else 0) + (hs_depth if config.hs else 0)) * math.log(2)


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


def divergence(what: str, epoch: int, config: Config) -> DivergenceError:
  """The error for a run that diverged in `epoch` (0-based), with the remedies."""
  shared = ', or per-pair negatives (centre_negatives=0)' if config.centre_negatives else ''
  return DivergenceError(f'{what} (epoch {epoch + 1}); try a lower learning rate (alpha, now '
                         f'{config.learning_rate}) or a smaller batch size (now {config.batch_size}){shared}')


def _bad_losses(losses_RxS: np.ndarray, examples_S: np.ndarray, first_step: int, untrained: float,
                sweep: bool) -> Optional[str]:
  """What is wrong with a dispatch's losses (not finite, or ran away), or None."""
  of_sweep = lambda model: f' (model {model} of the sweep)' if sweep else ''
  if not np.all(np.isfinite(losses_RxS)):
    model, bad = np.argwhere(~np.isfinite(losses_RxS))[0]
    return f'the loss became {losses_RxS[model, bad]} at step {first_step + bad}' + of_sweep(model)
  runaway = runaway_step(losses_RxS, examples_S, RUNAWAY * untrained)
  if runaway is None:
    return None
  model, bad, per_example = runaway
  return (f'the loss rose to {per_example:.4g} per example at step {first_step + bad}, '
          f'{per_example / untrained:.3g}x the loss of untrained vectors ({untrained:.3g})' + of_sweep(model))


class _Dispatch(NamedTuple):
  """A dispatch whose losses are not read yet."""
  loss_S: jax.Array
  examples_S: np.ndarray   # real examples of each step
  words: int               # corpus tokens it counts for on the progress bar
  first_step: int
  epoch: int


class LossBook:
  """The running epoch's loss totals (per model), its finished epochs, and the dispatches not read yet."""

  def __init__(self, config: Config, models: int, resume: Checkpoint, bar, untrained: float, show: bool = False):
    self.config, self.models, self.bar, self.untrained, self.show = config, models, bar, untrained, show
    self.epochs_R = [list(resume.history) for _ in range(models)]
    self.epoch, self.loss_R, self.examples = resume.epoch, np.full(models, resume.epoch_loss), resume.epoch_examples
    self.seconds, self.since = resume.epoch_seconds, time.perf_counter()
    self.pending, self.last_epoch = [], resume.epoch

  def add(self, dispatch: _Dispatch) -> None:
    self.pending.append(dispatch)
    self.last_epoch = dispatch.epoch

  def read(self, keep_last: int = 0) -> None:
    """Adds the losses of all but the newest `keep_last` dispatches to the epoch, waiting for them.

    Raises:
      DivergenceError: a loss is not finite, or ran away.
    """
    while len(self.pending) > keep_last:
      d = self.pending.pop(0)
      losses_RxS = devices.host(d.loss_S).reshape(self.models, -1)[:, :len(d.examples_S)]  # waits for d only
      bad = _bad_losses(losses_RxS, d.examples_S, d.first_step, self.untrained, self.models > 1)
      if bad is not None:
        raise divergence(bad, d.epoch, self.config)
      self.loss_R += losses_RxS.sum(axis=1)
      self.examples += int(d.examples_S.sum())
      self.bar.update(d.words)
      self.bar.set_postfix(loss=' '.join(f'{x:.4f}' for x in self.loss_R / max(self.examples, 1)), refresh=False)

  def epoch_seconds(self) -> float:
    return self.seconds + time.perf_counter() - self.since

  def end_epoch(self, raw_words: int) -> None:
    """Records the finished epoch (after reading every loss) and starts the next."""
    self.read()
    seconds = self.epoch_seconds()
    for r in range(self.models):
      self.epochs_R[r].append({'epoch': self.epoch + 1, 'loss': float(self.loss_R[r]) / max(self.examples, 1),
                               'seconds': seconds, 'words_per_sec': raw_words / seconds, 'examples': self.examples})
    self.epoch, self.loss_R, self.examples = self.epoch + 1, np.zeros(self.models), 0
    self.seconds, self.since = 0.0, time.perf_counter()
    if self.show:  # above the bar on a terminal, and the only output elsewhere
      tqdm.write(self.epoch_line(), file=sys.stderr)

  def epoch_line(self) -> str:
    """The line that reports the last finished epoch: epoch, loss (per model), words/s, time so far."""
    last = [epochs[-1] for epochs in self.epochs_R]
    elapsed = sum(e['seconds'] for e in self.epochs_R[0])
    losses = ' '.join(f'{e["loss"]:.4f}' for e in last)
    return (f'epoch {last[0]["epoch"]}/{self.config.epochs}: loss {losses}, {last[0]["words_per_sec"]:,.0f} words/s, '
            f'{elapsed:.1f}s elapsed')


class _Run(NamedTuple):
  """A run's fixed parts, once it is set up."""
  configs: list
  layout: devices.Layout
  noise: batches.Noise
  feed: feed_lib.Feed
  multi_step: Callable        # uncompiled
  extra: tuple                # the dispatch's last arguments: a sweep's (rates_Rx2,), or (HuffmanTree,) with hs
  untrained: float            # the loss per example of untrained vectors
  here: Checkpoint            # where the run starts (a fresh run: the start)
  vocab_size: int

  @property
  def config(self) -> Config:
    return self.configs[0]


def _checked_host_state(state, run: _Run, step: int, epoch: int):
  """The state on the host, checked: a step can turn the tables to NaN before any loss shows it."""
  host = host_state(state, run.vocab_size, run.config.dim)
  if not all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(host.as_params())):
    raise divergence(f'the vectors stopped being finite at or before step {step - 1}', epoch, run.config)
  return host


def snapshot(state, run: _Run, book: LossBook, position: tuple[int, int, int], step: int) -> Checkpoint:
  """A checkpoint at (epoch, block, step in block) `position`, `step` the global step."""
  book.read()
  return Checkpoint(_checked_host_state(state, run, step, book.last_epoch), *position, float(book.loss_R[0]),
                    book.examples, book.epoch_seconds(), list(book.epochs_R[0]))


def _check_params(params: dict, vocab_size: int, dim: int) -> None:
  """Raises a one-line ConfigError unless params are {'W_in': (V, H), 'W_out': (H, V)} of this run."""
  shapes = {k: tuple(getattr(params.get(k), 'shape', ())) for k in ('W_in', 'W_out')}
  if shapes != {'W_in': (vocab_size, dim), 'W_out': (dim, vocab_size)}:
    raise ConfigError(f'params of shapes W_in {shapes["W_in"]}, W_out {shapes["W_out"]} do not fit a vocabulary '
                      f'of {vocab_size} words at dim {dim} (W_in {(vocab_size, dim)}, W_out {(dim, vocab_size)}); '
                      'for a grown vocabulary, extend them first (jw2v.extend_params)', field='params')


def _setup(corpus: Corpus, vocab: Vocab, configs: list, params, optimizer, resume, models_per_step):
  """The run's fixed parts and its initial state, placed on the devices.

  Raises:
    ConfigError: a batch that the devices cannot share, or params that do not fit the vocabulary.
  """
  configs = [c.resolved(jax.default_backend()) for c in configs]
  config, sweep = configs[0], len(configs) > 1
  if params is not None:
    _check_params(params, len(vocab), config.dim)
  layout = devices.make_layout(len(vocab), 1 if sweep else config.devices, config.shard_tables,
                               config.local_updates)
  if config.batch_size % layout.devices:
    raise ConfigError(f'the batch size ({config.batch_size}) must be a multiple of the number of devices '
                      f'({layout.devices})', field='batch_size')
  if config.update_path == 'reference':
    optimizer = optimizer or make_optimizer(config)
  if resume is None:
    state, data_key = initial_state(configs, len(vocab), layout, optimizer, params)
  else:
    state, data_key = place(resume.state.padded(layout.rows), layout), run_keys(config.seed)[2]
  noise = batches.noise(vocab.counts, config.ns_exponent, rare_from=config.pool_rare_from)
  noise = jax.tree.map(lambda x: devices.put(x, layout.replicated()), noise)
  step = make_step(config, optimizer, layout if layout.devices > 1 and not config.local_updates else None)
  shape = dict(negative=config.negatives_per_example, batch_size=config.batch_size, steps=config.steps_per_call,
               pool=config.negative_pool)
  tree = huffman_tree(vocab.counts, config.hs_tree) if config.hs else None
  if sweep:
    multi_step = make_sweep_step(step, stacked=config.update_path == 'sparse', group=models_per_step, **shape)
    extra = (jnp.array([[s(0.0), s(1.0)] for s in map(learning_rate_schedule, configs)], jnp.float32),)
  else:
    spread = layout if layout.devices > 1 else None
    multi_step = make_multi_step(step, learning_rate_schedule(config), layout=spread, merge=config.local_updates,
                                 merge_every=config.merge_every, **shape)
    extra = () if tree is None else (jax.tree.map(lambda x: devices.put(x, layout.replicated()), tree),)
  here = resume or Checkpoint(None, 0, 0, 0, 0.0, 0, 0.0, [])
  feed = feed_lib.make_feed(corpus, vocab.counts, config, layout, data_key)
  untrained = untrained_loss(config, 0 if tree is None else int(tree.depth_V.max()))
  return _Run(configs, layout, noise, feed, multi_step, extra, untrained, here, len(vocab)), state


def _steps_of_block(run: _Run, fed: feed_lib.Fed, make_examples) -> tuple:
  """A block's examples on the devices, how many there are, and its number of steps."""
  if fed.count is None:
    examples = make_examples(fed.data, run.feed.keep_V, run.feed.data_key, fed.epoch, fed.block)
    count = int(devices.host(examples.count))  # waits for the work queued before it
  else:
    examples, count = fed.data, fed.count
  return examples, count, -(-count // run.config.batch_size)


def _dispatches(run: _Run, fed: feed_lib.Fed, n_steps: int) -> range:
  """The first steps of the dispatches over a block: from the checkpoint's step in the block it was taken
  in, else from 0 (a block of no steps still gets one dispatch, of no steps)."""
  start = min(run.here.step, n_steps) if (fed.epoch, fed.block) == (run.here.epoch, run.here.block) else 0
  return range(start, n_steps, run.config.steps_per_call) if start < n_steps else range(start, start + 1)


class Hooks(NamedTuple):
  """What the caller of `train` hears from the loop, and how it stops it."""
  checkpoint: Optional[Callable[[Checkpoint], None]] = None
  checkpoint_every: Optional[float] = None
  should_stop: Optional[Callable[[], bool]] = None
  callbacks: tuple = ()


def _epoch_begins(hooks: Hooks, epoch: int) -> None:
  for callback in hooks.callbacks:
    if hasattr(callback, 'on_epoch_begin'):
      callback.on_epoch_begin(epoch)


def _epoch_ended(hooks: Hooks, state, run: _Run, book: LossBook, step: int) -> bool:
  """Tells the callbacks of the epoch just finished; whether one of them asks to stop."""
  listeners = [c for c in hooks.callbacks if hasattr(c, 'on_epoch_end')]
  if not listeners:
    return False
  params = _checked_host_state(state, run, step, book.last_epoch).as_params()
  record = book.epochs_R[0][-1]
  return any([bool(c.on_epoch_end(record['epoch'] - 1, record['loss'], params)) for c in listeners])


def _loop(run: _Run, state, first: feed_lib.Fed, feed: Iterator, multi_step, make_examples, book: LossBook,
          hooks: Hooks):
  """Trains on every block of the feed; returns the final state and step."""
  config, corpus_words = run.config, len(run.feed.corpus.ids)
  total_words = corpus_words * config.epochs
  step, saved = int(devices.host(state.step).reshape(-1)[0]), time.perf_counter()
  if first.block == 0 and run.here.step == 0:
    _epoch_begins(hooks, first.epoch)
  for fed in itertools.chain([first], feed):
    if fed.epoch != book.epoch:
      book.end_epoch(run.feed.corpus.raw_words)
      saved = _save(hooks.checkpoint, state, run, book, (book.epoch, 0, 0), step)
      if _epoch_ended(hooks, state, run, book, step):
        _stop(hooks.checkpoint, snapshot(state, run, book, (book.epoch, 0, 0), step))
      _epoch_begins(hooks, fed.epoch)
    book.bar.set_description(f'epoch {fed.epoch + 1}/{config.epochs}')
    examples, count, n_steps = _steps_of_block(run, fed, make_examples)
    progress0 = (fed.epoch * corpus_words + fed.start) / total_words
    starts = _dispatches(run, fed, n_steps)
    if starts.start:
      book.bar.update(fed.tokens * starts.start // n_steps)  # done before the checkpoint
    for lo in starts:
      hi = min(lo + config.steps_per_call, n_steps)
      state, loss_S = multi_step(state, examples, lo, hi - lo, progress0, 1.0 / total_words, run.noise)
      # The bar counts the block's tokens in proportion to the steps run.
      words = fed.tokens * hi // n_steps - fed.tokens * lo // n_steps if n_steps else fed.tokens
      book.add(_Dispatch(loss_S, batches.batch_counts(count, config.batch_size, lo, hi - lo), words, step, fed.epoch))
      step += hi - lo
      book.read(keep_last=1)
      stop = hooks.should_stop is not None and hooks.should_stop()
      due = hooks.checkpoint_every is not None and time.perf_counter() - saved >= hooks.checkpoint_every
      stop, due = devices.agree(stop, due)  # every process of a run stops and saves at the same step
      if stop:
        _stop(hooks.checkpoint, snapshot(state, run, book, (fed.epoch, fed.block, hi), step))
      if due:
        saved = _save(hooks.checkpoint, state, run, book, (fed.epoch, fed.block, hi), step)
  book.end_epoch(run.feed.corpus.raw_words)
  _save(hooks.checkpoint, state, run, book, (book.epoch, 0, 0), step)
  _epoch_ended(hooks, state, run, book, step)  # the run is over: a request to stop changes nothing
  return state, step


def _save(checkpoint, state, run: _Run, book: LossBook, position: tuple, step: int) -> float:
  """Hands a checkpoint at `position` to `checkpoint` (if any); returns the time it was taken."""
  if checkpoint is not None:
    checkpoint(snapshot(state, run, book, position, step))
  return time.perf_counter()


def _stop(checkpoint, snap: Checkpoint):
  if checkpoint is not None:
    checkpoint(snap)
  raise TrainingStopped(snap)


def _compile(run: _Run, state, feed: Iterator):
  """Compiles the run's programs and takes the feed's first block: (multi_step, make_examples, first block).

  The steps are compiled while the feed's thread makes the first block; the program that makes a block's
  examples on the devices, once that block is there (None when the host makes them, or there is no block).
  """
  options = compiler_options(run.config.deterministic)
  compiled = run.multi_step.lower(state, feed_lib.examples_shape(run.feed), 0, 0, 0.0, 0.0, run.noise,
                                  *run.extra).compile(options)
  first = next(feed, None)
  make_examples = None
  if first is not None and first.count is None:
    make_examples = feed_lib.examples_program(run.feed, first, options)
  return (lambda *args: compiled(*args, *run.extra)), make_examples, first


def _results(state, run: _Run, book: LossBook, history: dict, step: int) -> list[TrainResult]:
  """The trained params and history of each model."""
  finishing = time.perf_counter()
  params = _checked_host_state(state, run, step, book.last_epoch).as_params()
  history['finish_seconds'] = time.perf_counter() - finishing
  if len(run.configs) == 1:
    return [TrainResult(params, {'epochs': book.epochs_R[0], **history})]
  return [TrainResult(jax.tree.map(lambda x: x[r], params), {'epochs': book.epochs_R[r], **history})
          for r in range(len(run.configs))]


def _live_display() -> bool:
  """Whether a progress bar can redraw itself: stderr is a terminal, or this is a notebook (tqdm.auto
  draws a widget there); elsewhere (a file, a pipe) it would be one long line of carriage returns."""
  return sys.stderr.isatty() or 'ipykernel' in sys.modules


def train_models(corpus: Corpus, vocab: Vocab, configs: Sequence[Config], *, params: Optional[dict] = None,
                 optimizer: Optional[optax.GradientTransformation] = None, progress: bool = True,
                 resume: Optional[Checkpoint] = None, checkpoint: Optional[Callable[[Checkpoint], None]] = None,
                 checkpoint_every: Optional[float] = None, should_stop: Optional[Callable[[], bool]] = None,
                 callbacks: Sequence = (), models_per_step: Optional[int] = None) -> list[TrainResult]:
  """`train` for one config, or R configs (`train_many`: one step for all, on one device).

  Python's garbage collector is paused until the programs are compiled: tracing makes many objects and no
  cyclic garbage, and the collections they would set off take time.
  """
  entered = time.perf_counter()
  with collector.paused() as resume_collector:
    run, state = _setup(corpus, vocab, list(configs), params, optimizer, resume, models_per_step)
    history = {'setup_seconds': time.perf_counter() - entered,
               'table_bytes_per_device': devices.bytes_per_device(state.tables())}
    t0 = time.perf_counter()
    start = (run.here.epoch, run.here.block)
    with contextlib.closing(feed_lib.prefetch(feed_lib.blocks(run.feed, run.config.epochs, start))) as feed:
      multi_step, make_examples, first = _compile(run, state, feed)
      history['compile_seconds'] = time.perf_counter() - t0
      resume_collector()
      if first is None:  # a checkpoint taken after the last epoch
        host = host_state(state, run.vocab_size, run.config.dim)
        return [TrainResult(host.as_params(), {'epochs': list(run.here.history), **history, 'finish_seconds': 0.0})]
      corpus_words = len(corpus.ids)
      show = progress and jax.process_index() == 0
      with tqdm(total=corpus_words * run.config.epochs, unit='word', unit_scale=True, dynamic_ncols=True,
                disable=not (show and _live_display()), smoothing=0.1,
                initial=run.here.epoch * corpus_words + first.start) as bar:
        book = LossBook(run.config, len(run.configs), run.here, bar, run.untrained, show)
        hooks = Hooks(checkpoint, checkpoint_every, should_stop, tuple(callbacks))
        state, step = _loop(run, state, first, feed, multi_step, make_examples, book, hooks)
  return _results(state, run, book, history, step)


def train(corpus: Corpus, vocab: Vocab, config: Config, *, params: Optional[dict] = None,
          optimizer: Optional[optax.GradientTransformation] = None, progress: bool = True,
          resume: Optional[Checkpoint] = None, checkpoint: Optional[Callable[[Checkpoint], None]] = None,
          checkpoint_every: Optional[float] = None, should_stop: Optional[Callable[[], bool]] = None,
          callbacks: Sequence = ()) -> TrainResult:
  """Trains word vectors on an encoded corpus.

  Args:
    corpus: from `jw2v.load_corpus` or `jw2v.open_prepared`.
    vocab: the vocabulary `corpus` was encoded with.
    config: hyperparameters.
    params: initial params to continue from; default `init_params` with `config.seed`.
    optimizer: reference path only: any optax GradientTransformation (default: `config.optimizer`, whose
      learning rate follows `learning_rate_schedule`; a transformation given here uses its own schedule).
    progress: show a progress bar (words/s, running loss) on a terminal or in a notebook, and a line per
      finished epoch (epoch, loss, words/s, time so far) on stderr, which is all that a file or a pipe gets.
    resume: continue from this checkpoint (the same corpus and config): the result is the same as that of
      the run that was stopped, had it not been.
    checkpoint: called with a Checkpoint at the end of every epoch, every `checkpoint_every` seconds, and
      when training stops early.
    checkpoint_every: seconds between periodic checkpoints (None: only at epoch ends).
    should_stop: polled between dispatches; when it returns True, training checkpoints and raises
      TrainingStopped.
    callbacks: objects with any of `on_epoch_begin(epoch)` and `on_epoch_end(epoch, loss, params)` (epoch
      0-based; loss the epoch's mean loss per example; params the current numpy params, as `train`
      returns them), e.g. to record or evaluate each epoch (gensim's `CallbackAny2Vec`). An
      `on_epoch_end` that returns True stops the run there: a checkpoint, then TrainingStopped.

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
  return train_models(corpus, vocab, [config], params=params, optimizer=optimizer, progress=progress,
                      resume=resume, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                      should_stop=should_stop, callbacks=callbacks)[0]
