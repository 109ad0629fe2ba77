"""The `jw2v` command: train, prepare, similar, analogy, eval, export, plot."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from jw2v.errors import Jw2vError, exit_status

_TRAIN_OPTIONS = (  # (flag, Config field, type, help)
    ('--model', 'model', str, 'cbow or skipgram (default cbow, as word2vec.c)'),
    ('--dim', 'dim', int, 'vector size (default 100)'),
    ('--window', 'window', int, 'maximum context window on each side (default 5)'),
    ('--negative', 'negative', int, 'negatives per positive example (default 5)'),
    ('--min-count', 'min_count', int, 'ignore words seen fewer times (default 5)'),
    ('--max-vocab-size', 'max_vocab_size', int, 'keep at most this many of the most frequent words'),
    ('--sample', 'sample', float, 'subsampling threshold; 0 disables (default 1e-3)'),
    ('--ns-exponent', 'ns_exponent', float, 'power of the counts in the noise distribution (default 0.75)'),
    ('--epochs', 'epochs', int, 'passes over the corpus (default 5)'),
    ('--alpha', 'alpha', float, 'starting learning rate (default 0.025 for sgd, 0.001 otherwise)'),
    ('--min-alpha', 'min_alpha', float, 'final learning rate of the linear decay (sgd; default 0.0001)'),
    ('--centre-negatives', 'centre_negatives', int, 'skip-gram, opt-in, not word2vec\'s algorithm: draw N '
                                                    'negatives per centre word, shared by its pairs (about 2x '
                                                    'faster on a CPU, but 0.5-2.1 points lower on analogies on '
                                                    '4 of the 6 corpora of the README\'s quality matrix); '
                                                    'default 0: per pair, as word2vec.c'),
    ('--negative-pool', 'negative_pool', int, 'draw the negatives that fall on rare words through a pool of N '
                                              'rare words per step (a power of two; same distribution, fewer '
                                              'rows fetched from memory; default 512 on a CPU, 0 (off) on a GPU)'),
    ('--negative-pool-from', 'negative_pool_from', int, 'the frequency rank from which words count as rare for '
                                                        '--negative-pool (default 16384)'),
    ('--batch-size', 'batch_size', int, 'examples per step: pairs, or centres for cbow and with shared '
                                        'negatives (default 1024; with shared negatives as many centres as '
                                        'hold about 1024 pairs, 128 at window 5; more on a GPU, e.g. 8192)'),
    ('--block-tokens', 'block_tokens', int, 'corpus tokens whose examples are made at once (default 262144; '
                                            'more on a GPU, e.g. 4194304)'),
    ('--optimizer', 'optimizer', str, 'sgd (sparse fast path, default) or adam/adagrad/rmsprop/adamw '
                                      '(dense reference path: jax.grad + optax)'),
    ('--init-scale', 'init_scale', float, 'initial vectors uniform in [-S/dim, S/dim): 1.0 as gensim 4 '
                                          '(default), 0.5 as word2vec.c'),
    ('--examples-on', 'examples_on', str, 'host or device: where training examples are made (default: host '
                                          'when training on one CPU device, where it is faster; same results)'),
    ('--seed', 'seed', int, 'random seed (default 1)'),
    ('--devices', 'devices', int, 'train on the first N devices (default: all; across processes in a '
                                  'multi-process run)'),
)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='jw2v', description='word2vec in JAX: train and query word vectors.')
  sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

  train = sub.add_parser('train', help='train word vectors on a corpus, or resume an interrupted run',
                         description='Train word vectors. CORPUS: a UTF-8 text file (one sentence per line), a '
                                     'directory of them, .gz/.bz2 files, a directory written by "jw2v prepare", '
                                     'or a dataset name (ptb, ptb:valid, ptb:test) found under $JW2V_DATA_DIR '
                                     'or downloaded into the cache. Checkpoints go to DIR/checkpoint.npz; '
                                     '"jw2v train --resume DIR" continues an interrupted run.')
  train.add_argument('corpus', metavar='CORPUS', nargs='?')
  train.add_argument('--out', metavar='DIR', help='output directory')
  train.add_argument('--resume', metavar='DIR', help='continue the interrupted run in DIR (its corpus and config)')
  train.add_argument('--checkpoint-every', type=float, default=300.0, metavar='SECONDS',
                     help='seconds between checkpoints, besides one at each epoch end (default 300)')
  for flag, field, kind, help_text in _TRAIN_OPTIONS:
    train.add_argument(flag, dest=field, type=kind, default=None, help=help_text)
  train.add_argument('--no-shrink-windows', dest='shrink_windows', action='store_false', default=None,
                     help='always use the full window (the book) instead of word2vec.c\'s random shrinking')
  train.add_argument('--deterministic', action='store_true', default=None,
                     help='bit-for-bit repeatable results on a GPU (slower there; a CPU run always is)')
  train.add_argument('--shard-tables', dest='shard_tables', action='store_true', default=None,
                     help='split both tables by rows across the devices (for vocabularies that outgrow one)')
  sweep = train.add_argument_group('many models at once (one vmapped step; each model written to DIR/NAME)')
  sweep.add_argument('--replicas', type=int, metavar='M', help='train M models, seeds SEED..SEED+M-1')
  sweep.add_argument('--seeds', type=_number_list(int), metavar='S1,S2,...', help='one model per seed')
  sweep.add_argument('--alphas', type=_number_list(float), metavar='A1,A2,...',
                     help='one model per starting learning rate (with --seeds or --replicas: every pair)')
  group = train.add_argument_group('multi-process runs (one process per host; see the README)')
  group.add_argument('--coordinator', metavar='HOST:PORT', default=os.environ.get('JAX_COORDINATOR_ADDRESS'),
                     help='address of process 0 (default $JAX_COORDINATOR_ADDRESS)')
  group.add_argument('--num-processes', type=int, metavar='N', default=_env_int('JAX_NUM_PROCESSES'),
                     help='number of processes (default $JAX_NUM_PROCESSES)')
  group.add_argument('--process-id', type=int, metavar='I', default=_env_int('JAX_PROCESS_ID'),
                     help='this process, 0..N-1; process 0 writes the outputs (default $JAX_PROCESS_ID)')
  group.add_argument('--join-timeout', type=int, default=300, metavar='SECONDS',
                     help='how long processes wait for the coordinator (default 300)')
  group.add_argument('--distributed', action='store_true',
                     help='join a multi-process run configured by the cluster (TPU pod, SLURM, ...)')
  train.add_argument('--force', action='store_true', help='replace vectors already in DIR')
  train.add_argument('--quiet', action='store_true', help='no progress bar')
  train.set_defaults(func=_train)

  prep = sub.add_parser('prepare', help='count and encode a corpus once, in bounded memory, for train',
                        description='Two streaming passes over CORPUS (a file, a directory of files, .gz/.bz2 '
                                    'files, or a dataset name) write DIR/ids.npy, offsets.npy, vocab.txt and '
                                    'corpus.json; "jw2v train DIR ..." then trains on it without reading the '
                                    'text again.')
  prep.add_argument('corpus', metavar='CORPUS')
  prep.add_argument('--out', required=True, metavar='DIR')
  prep.add_argument('--min-count', type=int, default=5, help='ignore words seen fewer times (default 5)')
  prep.add_argument('--max-vocab-size', type=int, default=None, help='keep at most this many words')
  prep.add_argument('--max-sentence-length', type=int, default=10_000, help='cut longer lines (default 10000)')
  prep.add_argument('--force', action='store_true', help='replace a prepared corpus already in DIR')
  prep.set_defaults(func=_prepare)

  for name, help_text in (('similar', 'words most similar to WORD'), ('analogy', 'b - a + c: "a is to b as c is to ?"')):
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
    if name == 'similar':
      p.add_argument('word', metavar='WORD')
    else:
      p.add_argument('words', nargs=3, metavar=('A', 'B', 'C'))
    p.add_argument('-n', '--topn', type=int, default=10, help='how many results (default 10)')
    p.set_defaults(func=_similar if name == 'similar' else _analogy)

  ev = sub.add_parser('eval', help='score vectors on WordSim-353, SimLex-999 and the Google analogies',
                      description='Score vectors as gensim does, on the sets that ship with gensim (or others '
                                  'in the same formats).')
  ev.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ev.add_argument('--pairs', nargs='+', metavar='FILE', help='word-pair files (default: WordSim-353, SimLex-999)')
  ev.add_argument('--analogies', metavar='FILE', help='analogy file (default: Google analogies)')
  ev.add_argument('--restrict-vocab', type=int, default=300_000, help='use only the N most frequent words')
  ev.add_argument('--case-sensitive', action='store_true', help='do not fold case (gensim folds by default)')
  ev.add_argument('--json', metavar='PATH', help='also write the results as JSON')
  ev.set_defaults(func=_eval)

  ex = sub.add_parser('export', help='write vectors as word2vec text/binary or for the TensorBoard projector')
  ex.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ex.add_argument('out', metavar='OUT', help='output file (text, binary) or directory (projector)')
  ex.add_argument('--format', choices=('text', 'binary', 'projector'), default='projector')
  ex.set_defaults(func=_export)

  pl = sub.add_parser('plot', help='PNG plots: a PCA projection of chosen words and the loss curve',
                      description='Writes words.png (2-D PCA of --words) and, for a training output '
                                  'directory, loss.png (mean loss per epoch).')
  pl.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  pl.add_argument('--words', nargs='+', default=(), metavar='WORD', help='words to project')
  pl.add_argument('--out-dir', metavar='DIR', help='where the PNGs go (default: VECTORS if a directory)')
  pl.set_defaults(func=_plot)
  return parser


_VOCAB_FIELDS = ('min_count', 'max_vocab_size', 'max_sentence_length')


def _number_list(kind):
  def parse(text: str) -> list:
    try:
      values = [kind(v) for v in text.split(',') if v.strip()]
    except ValueError:
      raise argparse.ArgumentTypeError(f'expected comma-separated numbers, got {text!r}') from None
    if not values:
      raise argparse.ArgumentTypeError('expected at least one number')
    return values
  return parse


def _sweep(args, config) -> list:
  """The configs of a sweep (--replicas, --seeds, --alphas), or [] for a single run."""
  from jw2v.errors import ConfigError
  if args.replicas is None and args.seeds is None and args.alphas is None:
    return []
  if args.replicas is not None and args.seeds is not None:
    raise ConfigError('give --replicas or --seeds, not both')
  if args.replicas is not None and args.replicas < 1:
    raise ConfigError(f'--replicas must be >= 1, got {args.replicas}')
  if args.resume:
    raise ConfigError('a sweep cannot be resumed; start it again')
  seeds = args.seeds or [config.seed + i for i in range(args.replicas or 1)]
  alphas = args.alphas or [config.alpha]
  configs = [dataclasses.replace(config, seed=seed, alpha=alpha) for seed in seeds for alpha in alphas]
  names = [f'seed{c.seed}-alpha{c.learning_rate:g}' for c in configs]
  if len(set(names)) < len(names):
    raise ConfigError('the sweep names the same model twice (repeated seeds or alphas)')
  return list(zip(names, configs))


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name)
  return int(value) if value and value.strip().lstrip('-').isdigit() else None


def _join_processes(args) -> None:
  """Calls `jax.distributed.initialize` when the arguments (or environment) ask for a multi-process run."""
  from jw2v.errors import ConfigError
  from jw2v.mesh import initialize_distributed
  given = (args.coordinator, args.num_processes, args.process_id)
  if not args.distributed and all(v is None for v in given):
    return
  if not args.distributed:
    if any(v is None for v in given):
      raise ConfigError('a multi-process run needs --coordinator HOST:PORT, --num-processes N and --process-id I '
                        '(or --distributed on a cluster JAX recognises)')
  initialize_distributed(*given, timeout=args.join_timeout)


def _train(args) -> int:
  from jw2v.checkpoint import restore_checkpoint, save_checkpoint
  from jw2v.config import Config
  from jw2v.corpus import cache_dir, is_prepared, open_prepared, prepare_corpus, resolve_corpus
  from jw2v.errors import ConfigError, DataError
  from jw2v.run_dir import (CHECKPOINT, prepare_output, read_run_start, remove_temporaries, save_run,
                            start_run)
  from jw2v.train import DivergenceError, TrainingStopped, train
  _join_processes(args)  # before anything else touches the devices
  import jax
  from jw2v import mesh
  lead = jax.process_index() == 0  # the process that writes; all of them train
  _use_compilation_cache(cache_dir() / 'xla')
  say = (lambda *a: None) if args.quiet or not lead else (lambda *a: print(*a, file=sys.stderr))
  given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name, None) is not None}
  if not args.checkpoint_every > 0:
    raise ConfigError(f'--checkpoint-every must be > 0 seconds, got {args.checkpoint_every}')

  resume, models = None, []
  if args.resume:  # every process reads the run and its checkpoint (from a filesystem they share)
    if args.out and args.out != args.resume:
      raise ConfigError('--resume DIR writes into DIR; leave out --out')
    _sweep(args, None)  # refuses a sweep
    out = Path(args.resume)
    config, corpus_dir, source = read_run_start(out)
    clash = [f'--{k.replace("_", "-")} {v} (the run has {getattr(config, k)})' for k, v in given.items()
             if getattr(config, k) != v]
    if clash or (args.corpus and args.corpus != source):
      what = ', '.join(clash) or f'corpus {args.corpus} (the run has {source})'
      raise ConfigError(f'{what}: --resume continues the run as it was configured; start a new run to change it')
    prepared = open_prepared(corpus_dir)
    if not (out / CHECKPOINT).is_file():
      raise DataError(f'{out} has no {CHECKPOINT} to resume from (it stopped before its first checkpoint); '
                      'start the run again')
    resume, meta = restore_checkpoint(out / CHECKPOINT, config, len(prepared.vocab))
    if meta.get('config') != dataclasses.asdict(config) or meta.get('corpus') != _fingerprint(prepared):
      raise DataError(f'{out / CHECKPOINT} belongs to another run (its config or corpus differ from {out})')
    say(f'resuming {out} at epoch {resume.epoch + 1}, block {resume.block + 1}, step {resume.step}')
  else:
    if not args.corpus or not args.out:
      raise ConfigError('train needs CORPUS and --out DIR (or --resume DIR)')
    # refuses impossible settings before anything is written; config.json records the values used
    config = Config(**given).resolved(jax.default_backend())
    models = _sweep(args, config)
    if models and jax.process_count() > 1:
      raise ConfigError('a sweep trains on one device; run it without --coordinator/--distributed')
    out = Path(args.out)
    for name, _ in models:  # before anything is written
      prepare_output(out / name, force=args.force)
    if is_prepared(args.corpus):
      prepared = open_prepared(args.corpus)
      clash = [k for k in _VOCAB_FIELDS if k in given and given[k] != prepared.info[k]]
      if clash:
        raise ConfigError(f'{args.corpus} was prepared with {", ".join(f"{k}={prepared.info[k]}" for k in clash)}; '
                          'prepare it again to change the vocabulary')
      config = dataclasses.replace(config, **{k: prepared.info[k] for k in _VOCAB_FIELDS})
      source, corpus_dir = str(args.corpus), Path(args.corpus)
      _after_lead((lambda: prepare_output(out, force=args.force)) if lead else None)
    else:  # process 0 prepares the text into DIR/corpus; the others then open it there
      source, corpus_dir = args.corpus, out / 'corpus'

      def prepare():
        prepare_output(out, force=args.force)
        path = resolve_corpus(args.corpus)
        start = time.perf_counter()
        prepared = prepare_corpus(path, corpus_dir, config.min_count, config.max_vocab_size,
                                  config.max_sentence_length)
        say(f'{path}: {prepared.info["sentences"]} sentences, {prepared.info["raw_words"]} words, vocabulary '
            f'{len(prepared.vocab)} (min_count={config.min_count}) in {time.perf_counter() - start:.1f}s')
        return prepared
      prepared = _after_lead(prepare if lead else None) or open_prepared(corpus_dir)
    if prepared.info['invalid_bytes']:
      say(f'jw2v: warning: {source}: {prepared.info["invalid_bytes"]} byte(s) of invalid UTF-8 read as U+FFFD')
    if models:
      return _train_sweep(args, out, models, prepared, source, say)
    if lead:
      (out / CHECKPOINT).unlink(missing_ok=True)  # a previous run's (with --force)
      start_run(out, config, corpus_dir, source)
  if lead:
    remove_temporaries(out)
  layout = mesh.make_layout(len(prepared.vocab), config.devices, config.shard_tables)
  say(f'{layout.devices} {jax.devices()[0].platform} device(s) in {jax.process_count()} process(es), tables '
      f'{"sharded by rows" if layout.shard_tables else "replicated"}; '
      f'{mesh.memory_estimate(len(prepared.vocab), config, layout).describe()}')
  if config.centre_negatives:
    say(f'skip-gram with {config.centre_negatives} negatives per centre word shared by its pairs, '
        f'{config.batch_size} centres per step (--centre-negatives 0: word2vec.c\'s per-pair negatives)')

  meta = {'config': dataclasses.asdict(config), 'corpus': _fingerprint(prepared)}
  received = []

  def on_signal(signum, frame):
    received.append(signum)
    signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

  previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
  try:
    result = train(prepared.corpus, prepared.vocab, config, progress=not args.quiet, resume=resume,
                   checkpoint=(lambda c: save_checkpoint(out / CHECKPOINT, c, meta)) if lead else None,
                   checkpoint_every=args.checkpoint_every, should_stop=lambda: bool(received))
  except TrainingStopped as stopped:
    signum = received[0] if received else signal.SIGTERM
    why = signal.Signals(signum).name if received else 'another process of the run was stopped'
    print(f'jw2v: {why}: stopped in epoch {stopped.checkpoint.epoch + 1}, checkpoint saved; resume with: '
          f'jw2v train --resume {out}', file=sys.stderr)
    return 128 + signum
  except DivergenceError as e:
    kept = 'the last good checkpoint is ' + str(out / CHECKPOINT) if (out / CHECKPOINT).exists() else 'no checkpoint was written'
    print(f'jw2v: error: {e}; {kept}', file=sys.stderr)
    return 1
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  history = dict(result.history, corpus=source, vocab_size=len(prepared.vocab), raw_words=prepared.corpus.raw_words,
                 devices=layout.devices, processes=jax.process_count())
  if lead:
    save_run(out, result.params, prepared.vocab, config, history)
  seconds = sum(e['seconds'] for e in history['epochs'])
  say(f'trained {config.model} in {seconds:.1f}s ({prepared.corpus.raw_words * config.epochs / seconds:,.0f} '
      f'words/s), final loss {history["epochs"][-1]["loss"]:.4f}; wrote {out}')
  return 0


def _train_sweep(args, out: Path, models: list, prepared, source: str, say) -> int:
  """Trains the sweep's models together (`train_many`) and writes each to out/NAME, and out/sweep.json."""
  import json
  from jw2v.atomic import atomic_write
  from jw2v.run_dir import save_run
  from jw2v.train import train_many
  configs = [config for _, config in models]
  from jw2v import mesh
  one = mesh.memory_estimate(len(prepared.vocab), configs[0], mesh.make_layout(len(prepared.vocab), 1))
  say(f'training {len(configs)} models at once on one device: {", ".join(name for name, _ in models)}; memory '
      f'(estimate) {len(configs)} x {mesh.size_text(one.tables + one.optimizer + one.gradients)} of tables and '
      f'optimizer state, examples {mesh.size_text(one.examples)}')
  results = train_many(prepared.corpus, prepared.vocab, configs, progress=not args.quiet)
  summary = []
  for (name, config), result in zip(models, results):
    history = dict(result.history, corpus=source, vocab_size=len(prepared.vocab),
                   raw_words=prepared.corpus.raw_words, sweep=len(models))
    save_run(out / name, result.params, prepared.vocab, config, history)
    summary.append({'name': name, 'seed': config.seed, 'alpha': config.learning_rate,
                    'loss': history['epochs'][-1]['loss']})
  with atomic_write(out / 'sweep.json', 'w', encoding='utf-8') as f:
    json.dump({'corpus': source, 'models': summary}, f, indent=2)
    f.write('\n')
  seconds = sum(e['seconds'] for e in results[0].history['epochs'])
  say(f'trained {len(models)} {configs[0].model} models in {seconds:.1f}s; wrote {out}/sweep.json and '
      f'{", ".join(name for name, _ in models)}')
  return 0


