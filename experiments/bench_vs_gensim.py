"""jw2v against gensim on the same corpus, settings and machine, in one run.

Each measurement runs in a fresh Python process, so both tools pay their own start-up the same way. The
timed region is "corpus file to trained vectors": for gensim `Word2Vec(LineSentence(...), ...)` (vocabulary
scan and training), for jw2v `load_corpus` + `train` (vocabulary, encoding, device start, compilation and
training; the process first keeps freed memory for reuse, as the command line does:
`jw2v.keep_freed_memory`). jw2v is run twice: with an empty compilation cache (cold, what a first run pays) and with the
cache that run left (warm, what later runs with the same shapes pay). Both sets of vectors are scored with
gensim's evaluators on WordSim-353, SimLex-999 and the Google analogies.

With --repeats N the three runs (jw2v cold, jw2v warm, gensim) take turns N times, each cold run with a
new empty cache, and the table reports each one's median wall time and words/s (the timings of a shared or
virtual machine swing between runs; taking turns spreads a slow spell over all three); results.json holds
every run. Scores are those of the first round.

Reported per tool: wall time, raw words/s (corpus words x epochs / wall time), training words/s (corpus
words x epochs / training time only: gensim's total_train_time, jw2v's epochs without compilation) and
scores, and the ratios gensim time / jw2v time (above 1: jw2v is faster).

  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py            # PTB, both models
  python experiments/bench_vs_gensim.py --corpus my.txt --models skipgram --epochs 5
  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py --repeats 3   # medians of 3 rounds
  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py --init-scale 0.5  # word2vec.c's initial range
  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py --cores 1 2 --repeats 3   # core scaling
  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py --cores 1 2 --local-updates   # a device a core
  python experiments/bench_vs_gensim.py --corpus big.txt --min-count 5 --cores 1 2 --local-updates \
      --steps-per-call 1024 --merge-every 64   # whole tables merged every 1024 steps, frequent rows every 64

With --cores N [N ...] every run is repeated on each core count: its process is pinned to the first N
cores it may use (as `taskset` would) and gensim gets N workers. The table then has one block per core
count, and a scaling table gives each tool's speed-up from the first core count to the others (its wall
time on the first ÷ its wall time on N, cold cache for jw2v).

Writes results.json and results.md into --out (default runs/bench).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gensim_peer

SETTINGS = ('dim', 'window', 'negative', 'min_count', 'sample', 'epochs', 'seed')


def evaluate(kv) -> dict:
  from gensim.test.utils import datapath
  return {'wordsim353': kv.evaluate_word_pairs(datapath('wordsim353.tsv'))[1][0],
          'simlex999': kv.evaluate_word_pairs(datapath('simlex999.txt'))[1][0],
          'analogy': kv.evaluate_word_analogies(datapath('questions-words.txt'))[0]}


def worker(tool: str, model: str, path: str, args) -> dict:
  """One timed training run, in this (fresh) process."""
  logging.getLogger('gensim').setLevel(logging.ERROR)
  settings = {k: getattr(args, k) for k in SETTINGS}
  if tool == 'gensim':
    w2v, wall = gensim_peer.train_word2vec(path, model, **settings, workers=args.workers)
    return {'wall_seconds': wall, 'train_seconds': w2v.total_train_time,
            'raw_words': w2v.corpus_total_words, **evaluate(w2v.wv)}
  import jax
  import jw2v
  from gensim.models import KeyedVectors
  jw2v.keep_freed_memory()  # as the command line does, before JAX starts
  extra = {'batch_size': args.batch_size} if args.batch_size else {}
  if args.steps_per_call:
    extra['steps_per_call'] = args.steps_per_call
  if args.centre_negatives is not None and model == 'skipgram':
    extra['centre_negatives'] = args.centre_negatives
  if args.init_scale is not None:
    extra['init_scale'] = args.init_scale
  if args.local_updates:
    extra.update(devices=len(jax.devices()), local_updates=True, merge_every=args.merge_every)
  config = jw2v.Config(model=model, **settings, **extra)
  start = time.perf_counter()
  corpus, vocab, _ = jw2v.load_corpus(path, config.min_count)
  result = jw2v.train(corpus, vocab, config, progress=False)
  wall = time.perf_counter() - start
  kv = KeyedVectors(args.dim)
  kv.add_vectors(list(vocab.words), result.params['W_in'])
  h = result.history
  return {'wall_seconds': wall, 'train_seconds': sum(e['seconds'] for e in h['epochs']),
          'compile_seconds': h['compile_seconds'], 'raw_words': corpus.raw_words, 'devices': config.devices or 1,
          'steps_per_call': config.steps_per_call, 'merge_every': config.merge_every,
          **evaluate(kv)}


def measure(tool: str, model: str, path: str, args, env=None, cores=None) -> dict:
  workers = args.workers if cores is None else len(cores)
  cmd = [sys.executable, __file__, '--worker', tool, '--models', model, '--corpus', path,
         '--workers', str(workers)] + [f'--{k.replace("_", "-")}={getattr(args, k)}' for k in SETTINGS]
  if cores is not None:
    cmd.append(f'--pin={",".join(map(str, cores))}')
  if args.batch_size:
    cmd.append(f'--batch-size={args.batch_size}')
  if args.steps_per_call:
    cmd.append(f'--steps-per-call={args.steps_per_call}')
  if args.centre_negatives is not None:
    cmd.append(f'--centre-negatives={args.centre_negatives}')
  if args.init_scale is not None:
    cmd.append(f'--init-scale={args.init_scale}')
  if args.local_updates:
    cmd.append('--local-updates')
  if args.merge_every:
    cmd.append(f'--merge-every={args.merge_every}')
  out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
  if out.returncode:
    last = (out.stderr.strip().splitlines() or ['(no message)'])[-1].removeprefix('bench_vs_gensim: error: ')
    raise SystemExit(f'bench_vs_gensim: error: the {tool} {model} run failed: {last}')
  row = json.loads(out.stdout.strip().splitlines()[-1])
  words = row['raw_words'] * args.epochs
  row['raw_words_per_sec'] = words / row['wall_seconds']
  row['train_words_per_sec'] = words / row['train_seconds']
  on = '' if cores is None else f' on {len(cores)} cores'
  print(f'{model} {tool}{on}: {row["wall_seconds"]:.1f}s', file=sys.stderr, flush=True)
  return row


def median_run(runs: list) -> dict:
  """The first run's scores with the median of every timing over the runs."""
  timings = ('wall_seconds', 'train_seconds', 'compile_seconds', 'raw_words_per_sec', 'train_words_per_sec')
  return {**runs[0], **{k: statistics.median(run[k] for run in runs) for k in timings if k in runs[0]}}


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--corpus', default='ptb', help='text file or dataset name (default ptb)')
  parser.add_argument('--models', nargs='+', default=['skipgram', 'cbow'], choices=['skipgram', 'cbow'])
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--window', type=int, default=5)
  parser.add_argument('--negative', type=int, default=5)
  parser.add_argument('--min-count', type=int, default=1)
  parser.add_argument('--sample', type=float, default=1e-3)
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--seed', type=int, default=1)
  parser.add_argument('--batch-size', type=int, default=None, help="jw2v's batch size (default: jw2v's)")
  parser.add_argument('--steps-per-call', type=int, default=None,
                      help="jw2v's steps per dispatch, with --local-updates the steps between merges (default: jw2v's)")
  parser.add_argument('--centre-negatives', type=int, default=None,
                      help="jw2v skip-gram: negatives per centre, shared by its pairs (opt-in, not word2vec's "
                           "algorithm; default 0: per pair, as word2vec.c)")
  parser.add_argument('--init-scale', type=float, default=None,
                      help="jw2v's initial vectors: uniform in [-S/dim, S/dim) (default 1.0, gensim 4's; "
                           "word2vec.c uses 0.5)")
  parser.add_argument('--local-updates', action='store_true',
                      help='jw2v on one CPU device per core it may use, each training its own copy of the tables '
                           '(Config.local_updates; opt-in)')
  parser.add_argument('--merge-every', type=int, default=None,
                      help="with --local-updates: jw2v also merges the most frequent words' rows every M steps "
                           '(Config.merge_every; at most --steps-per-call)')
  parser.add_argument('--workers', type=int, default=os.cpu_count(), help="gensim's threads (default: cores)")
  parser.add_argument('--repeats', type=int, default=1, help='rounds of the three runs; medians are reported')
  parser.add_argument('--cores', type=int, nargs='+', default=None,
                      help='core counts to run on, each process pinned to that many cores (default: all, unpinned)')
  parser.add_argument('--out', default='runs/bench')
  parser.add_argument('--worker', choices=('jw2v', 'gensim'), help=argparse.SUPPRESS)
  parser.add_argument('--pin', default=None, help=argparse.SUPPRESS)  # a worker's cores, e.g. 0,1
  args = parser.parse_args()
  if args.repeats < 1:
    parser.error(f'--repeats must be at least 1, got {args.repeats}')
  if args.steps_per_call is not None and args.steps_per_call < 1:
    parser.error(f'--steps-per-call must be at least 1, got {args.steps_per_call}')
  if args.merge_every is not None:
    from jw2v.config import Config, ConfigError  # (JAX's devices start later, in the workers)
    try:
      Config(local_updates=args.local_updates, merge_every=args.merge_every,
             **({'steps_per_call': args.steps_per_call} if args.steps_per_call else {}))
    except ConfigError as e:
      parser.error(str(e))
  if args.worker:
    if args.pin:  # before JAX or gensim start their threads
      os.sched_setaffinity(0, [int(c) for c in args.pin.split(',')])
    if args.local_updates:  # one CPU device per core, fixed when JAX starts
      os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count='
                                 f'{len(os.sched_getaffinity(0))}').strip()
    print(json.dumps({**worker(args.worker, args.models[0], args.corpus, args),
                      'cores_used': len(os.sched_getaffinity(0))}))
    return

  usable = sorted(os.sched_getaffinity(0))
  if args.cores and not all(1 <= n <= len(usable) for n in args.cores):
    parser.error(f'--cores must lie between 1 and the {len(usable)} cores this process may use, got {args.cores}')

  import jax
  from jw2v.corpus import resolve_corpus
  path = str(resolve_corpus(args.corpus))
  results = {'machine': {'platform': platform.platform(), 'processor': platform.processor(),
                         'cores': os.cpu_count(), 'jax': jax.__version__, 'device': str(jax.devices()[0])},
             'settings': {k: v for k, v in vars(args).items() if k not in ('out', 'models', 'worker')}}
  counts = args.cores or [None]
  with tempfile.TemporaryDirectory() as cache:
    by_cores = {n: compare_all(path, args, cache, None if n is None else usable[:n]) for n in counts}
  results.update(by_cores[counts[-1]])
  tables = [table(by_cores[n]['runs'], n) for n in counts]
  if args.cores:
    results['by_cores'] = {str(n): r for n, r in by_cores.items()}
    results['scaling'] = scaling(by_cores, counts)
    tables.append(scaling_table(results['scaling'], counts))
  text = '\n\n'.join(tables)
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps(results, indent=2, default=float) + '\n')
  (out / 'results.md').write_text(text + '\n')
  print(text)


