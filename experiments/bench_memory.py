"""Peak resident memory of `jw2v prepare` and `jw2v train` on a corpus larger than 1 GB of text.

Generates --gb gigabytes of text (Zipf-distributed words over a --vocab vocabulary, lines of 1..39 words),
then runs `jw2v prepare` and `jw2v train` (on the prepared directory, --epochs, --model, --dim) each as the
only child of a small wrapper process, which reports that child's peak resident set size
(getrusage(RUSAGE_CHILDREN).ru_maxrss). The target: each peak below 1 GB plus the size of the two tables.

  python experiments/bench_memory.py [--gb 1.05] [--workdir /tmp/jw2v_mem] [--model cbow] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WRAPPER = ('import resource, subprocess, sys, time; t = time.perf_counter(); '
           'rc = subprocess.run(sys.argv[1:]).returncode; '
           'print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)')


def generate(path: Path, gigabytes: float, vocab_size: int, seed: int = 0) -> int:
  """Writes at least `gigabytes` GB of Zipf text to `path`, in pieces; returns the number of words."""
  rng = np.random.default_rng(seed)
  cdf = np.cumsum(1.0 / np.arange(1, vocab_size + 1))
  cdf /= cdf[-1]
  words = np.array([f'w{i}' for i in range(vocab_size)])
  target, written, tokens = int(gigabytes * 1e9), 0, 0
  with open(path, 'w', encoding='ascii') as f:
    while written < target:
      ids = np.searchsorted(cdf, rng.random(1 << 20))
      line_end = np.zeros(len(ids), bool)
      ends = np.cumsum(rng.integers(1, 40, len(ids) // 10)) - 1
      line_end[ends[ends < len(ids)]] = True
      separators = np.where(line_end, '\n', ' ')
      chunk = ''.join(np.char.add(words[ids], separators).tolist())
      f.write(chunk)
      written += len(chunk)
      tokens += len(ids)
  return tokens


def measured(cmd: list[str]) -> dict:
  out = subprocess.run([sys.executable, '-c', WRAPPER, *cmd], check=True, capture_output=True, text=True)
  rc, peak_kb, seconds = out.stdout.strip().splitlines()[-1].split()  # the child printed before it
  if rc != '0':
    raise SystemExit(f'{" ".join(cmd)} failed ({rc}): {out.stderr[-2000:]}')
  return {'peak_rss_mb': int(peak_kb) / 1024, 'seconds': float(seconds)}


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--gb', type=float, default=1.05)
  parser.add_argument('--vocab', type=int, default=300_000)
  parser.add_argument('--model', default='cbow')
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--epochs', type=int, default=1)
  parser.add_argument('--workdir', default='/tmp/jw2v_memory')
  parser.add_argument('--out', default='runs/memory')
  args = parser.parse_args()
  work = Path(args.workdir)
  work.mkdir(parents=True, exist_ok=True)
  text = work / 'corpus.txt'
  if not text.exists() or text.stat().st_size < args.gb * 1e9:
    start = time.perf_counter()
    generate(text, args.gb, args.vocab)
    print(f'generated {text.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - start:.0f}s', flush=True)
  jw2v = [sys.executable, '-m', 'jw2v']
  prepare = measured(jw2v + ['prepare', str(text), '--out', str(work / 'prepared'), '--force'])
  info = json.loads((work / 'prepared' / 'corpus.json').read_text())
  print(f'prepare: peak {prepare["peak_rss_mb"]:.0f} MB, {prepare["seconds"]:.0f}s; {info["raw_words"]:,} words, '
        f'vocabulary {info["vocab_size"]:,}', flush=True)
  train = measured(jw2v + ['train', str(work / 'prepared'), '--out', str(work / 'run'), '--force', '--quiet',
                           '--model', args.model, '--dim', str(args.dim), '--epochs', str(args.epochs)])
  tables_mb = 2 * info['vocab_size'] * args.dim * 4 / 2**20
  bound = 1024 + tables_mb
  print(f'train: peak {train["peak_rss_mb"]:.0f} MB, {train["seconds"]:.0f}s', flush=True)
  result = {'text_bytes': text.stat().st_size, 'corpus': info, 'model': args.model, 'dim': args.dim,
            'epochs': args.epochs, 'tables_mb': tables_mb, 'bound_mb': bound, 'prepare': prepare, 'train': train,
            'prepare_within_bound': prepare['peak_rss_mb'] < bound, 'train_within_bound': train['peak_rss_mb'] < bound}
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps(result, indent=2) + '\n')
  print(f'bound 1 GB + tables ({tables_mb:.0f} MB) = {bound:.0f} MB: prepare {prepare["peak_rss_mb"]:.0f} MB, '
        f'train {train["peak_rss_mb"]:.0f} MB')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_memory', main))