def _after_lead(work):
  """Runs `work` on process 0 (pass it there, None elsewhere) while the other processes wait for it.

  Returns what `work` returned (None on the other processes). A failure on process 0 stops every process:
  process 0 raises its own error, the others one that points to it.
  """
  import jax
  from jw2v.errors import DataError
  from jw2v.mesh import agree
  result, error = None, None
  if work is not None:
    try:
      result = work()
    except (Jw2vError, OSError) as e:
      if jax.process_count() == 1:
        raise
      error = e
  if agree(error is not None)[0]:
    if error is not None:
      raise error
    raise DataError('process 0 could not set up the run (see its error)')
  return result


def _fingerprint(prepared) -> dict:
  """What identifies a prepared corpus for a checkpoint: its sizes and vocabulary size."""
  return {k: prepared.info[k] for k in ('raw_words', 'tokens', 'sentences', 'vocab_size')}


def _prepare(args) -> int:
  from jw2v.corpus import PREPARED_FILES, is_prepared, prepare_corpus, resolve_corpus
  from jw2v.errors import OutputExistsError
  out = Path(args.out)
  if is_prepared(out) and not args.force:
    raise OutputExistsError(f'{out} already holds a prepared corpus; choose another --out, or pass --force')
  for name, value in (('--min-count', args.min_count), ('--max-sentence-length', args.max_sentence_length)):
    if value < 1:
      from jw2v.errors import ConfigError
      raise ConfigError(f'{name} must be >= 1, got {value}')
  start = time.perf_counter()
  prepared = prepare_corpus(resolve_corpus(args.corpus), out, args.min_count, args.max_vocab_size,
                            args.max_sentence_length)
  info = prepared.info
  print(f'prepared {args.corpus}: {info["raw_words"]:,} words, {info["tokens"]:,} kept, {info["sentences"]:,} '
        f'sentences, vocabulary {info["vocab_size"]:,} in {time.perf_counter() - start:.1f}s; wrote '
        f'{", ".join(PREPARED_FILES)} into {out}')
  if info['invalid_bytes']:
    print(f'jw2v: warning: {info["invalid_bytes"]} byte(s) of invalid UTF-8 read as U+FFFD', file=sys.stderr)
  return 0