def compare_all(path: str, args, cache: str, cores) -> dict:
  """Every model's rounds of the three runs on these cores (None: unpinned), and their medians."""
  found = {'runs': {}, 'rounds': {}}
  tag = 'all' if cores is None else len(cores)
  for model in args.models:
    rounds = []
    for r in range(args.repeats):
      env = {'JAX_COMPILATION_CACHE_DIR': os.path.join(cache, f'{model}{r}-{tag}'),
             'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0'}
      rounds.append({'jw2v_cold': measure('jw2v', model, path, args, env, cores),
                     'jw2v_warm': measure('jw2v', model, path, args, env, cores),
                     'gensim': measure('gensim', model, path, args, cores=cores)})
    found['rounds'][model] = rounds
    run = {name: median_run([r[name] for r in rounds]) for name in ('jw2v_cold', 'jw2v_warm', 'gensim')}
    found['runs'][model] = {
        **run,
        'speedup_cold': run['gensim']['wall_seconds'] / run['jw2v_cold']['wall_seconds'],
        'speedup_warm': run['gensim']['wall_seconds'] / run['jw2v_warm']['wall_seconds'],
        'train_words_per_sec_ratio': run['jw2v_cold']['train_words_per_sec'] / run['gensim']['train_words_per_sec']}
  return found


