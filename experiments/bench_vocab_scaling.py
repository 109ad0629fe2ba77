"""Time per training step against vocabulary size: the sparse path and the dense reference path.

Synthetic Zipf corpora with vocabularies of --vocabs words (default 10k, 100k, 1M), dim --dim: tables of
exactly V rows, word counts of a 1e9-token Zipf corpus (for subsampling and negatives), steps on a
--tokens sample of its text (`jw2v.synthetic_corpus`), the same batch size everywhere. Each path runs --steps steps on
one block's examples after a warm-up call; the sizes take turns for --repeats rounds, and the median is
reported per step.

  python experiments/bench_vocab_scaling.py [--device cpu|gpu] [--batch-size N] [--centre-negatives N]
      [--negative-pool N] [--out runs/vocab_scaling]
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
  parser.add_argument('--vocabs', type=int, nargs='+', default=[10_000, 100_000, 1_000_000])
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--model', choices=('skipgram', 'cbow'), default='skipgram')
  parser.add_argument('--batch-size', type=int, default=None, help="examples per step (default: jw2v's)")
  parser.add_argument('--centre-negatives', type=int, default=0,
                      help="skip-gram: negatives per centre shared by its pairs (Config.centre_negatives; default 0: "
                           "per pair, as word2vec.c)")
  parser.add_argument('--negative-pool', type=int, default=None,
                      help="rare words drawn per step for the rare negatives (Config.negative_pool; 0: none; "
                           "default: jw2v's for the device, 512 on a CPU)")
  parser.add_argument('--steps', type=int, default=64)
  parser.add_argument('--reference-steps', type=int, default=4)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--tokens', type=int, default=2_000_000)
  parser.add_argument('--out', default='runs/vocab_scaling')
  args = parser.parse_args()

  import jax
  if args.device:
    jax.config.update('jax_platforms', {'gpu': 'cuda', 'cpu': 'cpu'}[args.device])
  import jax.numpy as jnp
  import jw2v
  from jw2v import batches
  from jw2v.train import learning_rate_schedule

  def stepper(config, vocab_size, counts, noise, corpus, steps):
    """A function that runs `steps` steps on one block's examples and returns the seconds per step."""
    config = config.resolved(jax.default_backend())
    size = batches.block_size(corpus, 1 << 20)
    _, block = next(batches.corpus_blocks(corpus, size))
    make = jax.jit(functools.partial(batches.make_examples, model=config.example_layout, window=config.window,
                                     shrink_windows=True, buffer_size=batches.example_buffer_size(
                                         size, config.example_layout, config.window, config.batch_size)))
    keep = jnp.asarray(jw2v.keep_probabilities(np.maximum(counts, 1), config.sample), jnp.float32)
    examples = make(jax.device_put(block), keep, jax.random.key(0))
    assert int(examples.count) >= steps * config.batch_size
    multi = jw2v.make_multi_step(jw2v.make_step(config), learning_rate_schedule(config), negative=config.negatives_per_example,
                                 batch_size=config.batch_size, steps=steps, pool=config.negative_pool)
    # The sparse path's tables as `train` stores them (`devices.table_width` columns); the reference path's as given.
    state = [jw2v.init_state(config, jw2v.init_params(jax.random.key(1), vocab_size, config.dim),
                             key=jax.random.key(2)).padded(vocab_size)]

    def run():
      start = time.perf_counter()
      state[0], loss = multi(state[0], examples, 0, steps, 0.0, 1e-9, noise)
      jax.block_until_ready(loss)
      return (time.perf_counter() - start) / steps
    run()  # compiles
    return run

  common = dict(model=args.model, dim=args.dim, batch_size=args.batch_size, min_count=1)
  sparse_config = jw2v.Config(centre_negatives=args.centre_negatives, negative_pool=args.negative_pool,
                              **common).resolved(jax.default_backend())
  common['batch_size'] = sparse_config.batch_size  # the reference path takes the same batches' worth
  what = (f'{args.model}{f" with {sparse_config.centre_negatives} shared negatives per centre" if sparse_config.centre_negatives else ""}, '
          f'dim {args.dim}, batch {sparse_config.batch_size}, negative pool '
          + (f'{sparse_config.negative_pool} (words of rank {sparse_config.pool_rare_from}+)'
             if sparse_config.pool_rare_from else 'off'))
  print(f'JAX {jax.__version__} on {jax.devices()[0].device_kind}, {what}', flush=True)
  runs = {}
  for vocab_size in args.vocabs:
    corpus, vocab = jw2v.synthetic_corpus(args.tokens, vocab_size, seed=0)
    # The vocabulary of a large corpus (1e9 Zipf tokens: every word counts at least 60), so that the noise
    # distribution covers all V rows; the steps run on a --tokens sample of its text.
    ranks = np.arange(1, vocab_size + 1)
    counts = np.round(1e9 / (ranks * np.sum(1.0 / ranks))).astype(np.int64)
    noise = jw2v.noise(counts, rare_from=sparse_config.pool_rare_from)
    runs[vocab_size] = (stepper(sparse_config, vocab_size, counts, noise, corpus, args.steps),
                        stepper(jw2v.Config(path='reference', **common), vocab_size, counts, noise, corpus,
                                args.reference_steps))
  # The sizes take turns, repeat by repeat, so that a slow spell of the machine slows them all alike; each
  # timed call follows an untimed one, so that it finds its tables as warm as training keeps them.
  times = {v: ([], []) for v in args.vocabs}
  for _ in range(args.repeats):
    for vocab_size, steppers in runs.items():
      for stepper_, times_ in zip(steppers, times[vocab_size]):
        stepper_()
        times_.append(stepper_())
  rows = []
  for vocab_size, (sparse, reference) in times.items():
    sparse, reference = float(np.median(sparse)), float(np.median(reference))
    rows.append({'vocab': vocab_size, 'sparse_ms': 1e3 * sparse, 'reference_ms': 1e3 * reference})
    print(f'V={vocab_size:>9,}: sparse {1e3 * sparse:8.3f} ms/step   dense reference {1e3 * reference:9.2f} ms/step',
          flush=True)
  base = rows[0]
  for r in rows:
    r['sparse_vs_smallest'] = r['sparse_ms'] / base['sparse_ms']
    r['reference_vs_smallest'] = r['reference_ms'] / base['reference_ms']
  lines = [f'{jax.devices()[0].device_kind}, JAX {jax.__version__}, {what}',
           '', '| vocabulary | sparse ms/step | × smallest | dense reference ms/step | × smallest |',
           '|---|---|---|---|---|']
  lines += [f'| {r["vocab"]:,} | {r["sparse_ms"]:.3f} | {r["sparse_vs_smallest"]:.2f} | {r["reference_ms"]:.2f} | '
            f'{r["reference_vs_smallest"]:.1f} |' for r in rows]
  print('\n'.join(lines))
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps({'platform': platform.platform(), 'jax': jax.__version__,
                                                'device': jax.devices()[0].device_kind, 'settings': vars(args),
                                                'rows': rows}, indent=2) + '\n')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_vocab_scaling', main))
