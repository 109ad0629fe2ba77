"""What the pool for rare negatives does to quality where it acts: PTB with a tail of rare words.

PTB has fewer words than the rank from which negatives are pooled (16,384), so on PTB alone the default
changes nothing. Here PTB's lines are mixed with lines of --rare words that occur once each (20 to a line,
spread among PTB's at random), which puts most of the noise distribution beyond that rank; each model is
then trained with the default pool and without one (`negative_pool=0`) for every seed, and scored on
PTB's words (WordSim-353, SimLex-999, Google analogies, gensim's evaluation through jw2v's).

  JW2V_DATA_DIR=../shared/data python experiments/pool_quality.py [--rare 300000] [--seeds 1 2 3 4 5]
      [--models skipgram cbow] [--epochs 10] [--out runs/pool_quality]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--corpus', default='ptb', help='text file or dataset name (default ptb)')
  parser.add_argument('--rare', type=int, default=300_000, help='words that occur once each, added to the corpus')
  parser.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3, 4, 5])
  parser.add_argument('--models', nargs='+', default=['skipgram', 'cbow'], choices=['skipgram', 'cbow'])
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--out', default='runs/pool_quality')
  args = parser.parse_args()
  if args.rare < 0:
    parser.error(f'--rare must be at least 0, got {args.rare}')

  import jax
  import jw2v
  from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
  from jw2v.vocab import noise_cdf

  lines = jw2v.resolve_corpus(args.corpus).read_text(encoding='utf-8', errors='replace').splitlines()
  rare = [f'rare_{i}_' for i in range(args.rare)]
  lines += [' '.join(rare[i:i + 20]) for i in range(0, len(rare), 20)]
  with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / 'with_rare.txt'
    order = np.random.default_rng(0).permutation(len(lines))
    path.write_text('\n'.join(lines[i] for i in order) + '\n', encoding='utf-8')
    corpus, vocab, _ = jw2v.load_corpus(path, 1)
  defaults = jw2v.Config()
  rare_from = defaults.negative_pool_from
  # The share of the negatives' draws that lands at rank rare_from and beyond, from the cdf training draws by.
  cdf_V = noise_cdf(vocab.counts, defaults.ns_exponent)
  pooled = float(1 - int(cdf_V[rare_from - 1]) / 2**32) if rare_from < len(vocab) else 0.0
  print(f'{len(vocab):,} words, {len(corpus.ids):,} tokens; {100 * pooled:.0f} % of the noise distribution '
        f'at rank {rare_from:,} and beyond', flush=True)
  added = set(rare)
  own = [i for i, w in enumerate(vocab.words) if w not in added]  # scored on the corpus's own words
  sets = {'wordsim353': standard_set('wordsim353'), 'simlex999': standard_set('simlex999')}
  analogies = standard_set('analogies')

  rows = []
  for model in args.models:
    for pool in (None, 0):
      for seed in args.seeds:
        config = jw2v.Config(model=model, dim=args.dim, window=5, negative=5, min_count=1, sample=1e-3,
                             epochs=args.epochs, seed=seed, negative_pool=pool)
        result = jw2v.train(corpus, vocab, config, progress=False)
        vectors = jw2v.WordVectors([vocab.words[i] for i in own], result.params['W_in'][own])
        row = {'model': model, 'pool': config.resolved(jax.default_backend()).negative_pool, 'seed': seed,
               **{name: evaluate_word_pairs(vectors, s).spearman for name, s in sets.items()},
               'analogy': evaluate_word_analogies(vectors, analogies).accuracy}
        rows.append(row)
        print(f'{model} pool {row["pool"]} seed {seed}: {row["wordsim353"]:.3f} / {row["simlex999"]:.3f} / '
              f'{100 * row["analogy"]:.2f} %', flush=True)
  lines = [f'{args.corpus} + {args.rare:,} rare words ({len(vocab):,} words, {100 * pooled:.0f} % of the noise '
           f'beyond rank {rare_from:,}), seeds {args.seeds}, {jax.devices()[0].device_kind}, JAX {jax.__version__}',
           '', '| model | pool | WordSim-353 | SimLex-999 | analogies |', '|---|---|---|---|---|']
  for model in args.models:
    for pool in sorted({r['pool'] for r in rows}):
      got = [r for r in rows if r['model'] == model and r['pool'] == pool]
      if got:
        mean = {k: float(np.mean([r[k] for r in got])) for k in ('wordsim353', 'simlex999', 'analogy')}
        lines.append(f'| {model} | {pool or "none"} | {mean["wordsim353"]:.3f} | {mean["simlex999"]:.3f} | '
                     f'{100 * mean["analogy"]:.2f} % |')
  print('\n'.join(lines))
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps({'platform': platform.platform(), 'jax': jax.__version__,
                                                'settings': vars(args), 'vocab': len(vocab),
                                                'tokens': len(corpus.ids), 'pooled_share': pooled,
                                                'rows': rows}, indent=2) + '\n')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('pool_quality', main))
