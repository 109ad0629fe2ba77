"""Tables split by rows across devices (`shard_tables`): a 2M-word vocabulary at dim 300 (2 tables of
2.4 GB) on 4 devices, with the bytes each device actually holds.

On a CPU the devices are forced (XLA_FLAGS=--xla_force_host_platform_device_count=N, set here before
JAX starts). The vocabulary has Zipf counts of a 1e9-token corpus; training runs on a --tokens sample.
Reported: the table bytes on every device (read from the arrays' buffers after placement), the
start-up estimate, the process's peak resident memory, and words/s. With --compare-replicated the same
run with replicated tables is timed too (it needs the whole tables on every device).

  python experiments/bench_sharded_tables.py [--vocab 2000000] [--dim 300] [--devices 4] [--out runs/sharded]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
from pathlib import Path


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--vocab', type=int, default=2_000_000)
  parser.add_argument('--dim', type=int, default=300)
  parser.add_argument('--devices', type=int, default=4)
  parser.add_argument('--tokens', type=int, default=1_000_000)
  parser.add_argument('--batch-size', type=int, default=1024)
  parser.add_argument('--device', choices=('cpu', 'gpu'), default='cpu')
  parser.add_argument('--compare-replicated', action='store_true')
  parser.add_argument('--out', default='runs/sharded')
  args = parser.parse_args()
  if args.device == 'cpu':
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                               f' --xla_force_host_platform_device_count={args.devices}').strip()
  import jax
  jax.config.update('jax_platforms', {'gpu': 'cuda', 'cpu': 'cpu'}[args.device])
  import numpy as np
  import jw2v
  from jw2v import devices
  from jw2v.train.memory import memory_estimate, size_text

  ranks = np.arange(1, args.vocab + 1)
  counts = np.maximum(np.round(1e9 / (ranks * np.sum(1.0 / ranks))), 1).astype(np.int64)
  vocab = jw2v.Vocab.from_words_counts((f'w{i}' for i in range(args.vocab)), counts)
  corpus, _ = jw2v.synthetic_corpus(args.tokens, args.vocab, seed=0)  # ids ranked by count, as the vocab is
  rows = []
  for shard in [True] + ([False] if args.compare_replicated else []):
    config = jw2v.Config(model='skipgram', dim=args.dim, min_count=1, epochs=1, batch_size=args.batch_size,
                         devices=args.devices, shard_tables=shard)
    estimate = memory_estimate(len(vocab), config, devices.make_layout(len(vocab), args.devices, shard))
    print(estimate.describe(), flush=True)
    result = jw2v.train(corpus, vocab, config, progress=False)
    held = result.history['table_bytes_per_device']
    whole = 2 * args.vocab * args.dim * 4
    rows.append({'shard_tables': shard, 'table_bytes_per_device': held, 'tables_bytes': whole,
                 'fraction_per_device': [h / whole for h in held], 'estimate_per_device': estimate.tables,
                 'words_per_sec': result.history['epochs'][0]['words_per_sec'],
                 'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})
  device = jax.devices()[0].device_kind
  lines = [f'{device} x {args.devices}, JAX {jax.__version__}, vocabulary {args.vocab:,}, dim {args.dim}, skip-gram, '
           f'{args.tokens:,} tokens', '', '| tables | bytes on each device | of both tables | words/s | peak RSS |',
           '|---|---|---|---|---|']
  lines += [f'| {"sharded" if r["shard_tables"] else "replicated"} | '
            f'{", ".join(size_text(h) for h in r["table_bytes_per_device"])} | '
            f'{", ".join(f"{f:.3f}" for f in r["fraction_per_device"])} | {r["words_per_sec"]:,.0f} | '
            f'{size_text(r["peak_rss_bytes"])} |' for r in rows]
  print('\n'.join(lines))
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps({'platform': platform.platform(), 'jax': jax.__version__,
                                                'device': device, 'settings': vars(args), 'rows': rows},
                                               indent=2) + '\n')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_sharded_tables', main))