def scaling(by_cores: dict, counts: list) -> dict:
  """Each model's speed-up of each tool from the first core count to every count (wall time ratio)."""
  first = by_cores[counts[0]]['runs']
  return {model: {str(n): {tool: first[model][name]['wall_seconds'] / by_cores[n]['runs'][model][name]['wall_seconds']
                           for tool, name in (('jw2v', 'jw2v_cold'), ('gensim', 'gensim'))}
                  for n in counts}
          for model in first}


def table(runs: dict, cores) -> str:
  """The Markdown table of one core count's runs."""
  on = '' if cores is None else f'{cores} cores: '
  rows = [f'| {on}model | run | wall s | raw words/s | training words/s | WS353 | SimLex | analogy |',
          '|---|---|---|---|---|---|---|---|']
  for model, r in runs.items():
    for name, label in (('jw2v_cold', 'jw2v, cold cache'), ('jw2v_warm', 'jw2v, warm cache'), ('gensim', 'gensim')):
      x = r[name]
      rows.append(f'| {model} | {label} | {x["wall_seconds"]:.1f} | {x["raw_words_per_sec"]:,.0f} | '
                  f'{x["train_words_per_sec"]:,.0f} | {x["wordsim353"]:.3f} | {x["simlex999"]:.3f} | '
                  f'{100 * x["analogy"]:.2f} % |')
    rows.append(f'| {model} | gensim time ÷ jw2v time | cold {r["speedup_cold"]:.2f}, warm {r["speedup_warm"]:.2f} | '
                f'| jw2v ÷ gensim {r["train_words_per_sec_ratio"]:.2f} | | | |')
  return '\n'.join(rows)


def scaling_table(found: dict, counts: list) -> str:
  """Speed-up from the first core count, per model and tool."""
  rows = [f'| model | tool | ' + ' | '.join(f'{n} cores' for n in counts) + ' |', '|---|---|' + '---|' * len(counts)]
  for model, by_n in found.items():
    for tool in ('jw2v', 'gensim'):
      rows.append(f'| {model} | {tool} | ' + ' | '.join(f'{by_n[str(n)][tool]:.2f}x' for n in counts) + ' |')
  return '\n'.join(rows)


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_vs_gensim', main))
