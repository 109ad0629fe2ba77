"""jw2v against gensim on the same corpus, settings and machine, in one run.

For each model: jw2v's whole `jw2v train` command (process start, JAX import, vocabulary, compilation,
training, file output) and gensim's `Word2Vec(...)` (vocabulary and training) are timed by wall clock, and
both sets of vectors are scored with gensim's evaluators on WordSim-353, SimLex-999 and the Google
analogies.

  JW2V_DATA_DIR=../shared/data python experiments/bench_vs_gensim.py            # PTB, both models
  python experiments/bench_vs_gensim.py --corpus my.txt --models skipgram --epochs 5

Writes results.json and results.md into --out (default runs/bench).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def evaluate(kv) -> dict:
  from gensim.test.utils import datapath
  return {'wordsim353': kv.evaluate_word_pairs(datapath('wordsim353.tsv'))[1][0],
          'simlex999': kv.evaluate_word_pairs(datapath('simlex999.txt'))[1][0],
          'analogy': kv.evaluate_word_analogies(datapath('questions-words.txt'))[0]}


def run_jw2v(corpus: str, model: str, args, workdir: Path) -> dict:
  from gensim.models import KeyedVectors
  out = workdir / f'jw2v-{model}'
  cmd = [sys.executable, '-m', 'jw2v', 'train', corpus, '--out', str(out), '--model', model,
         '--dim', str(args.dim), '--window', str(args.window), '--negative', str(args.negative),
         '--min-count', str(args.min_count), '--sample', str(args.sample), '--epochs', str(args.epochs),
         '--seed', str(args.seed), '--quiet', '--force'] + (['--batch-size', str(args.batch_size)]
                                                              if args.batch_size else [])
  start = time.perf_counter()
  subprocess.run(cmd, check=True)
  wall = time.perf_counter() - start
  history = json.loads((out / 'history.json').read_text())
  train_seconds = sum(e['seconds'] for e in history['epochs'])
  raw = history['raw_words'] * args.epochs
  return {'wall_seconds': wall, 'train_seconds': train_seconds, 'raw_words_per_sec': raw / wall,
          'train_words_per_sec': raw / train_seconds,
          **evaluate(KeyedVectors.load_word2vec_format(str(out / 'vectors.bin'), binary=True))}


def run_gensim(path: Path, model: str, args) -> dict:
  from gensim.models import Word2Vec
  from gensim.models.word2vec import LineSentence
  start = time.perf_counter()
  w2v = Word2Vec(LineSentence(str(path)), sg=int(model == 'skipgram'), vector_size=args.dim,
                 window=args.window, negative=args.negative, min_count=args.min_count, sample=args.sample,
                 epochs=args.epochs, seed=args.seed, workers=args.workers)
  wall = time.perf_counter() - start
  raw = w2v.corpus_total_words * args.epochs
  return {'wall_seconds': wall, 'train_seconds': w2v.total_train_time, 'raw_words_per_sec': raw / wall,
          'train_words_per_sec': raw / w2v.total_train_time, **evaluate(w2v.wv)}


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
  parser.add_argument('--workers', type=int, default=os.cpu_count(), help="gensim's threads (default: cores)")
  parser.add_argument('--out', default='runs/bench')
  args = parser.parse_args()
  logging.getLogger('gensim').setLevel(logging.ERROR)

  from jw2v.corpus import resolve_corpus
  import jax
  path = resolve_corpus(args.corpus)
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  results = {'machine': {'platform': platform.platform(), 'processor': platform.processor(),
                         'cores': os.cpu_count(), 'jax': jax.__version__, 'device': str(jax.devices()[0])},
             'settings': {k: v for k, v in vars(args).items() if k not in ('out', 'models')}, 'runs': {}}
  with tempfile.TemporaryDirectory() as tmp:
    for model in args.models:
      jw = run_jw2v(str(path), model, args, Path(tmp))
      gs = run_gensim(path, model, args)
      results['runs'][model] = {'jw2v': jw, 'gensim': gs,
                                'speedup_wall': gs['wall_seconds'] / jw['wall_seconds']}
      print(f'{model}: done', file=sys.stderr)

  rows = ['| model | tool | wall s | raw words/s | WS353 | SimLex | analogy |', '|---|---|---|---|---|---|---|']
  for model, r in results['runs'].items():
    for tool in ('jw2v', 'gensim'):
      x = r[tool]
      rows.append(f'| {model} | {tool} | {x["wall_seconds"]:.1f} | {x["raw_words_per_sec"]:,.0f} | '
                  f'{x["wordsim353"]:.3f} | {x["simlex999"]:.3f} | {100 * x["analogy"]:.2f} % |')
    rows.append(f'| {model} | gensim ÷ jw2v wall time | {r["speedup_wall"]:.2f} | | | | |')
  table = '\n'.join(rows)
  (out / 'results.json').write_text(json.dumps(results, indent=2, default=float) + '\n')
  (out / 'results.md').write_text(table + '\n')
  print(table)


if __name__ == '__main__':
  main()
