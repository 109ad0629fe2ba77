"""A whole training job as a library function: what `jw2v train` does, for Python users too.

`train_job` checks everything it can before writing anything, prepares the corpus into the output
directory (or opens one that `jw2v prepare` wrote), records the run so that it can be resumed, trains with
checkpoints, stops cleanly on SIGINT or SIGTERM (checkpoint saved, `JobStopped` raised), and writes the
vectors; `resume_job` continues a stopped run exactly. In a multi-process run every process calls it;
process 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import jax
import numpy as np

from jw2v import devices
from jw2v.atomic import atomic_write
from jw2v.checkpoint import restore_checkpoint, save_checkpoint
from jw2v.config import Config
from jw2v.corpus import Prepared, is_prepared, open_prepared, prepare_corpus, resolve_corpus
from jw2v.errors import ConfigError, DataError, Jw2vError
from jw2v.model import extend_params
from jw2v.run_dir import (CHECKPOINT, TRAINING, Run, checkpoint_path, finish_run, load_run, prepare_output,
                          read_run_start, remove_temporaries, save_run, start_run)
from jw2v.train import DivergenceError, TrainingStopped, memory_estimate, size_text, train, train_many

VOCAB_FIELDS = ('min_count', 'max_vocab_size', 'max_sentence_length', 'max_final_vocab')


class JobStopped(Exception):
  """A signal (or another process of the run) stopped training; the checkpoint is saved."""

  def __init__(self, out: Path, epoch: int, signum: Optional[int]):
    self.why = signal.Signals(signum).name if signum else 'another process of the run was stopped'
    super().__init__(f'{self.why}: stopped in epoch {epoch + 1}, checkpoint saved in {checkpoint_path(out)}')
    self.out, self.epoch, self.signum = out, epoch, signum


def _stderr(*args) -> None:
  print(*args, file=sys.stderr)


def sweep_configs(config: Config, *, replicas: Optional[int] = None, seeds: Optional[Sequence[int]] = None,
                  alphas: Optional[Sequence[float]] = None) -> list[tuple[str, Config]]:
  """The named configs of a sweep: `replicas` seeds from config.seed on, or the given `seeds`, each with every
  one of `alphas` (default config's alpha); [] when none of them is given.

  Raises:
    ConfigError: both replicas and seeds, replicas < 1, or the same model twice.
  """
  if replicas is None and seeds is None and alphas is None:
    return []
  if replicas is not None and seeds is not None:
    raise ConfigError('give replicas or seeds, not both', field='replicas')
  if replicas is not None and replicas < 1:
    raise ConfigError(f'replicas must be >= 1, got {replicas}', field='replicas')
  seeds = seeds or [config.seed + i for i in range(replicas or 1)]
  configs = [dataclasses.replace(config, seed=seed, alpha=alpha) for seed in seeds for alpha in alphas or [config.alpha]]
  names = [f'seed{c.seed}-alpha{c.learning_rate:g}' for c in configs]
  if len(set(names)) < len(names):
    raise ConfigError('the sweep names the same model twice (repeated seeds or alphas)')
  return list(zip(names, configs))


def after_lead(work: Optional[Callable]):
  """Runs `work` on process 0 (pass it there, None elsewhere) while the other processes wait for it.

  Returns what `work` returned (None on the other processes). A failure on process 0 stops every process:
  process 0 raises its own error, the others one that points to it.
  """
  result, error = None, None
  if work is not None:
    try:
      result = work()
    except (Jw2vError, OSError) as e:
      if jax.process_count() == 1:
        raise
      error = e
  if devices.agree(error is not None)[0]:
    if error is not None:
      raise error
    raise DataError('process 0 could not set up the run (see its error)')
  return result


def fingerprint(prepared: Prepared) -> dict:
  """What identifies a prepared corpus for a checkpoint: its sizes and vocabulary size."""
  return {k: prepared.info[k] for k in ('raw_words', 'tokens', 'sentences', 'vocab_size')}


def _prepare_text(corpus: str, out: Path, corpus_dir: Path, config: Config, force: bool, log,
                  base: Optional[Run] = None) -> Prepared:
  """Process 0's part of a run on text: the output directory, then the text prepared into corpus_dir (its
  vocabulary grown from `base`'s, when continuing a run)."""
  prepare_output(out, force=force)
  path = resolve_corpus(corpus)
  start = time.perf_counter()
  prepared = prepare_corpus(path, corpus_dir, config.min_count, config.max_vocab_size, config.max_sentence_length,
                            max_final_vocab=config.max_final_vocab, base_vocab=base and base.vocab)
  log(f'{path}: {prepared.info["sentences"]} sentences, {prepared.info["raw_words"]} words, vocabulary '
      f'{len(prepared.vocab)} (min_count={config.min_count}) in {time.perf_counter() - start:.1f}s')
  return prepared


def _open_corpus(corpus: str, out: Path, config: Config, settings: dict, force: bool, lead: bool, log,
                 base: Optional[Run] = None):
  """The run's prepared corpus, its config (a prepared corpus's vocabulary settings filled in) and directory.

  Raises:
    ConfigError: settings that contradict how a prepared corpus was prepared, or a prepared corpus to
      continue a run on (its vocabulary is its own).
  """
  if not is_prepared(corpus):  # process 0 prepares the text into the run's corpus; the others then open it there
    corpus_dir = out / TRAINING / 'corpus'
    work = (lambda: _prepare_text(corpus, out, corpus_dir, config, force, log, base)) if lead else None
    return after_lead(work) or open_prepared(corpus_dir), config, corpus_dir
  if base is not None:
    raise ConfigError(f'{corpus} is a prepared corpus, with a vocabulary of its own; continuing a run (init_from) '
                      'needs the new text itself', field='init_from')
  prepared = open_prepared(corpus)
  clash = [k for k in VOCAB_FIELDS if k in settings and settings[k] != prepared.info.get(k)]
  if clash:
    raise ConfigError(f'{corpus} was prepared with {", ".join(f"{k}={prepared.info.get(k)}" for k in clash)}; '
                      'prepare it again to change the vocabulary')
  after_lead((lambda: prepare_output(out, force=force)) if lead else None)
  return prepared, dataclasses.replace(config, **{k: prepared.info.get(k) for k in VOCAB_FIELDS}), Path(corpus)


def _resumed(out: Path, settings: dict, corpus: Optional[str]):
  """A stopped run's config, prepared corpus, checkpoint and source.

  Raises:
    ConfigError: settings or a corpus that differ from the run's.
    DataError: no run or no checkpoint to resume, or a checkpoint of another run.
  """
  config, corpus_dir, source = read_run_start(out)
  clash = [k for k, v in settings.items() if getattr(config, k) != v]
  if clash or (corpus and corpus != source):
    what = ', '.join(f'{k} {settings[k]} (the run has {getattr(config, k)})' for k in clash) or (
        f'corpus {corpus} (the run has {source})')
    raise ConfigError(f'{what}: a resumed run continues as it was configured; start a new run to change it',
                      field=clash[0] if clash else None)
  prepared = open_prepared(corpus_dir)
  checkpoint = checkpoint_path(out)
  if not checkpoint.is_file():
    raise DataError(f'{out} has no {TRAINING}/{CHECKPOINT} to resume from (it stopped before its first '
                    'checkpoint); start the run again')
  resume, meta = restore_checkpoint(checkpoint, config, len(prepared.vocab))
  if meta.get('config') != dataclasses.asdict(config) or meta.get('corpus') != fingerprint(prepared):
    raise DataError(f'{checkpoint} belongs to another run (its config or corpus differ from {out})')
  return config, prepared, resume, source


class _Signals:
  """While entered, SIGINT and SIGTERM ask training to stop (the second one of a kind acts as usual)."""

  def __init__(self):
    self.received, self.previous = [], {}

  def __enter__(self) -> '_Signals':
    self.previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    return self

  def __exit__(self, *exc) -> None:
    for sig, handler in self.previous.items():
      signal.signal(sig, handler)

  def _on_signal(self, signum, frame) -> None:
    self.received.append(signum)
    signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

  def __call__(self) -> bool:
    return bool(self.received)


def _train_run(out: Path, prepared: Prepared, config: Config, source: str, resume, checkpoint_every: float,
               progress: bool, log, params: Optional[dict] = None) -> dict:
  """Trains one model with checkpoints into out and writes its outputs (process 0); returns the history."""
  lead = jax.process_index() == 0
  if lead:
    remove_temporaries(out / TRAINING)
  layout = devices.make_layout(len(prepared.vocab), config.devices, config.shard_tables,
                               config.local_updates)
  log(f'{layout.devices} {jax.devices()[0].platform} device(s) in {jax.process_count()} process(es), tables '
      f'{"sharded by rows" if layout.shard_tables else "replicated"}; '
      f'{memory_estimate(len(prepared.vocab), config, layout).describe()}')
  if config.centre_negatives:
    log(f'skip-gram with {config.centre_negatives} negatives per centre word shared by its pairs, '
        f'{config.batch_size} centres per step (centre_negatives=0: word2vec.c\'s per-pair negatives)')
  meta = {'config': dataclasses.asdict(config), 'corpus': fingerprint(prepared)}
  save = (lambda c: save_checkpoint(checkpoint_path(out), c, meta)) if lead else None
  with _Signals() as signals:
    try:
      result = train(prepared.corpus, prepared.vocab, config, params=params, progress=progress, resume=resume,
                     checkpoint=save, checkpoint_every=checkpoint_every, should_stop=signals)
    except TrainingStopped as stopped:
      raise JobStopped(out, stopped.checkpoint.epoch, signals.received[0] if signals.received else None) from None
    except DivergenceError as e:
      checkpoint = checkpoint_path(out)
      kept = f'the last good checkpoint is {checkpoint}' if checkpoint.exists() else 'no checkpoint was written'
      raise DivergenceError(f'{e}; {kept}') from None
  history = dict(result.history, corpus=source, vocab_size=len(prepared.vocab), raw_words=prepared.corpus.raw_words,
                 devices=layout.devices, processes=jax.process_count())
  if lead:
    _commit_outputs(out, result.params, prepared.vocab, config, history)
  seconds = sum(e['seconds'] for e in history['epochs'])
  log(f'trained {config.model} in {seconds:.1f}s ({prepared.corpus.raw_words * config.epochs / seconds:,.0f} '
      f'words/s), final loss {history["epochs"][-1]["loss"]:.4f}; wrote {out}')
  return history


def _commit_outputs(out: Path, params: dict, vocab, config: Config, history: dict) -> None:
  """The finished run's outputs, into `.training/` and then moved into `out` together.

  Raises:
    DataError: a write failed; `out` still holds the previous run whole, and the run can be resumed.
  """
  try:
    save_run(out / TRAINING, params, vocab, config, history)
  except OSError as e:
    resumable = (f'; this run\'s last checkpoint is in {out / TRAINING}: resume it once there is room (jw2v train '
                 f'--resume {out})') if checkpoint_path(out).exists() else ''
    failed = out / Path(e.filename).name if e.filename else out  # the file it was for, not its staging copy
    raise DataError(f'{failed}: {e.strerror or e}; {out} still holds the previous run, '
                    f'unchanged{resumable}') from None
  finish_run(out)


def _train_sweep(out: Path, models: list, prepared: Prepared, source: str, progress: bool, log) -> list[dict]:
  """Trains the sweep's models together (`train_many`), writes each to out/NAME, and out/sweep.json."""
  configs = [config for _, config in models]
  one = memory_estimate(len(prepared.vocab), configs[0], devices.make_layout(len(prepared.vocab), 1))
  log(f'training {len(configs)} models at once on one device: {", ".join(name for name, _ in models)}; memory '
      f'(estimate) {len(configs)} x {size_text(one.tables + one.optimizer + one.gradients)} of tables and '
      f'optimizer state, examples {size_text(one.examples)}')
  results = train_many(prepared.corpus, prepared.vocab, configs, progress=progress)
  summary, histories = [], []
  for (name, config), result in zip(models, results):
    history = dict(result.history, corpus=source, vocab_size=len(prepared.vocab),
                   raw_words=prepared.corpus.raw_words, sweep=len(models))
    _commit_outputs(out / name, result.params, prepared.vocab, config, history)
    summary.append({'name': name, 'seed': config.seed, 'alpha': config.learning_rate,
                    'loss': history['epochs'][-1]['loss']})
    histories.append(history)
  with atomic_write(out / TRAINING / 'sweep.json', 'w', encoding='utf-8') as f:
    json.dump({'corpus': source, 'models': summary}, f, indent=2)
    f.write('\n')
  finish_run(out)
  seconds = sum(e['seconds'] for e in results[0].history['epochs'])
  log(f'trained {len(models)} {configs[0].model} models in {seconds:.1f}s; wrote {out}/sweep.json and '
      f'{", ".join(name for name, _ in models)}')
  return histories


def _check_checkpoint_every(checkpoint_every: float) -> None:
  if not checkpoint_every > 0:
    raise ConfigError(f'checkpoint_every must be > 0 seconds, got {checkpoint_every}', field='checkpoint_every')


def _continued(init_from, settings: dict) -> tuple[Run, Config]:
  """The run to continue and the new run's config: the old run's, with `settings` changed (not its dim)."""
  base = load_run(init_from)
  if settings.get('dim', base.config.dim) != base.config.dim:
    raise ConfigError(f'dim {settings["dim"]}: the run continued from {init_from} has dim {base.config.dim}',
                      field='dim')
  return base, dataclasses.replace(base.config, **settings)


def _grown_params(base: Run, vocab_size: int, config: Config) -> dict:
  """The old run's params with rows for the new words (`model.extend_params`), drawn from the seed."""
  key = jax.random.fold_in(jax.random.key(config.seed), len(base.vocab))
  return jax.tree.map(np.asarray, extend_params(base.params, vocab_size, key=key, scale=config.init_scale))


def train_job(corpus: str, out, *, force: bool = False, checkpoint_every: float = 300.0, progress: bool = True,
              replicas: Optional[int] = None, seeds: Optional[Sequence[int]] = None,
              alphas: Optional[Sequence[float]] = None, init_from=None, log: Callable = _stderr,
              **settings) -> list[dict]:
  """Trains word vectors on a corpus into an output directory, as `jw2v train CORPUS --out OUT` does.

  Args:
    corpus: a text file, a directory of them, .gz/.bz2 files, a directory written by `prepare_corpus`, or a
      dataset name (`corpus.resolve_corpus`).
    out: the output directory: vectors.txt, vectors.bin, params.npz, vocab.txt, config.json, history.json,
      run.json, checkpoint.npz and corpus/ (a sweep: one directory per model, and sweep.json). The run
      trains in out/.training/ and moves its outputs into `out` when all are written (`run_dir`).
    force: replace vectors already in `out`.
    checkpoint_every: seconds between checkpoints, besides one at each epoch end.
    progress: show a progress bar.
    replicas: train this many models, seeds seed..seed + replicas - 1 (a sweep, `sweep_configs`).
    seeds: train one model per seed (a sweep).
    alphas: train one model per starting learning rate (a sweep; with seeds or replicas, every pair).
    init_from: continue the run saved in this directory on the new text `corpus` (gensim's
      `build_vocab(update=True)` then `train`): its config (with `settings` changed), its vocabulary grown
      by the text (`vocab.extend_vocab`) and its trained vectors, new words' rows drawn afresh.
    log: where the messages about the run go (default: standard error).
    **settings: Config fields; the others keep their defaults.

  Returns:
    The history of each model trained.

  Raises:
    Jw2vError: impossible settings, an unusable corpus, or an output directory that holds vectors (before
      anything is written).
    JobStopped: a signal stopped the run (resume it with `resume_job`).
    DivergenceError: training diverged (the last good checkpoint is kept).
  """
  _check_checkpoint_every(checkpoint_every)
  out, lead = Path(out), jax.process_index() == 0
  base, config = _continued(init_from, settings) if init_from is not None else (None, Config(**settings))
  config = config.resolved(jax.default_backend())  # config.json records the values used
  models = sweep_configs(config, replicas=replicas, seeds=seeds, alphas=alphas)
  if models and base is not None:
    raise ConfigError('a sweep cannot continue a run; give init_from or a sweep, not both', field='init_from')
  if models and jax.process_count() > 1:
    raise ConfigError('a sweep trains on one device; run it in one process', field='replicas')
  for name, _ in models:  # before anything is written
    prepare_output(out / name, force=force)
  prepared, config, corpus_dir = _open_corpus(corpus, out, config, settings, force, lead, log, base)
  if prepared.info['invalid_bytes']:
    log(f'jw2v: warning: {corpus}: {prepared.info["invalid_bytes"]} byte(s) of invalid UTF-8 read as U+FFFD')
  if models:
    return _train_sweep(out, models, prepared, str(corpus), progress, log)
  if lead:
    start_run(out, config, corpus_dir, str(corpus))
  params = _grown_params(base, len(prepared.vocab), config) if base is not None else None
  if base is not None:
    log(f'continuing {init_from}: {len(base.vocab)} words trained, {len(prepared.vocab) - len(base.vocab)} new')
  return [_train_run(out, prepared, config, str(corpus), None, checkpoint_every, progress, log, params)]


def resume_job(out, *, corpus: Optional[str] = None, checkpoint_every: float = 300.0, progress: bool = True,
               log: Callable = _stderr, **settings) -> dict:
  """Continues a run that `train_job` started and a signal stopped, from its checkpoint, as
  `jw2v train --resume OUT` does; the result is that of the run had it not been stopped.

  Args:
    out: the run's output directory.
    corpus: optional; if given, it must be the run's own (a check, not a change).
    checkpoint_every: as for `train_job`.
    progress: as for `train_job`.
    log: as for `train_job`.
    **settings: optional Config fields; if given, they must be the run's own.

  Returns:
    The run's history.

  Raises:
    Jw2vError: no run or checkpoint to resume, or settings that differ from the run's.
    JobStopped, DivergenceError: as for `train_job`.
  """
  _check_checkpoint_every(checkpoint_every)
  out = Path(out)
  config, prepared, resume, source = _resumed(out, settings, corpus)
  log(f'resuming {out} at epoch {resume.epoch + 1}, block {resume.block + 1}, step {resume.step}')
  return _train_run(out, prepared, config, source, resume, checkpoint_every, progress, log)