def _use_compilation_cache(path) -> None:
  """Keeps compiled programs between runs (JAX's persistent cache), unless JAX_COMPILATION_CACHE_DIR is set."""
  import os
  import jax
  if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    jax.config.update('jax_compilation_cache_dir', str(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


def _print_neighbours(results) -> None:
  for word, sim in results:
    print(f'{sim:8.4f}  {word}')


def _similar(args) -> int:
  from jw2v.vectors import WordVectors
  _print_neighbours(WordVectors.load(args.vectors).most_similar(args.word, topn=_topn(args.topn)))
  return 0


def _analogy(args) -> int:
  from jw2v.vectors import WordVectors
  a, b, c = args.words
  _print_neighbours(WordVectors.load(args.vectors).most_similar(positive=[b, c], negative=[a],
                                                                  topn=_topn(args.topn)))
  return 0


def _eval(args) -> int:
  import json
  from pathlib import Path
  from jw2v.atomic import atomic_write
  from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
  from jw2v.vectors import WordVectors

  vectors = WordVectors.load(args.vectors)
  options = dict(restrict_vocab=args.restrict_vocab, case_insensitive=not args.case_sensitive)
  pair_files = ([(Path(p).stem, p) for p in args.pairs] if args.pairs else
                [('WordSim-353', standard_set('wordsim353')), ('SimLex-999', standard_set('simlex999'))])
  analogy_file = args.analogies or standard_set('analogies')
  results = {'vectors': str(args.vectors), 'pairs': {}, 'analogies': {}}
  print(f'{"benchmark":<22}{"score":>9}  {"detail":<38}{"OOV":>7}')
  for name, path in pair_files:
    r = evaluate_word_pairs(vectors, path, **options)
    results['pairs'][name] = {**r._asdict(), 'file': str(path)}
    print(f'{name:<22}{r.spearman:>9.4f}  {f"Spearman; Pearson {r.pearson:.4f}, {r.pairs} pairs":<38}'
          f'{r.oov_ratio:>6.1f}%')
  r = evaluate_word_analogies(vectors, analogy_file, **options)
  semantic, syntactic = r.subtotal(syntactic=False), r.subtotal(syntactic=True)
  correct, attempted = sum(c for c, _ in r.sections.values()), sum(a for _, a in r.sections.values())
  results['analogies'] = {'file': str(analogy_file), 'accuracy': r.accuracy, 'oov_ratio': r.oov_ratio,
                          'questions': r.questions, 'semantic': semantic, 'syntactic': syntactic,
                          'sections': r.sections}
  name = 'Google analogies' if not args.analogies else Path(args.analogies).stem
  print(f'{name:<22}{100 * r.accuracy:>8.2f}%  {f"{correct}/{attempted} correct":<38}{r.oov_ratio:>6.1f}%')
  for label, (c, a) in (('  semantic', semantic), ('  syntactic', syntactic)):
    print(f'{label:<22}{100 * c / a if a else 0.0:>8.2f}%  {f"{c}/{a} correct":<38}')
  if args.json:
    with atomic_write(args.json, 'w', encoding='utf-8') as f:
      json.dump(results, f, indent=2)
      f.write('\n')
  return 0


def _export(args) -> int:
  from jw2v.vectors import WordVectors
  vectors = WordVectors.load(args.vectors)
  if args.format == 'projector':
    paths = vectors.save_projector(args.out)
    print(f'wrote {paths[0]} and {paths[1]} (load them at projector.tensorflow.org)')
  else:
    vectors.save(args.out, binary=args.format == 'binary')
    print(f'wrote {args.out}')
  return 0


def _plot(args) -> int:
  import json
  from pathlib import Path
  from jw2v.errors import DataError
  from jw2v.plots import plot_loss, plot_words
  from jw2v.vectors import WordVectors

  source = Path(args.vectors)
  out = Path(args.out_dir) if args.out_dir else (source if source.is_dir() else None)
  if out is None:
    raise DataError('--out-dir is needed when VECTORS is a file')
  history = source / 'history.json' if source.is_dir() else None
  if not args.words and not (history and history.is_file()):
    raise DataError('nothing to plot: give --words, or a training output directory with history.json')
  out.mkdir(parents=True, exist_ok=True)
  if args.words:
    plot_words(WordVectors.load(source), args.words, out / 'words.png')
    print(f'wrote {out / "words.png"}')
  if history and history.is_file():
    plot_loss(json.loads(history.read_text(encoding='utf-8')), out / 'loss.png')
    print(f'wrote {out / "loss.png"}')
  return 0


def _topn(n: int) -> int:
  if n < 1:
    from jw2v.errors import ConfigError
    raise ConfigError(f'-n must be >= 1, got {n}')
  return n


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command line; returns the exit status (errors are one line on stderr, never a traceback)."""
  args = build_parser().parse_args(argv)
  return exit_status('jw2v', lambda: args.func(args))
