"""Many models at once: `jw2v.train_many` (one vmapped step for M models) against M `jw2v.train` runs one
after the other, in the same process, on the same corpus and settings.

Models differ in seed (and, with --alphas, in starting learning rate). Both ways are timed end to end
(set-up, compilation, training, copying the vectors back), and each model is scored on WordSim-353 with
jw2v's evaluation (the same numbers as gensim's).

  python experiments/bench_replicas.py [CORPUS] [--models 4] [--model skipgram] [--epochs 10]
                                       [--models-per-step G] [--device cpu|gpu] [--out runs/replicas]
CORPUS defaults to PTB's training text under $JW2V_DATA_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('corpus', nargs='?', default=None)
  parser.add_argument('--models', type=int, default=4)
  parser.add_argument('--alphas', type=float, nargs='+', default=None, help='one per model (default: all 0.025)')
  parser.add_argument('--model', choices=('skipgram', 'cbow'), default='skipgram')
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--batch-size', type=int, default=1024)
  parser.add_argument('--models-per-step', type=int, default=None, help='default: 1 on a CPU, all elsewhere')
  parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
  parser.add_argument('--out', default='runs/replicas')
  args = parser.parse_args()

  import jax
  if args.device:
    jax.config.update('jax_platforms', {'gpu': 'cuda', 'cpu': 'cpu'}[args.device])
  import jw2v
  from jw2v.evaluate import evaluate_word_pairs, standard_set

  path = args.corpus or Path(os.environ.get('JW2V_DATA_DIR', '../shared/data')) / 'ptb' / 'ptb.train.txt'
  corpus, vocab, _ = jw2v.load_corpus(path, 1)
  alphas = args.alphas or [0.025] * args.models
  configs = [jw2v.Config(model=args.model, dim=100, window=5, negative=5, min_count=1, sample=1e-3,
                         epochs=args.epochs, batch_size=args.batch_size, seed=1 + i, alpha=alphas[i])
             for i in range(args.models)]
  wordsim = standard_set('wordsim353')

  def score(result):
    return evaluate_word_pairs(jw2v.WordVectors.from_params(result.params, vocab), wordsim).spearman

  start = time.perf_counter()
  together = jw2v.train_many(corpus, vocab, configs, progress=False, models_per_step=args.models_per_step)
  together_s = time.perf_counter() - start
  start = time.perf_counter()
  apart = [jw2v.train(corpus, vocab, config, progress=False) for config in configs]
  apart_s = time.perf_counter() - start
  rows = [{'seed': c.seed, 'alpha': c.learning_rate, 'together_wordsim353': score(t), 'apart_wordsim353': score(a)}
          for c, t, a in zip(configs, together, apart)]
  device = jax.devices()[0].device_kind
  lines = [f'{device}, JAX {jax.__version__}, {path}, {args.model}, {args.models} models, {args.epochs} epochs, '
           f'batch {args.batch_size}, models per step {args.models_per_step or "default"}', '',
           f'train_many: {together_s:.1f} s; one after the other: {apart_s:.1f} s; speed-up {apart_s / together_s:.2f}x',
           '', '| seed | alpha | WS353 train_many | WS353 alone |', '|---|---|---|---|']
  lines += [f'| {r["seed"]} | {r["alpha"]:g} | {r["together_wordsim353"]:.3f} | {r["apart_wordsim353"]:.3f} |'
            for r in rows]
  print('\n'.join(lines))
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps({
      'platform': platform.platform(), 'jax': jax.__version__, 'device': device, 'settings': vars(args),
      'train_many_seconds': together_s, 'sequential_seconds': apart_s, 'speedup': apart_s / together_s,
      'models': rows}, indent=2, default=str) + '\n')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_replicas', main))
