"""The GPU machine's checks in one call: the benchmarks and the test suite, one JSON and one Markdown table.

A GPU machine is lent for minutes at a time, so everything worth knowing about the GPU path is run by
this one script, in order of importance, each part in its own process with its own time limit, within
--budget seconds in all (a part that does not fit in what is left is recorded as skipped, never started):

  machine      JAX's version and devices (a child process: this one never starts JAX on the GPU)
  throughput   bench_throughput.py: skip-gram dim 100 and 300 on a synthetic 100k-word vocabulary,
               then PTB skip-gram's quality at the same batch size
  cbow         bench_throughput.py --model cbow, dim 100
  profile      profile_step.py: where a step's time goes
  train_many   bench_replicas.py: 4 models in each step against one after the other
  sharded      bench_sharded_tables.py: tables split by rows against replicated ones
  cores        bench_vs_gensim.py --cores 1 2 4 ... --local-updates: jw2v (a CPU device a core, each
               with its own copy of the tables) and gensim on 1, 2, 4, ... cores of the host
  tests        the test suite (not the slow quality runs) on the GPU

Each part's results.json is copied into one results.json (with every part's command, exit status, wall
time and last lines of output), and results.md gives one table: part, status, seconds, headline figures.

  JW2V_DATA_DIR=../shared/data python experiments/device_check.py --out runs/device_check   # on the GPU machine
  python experiments/device_check.py --toy --device cpu --corpus my.txt --out /tmp/check     # toy sizes, any CPU

--toy runs every part at toy sizes (what the tests do on a CPU); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple, Optional

EXPERIMENTS = Path(__file__).resolve().parent
ROOT = EXPERIMENTS.parent
# The tests that exercise what runs on the device (steps, feed, examples, the training loop).
DEVICE_TESTS = ['tests/test_grads.py', 'tests/test_model.py', 'tests/test_hs.py', 'tests/test_layers.py',
                'tests/test_batches.py', 'tests/test_feed.py', 'tests/test_devices.py', 'tests/test_train.py']


PARTS = ('machine', 'throughput', 'cbow', 'profile', 'train_many', 'sharded', 'cores', 'tests')


class Part(NamedTuple):
  """One check: a command, its time limit, where it writes its results.json (None: none), extra environment."""
  name: str
  argv: list
  timeout: float
  out: Optional[Path]
  env: dict = {}


def parts(args, out: Path) -> list:
  """The checks in order of importance, at the sizes --toy asks for."""
  script = lambda name: [sys.executable, str(EXPERIMENTS / name)]
  device, toy = ['--device', args.device], args.toy
  cores = [n for n in (1, 2, 4, 8, 16) if n <= len(os.sched_getaffinity(0))]
  synthetic = lambda dims, quality_epochs: (
      ['--vocab', '2000', '--tokens', '200000', '--dims', '16', '--batch-size', '256', '--quality-epochs', '0']
      if toy else ['--vocab', '100000', '--tokens', '20000000', '--dims', *dims, '--batch-size', str(args.batch_size),
                   '--quality-epochs', quality_epochs])
  throughput, cbow = synthetic(['100', '300'], '10'), synthetic(['100'], '0')
  profile = (['--batch-size', '256', '--steps', '8', '--vocab', '2000', '--tokens', '200000', '--repeats', '2']
             if toy else ['--batch-size', str(args.batch_size), '--vocab', '100000'])
  replicas = ['--models', '2', '--epochs', '1'] if toy else ['--models', '4', '--epochs', '10',
                                                              '--batch-size', str(args.batch_size)]
  sharded = (['--vocab', '2000', '--dim', '16', '--tokens', '20000', '--devices', '1']
             if toy else ['--vocab', '1000000', '--dim', '100', '--tokens', '2000000', '--devices', str(args.gpus),
                          '--batch-size', str(args.batch_size)])
  scaling = ['--epochs', '1'] + (['--dim', '16', '--models', 'cbow'] if toy else [])
  tests = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', 'not slow',
           *(args.tests or DEVICE_TESTS)]
  checks = [
      Part('machine', [sys.executable, '-c', 'import jax; print(jax.__version__, jax.devices())'], 60, None),
      Part('throughput', script('bench_throughput.py') + device + throughput, 150, out / 'throughput'),
      Part('cbow', script('bench_throughput.py') + device + ['--model', 'cbow'] + cbow, 60, out / 'cbow'),
      Part('profile', script('profile_step.py') + device + profile, 60, None),
      Part('train_many', script('bench_replicas.py') + [args.corpus] + device + replicas, 90, out / 'train_many'),
      Part('sharded', script('bench_sharded_tables.py') + device + sharded + ['--compare-replicated'], 60,
           out / 'sharded'),
      Part('cores', script('bench_vs_gensim.py') + ['--corpus', args.corpus, '--cores', *map(str, cores),
                                                    '--local-updates'] + scaling,
           240, out / 'cores', {'JAX_PLATFORMS': 'cpu'}),  # the host's cores, also on a GPU machine
      Part('tests', tests, 600, None)]
  return [p if p.out is None else p._replace(argv=p.argv + ['--out', str(p.out)]) for p in checks
          if not args.only or p.name in args.only]


def run_part(part: Part, seconds_left: float) -> dict:
  """Runs one part within min(its limit, what the budget has left); its status, time, output and results."""
  limit = min(part.timeout, seconds_left)
  row = {'command': part.argv, 'limit_seconds': limit}
  if limit < 10:
    return {**row, 'status': 'skipped: out of time', 'seconds': 0.0}
  start = time.perf_counter()
  try:
    done = subprocess.run(part.argv, cwd=ROOT, capture_output=True, text=True, timeout=limit,
                          env={**os.environ, **part.env})
    status, output = ('ok' if done.returncode == 0 else f'failed ({done.returncode})'), done.stdout + done.stderr
  except subprocess.TimeoutExpired as stopped:
    status, output = f'stopped at {limit:.0f} s', _text(stopped.stdout) + _text(stopped.stderr)
  row.update(status=status, seconds=time.perf_counter() - start, output_tail=output.strip().splitlines()[-40:])
  if part.out is not None and (part.out / 'results.json').exists():
    row['results'] = json.loads((part.out / 'results.json').read_text())
  print(f'{part.name}: {status} ({row["seconds"]:.0f} s)', file=sys.stderr, flush=True)
  return row


def _text(stream) -> str:
  return stream.decode(errors='replace') if isinstance(stream, bytes) else (stream or '')


def headline(name: str, row: dict) -> str:
  """The figures a part is run for, in one cell."""
  r, tail = row.get('results'), row.get('output_tail') or []
  if name in ('throughput', 'cbow') and r:
    cells = [f'dim {d}: {x["raw_words_per_sec"] / 1e6:.1f}M raw words/s ({x["steady_words_per_sec"] / 1e6:.1f}M '
             f'steady)' for d, x in r['synthetic'].items()]
    if r.get('ptb'):
      p = r['ptb']
      cells.append(f'PTB at batch {p["batch_size"]}: WS {p["wordsim353"]:.3f}, SL {p["simlex999"]:.3f}, '
                   f'AN {100 * p["analogy"]:.2f} %')
    return '; '.join(cells)
  if name == 'train_many' and r:
    return f'train_many {r["train_many_seconds"]:.1f} s, one after the other {r["sequential_seconds"]:.1f} s ({r["speedup"]:.2f}x)'
  if name == 'sharded' and r:
    return '; '.join(f'{"sharded" if x["shard_tables"] else "replicated"} {x["words_per_sec"]:,.0f} words/s'
                     for x in r['rows'])
  if name == 'cores' and r:
    return '; '.join(f'{model} {n} cores: jw2v {x["jw2v"]:.2f}x, gensim {x["gensim"]:.2f}x'
                     for model, by_n in r['scaling'].items() for n, x in by_n.items() if n != '1')
  if name == 'profile':
    return '; '.join(' '.join(line.split()) for line in tail if '/step' in line)
  return tail[-1] if tail else ''


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--device', choices=('cpu', 'gpu'), default='gpu', help='the JAX platform of the parts (default gpu)')
  parser.add_argument('--gpus', type=int, default=1, help='devices for the sharded part (default 1)')
  parser.add_argument('--batch-size', type=int, default=8192, help='the GPU batch size (default 8192)')
  parser.add_argument('--corpus', default='ptb', help='text file or dataset name for train_many and cores (default ptb)')
  parser.add_argument('--budget', type=float, default=480, help='seconds for all parts together (default 480)')
  parser.add_argument('--toy', action='store_true', help='toy sizes: checks that every part runs, on any machine')
  parser.add_argument('--only', nargs='+', default=None, choices=PARTS, metavar='PART', help='run only these parts')
  parser.add_argument('--tests', nargs='+', default=None, help="the tests part's pytest arguments (default: the device tests)")
  parser.add_argument('--out', default='runs/device_check')
  args = parser.parse_args()
  if args.budget <= 0 or args.batch_size < 1 or args.gpus < 1:
    parser.error('--budget, --batch-size and --gpus must be positive')
  out = Path(args.out).resolve()
  if args.corpus != 'ptb' and os.path.exists(args.corpus):
    args.corpus = str(Path(args.corpus).resolve())  # the parts run from the repository's root
  out.mkdir(parents=True, exist_ok=True)
  started, found = time.perf_counter(), {}
  for part in parts(args, out):
    found[part.name] = run_part(part, args.budget - (time.perf_counter() - started))
  commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
  results = {'date': time.strftime('%Y-%m-%d'), 'commit': commit, 'settings': vars(args),
             'seconds': time.perf_counter() - started, 'parts': found}
  lines = [f'device_check, {results["date"]}, commit {commit or "?"}, {args.device}'
           f'{" (toy sizes)" if args.toy else ""}: {results["seconds"]:.0f} s', '',
           '| part | status | s | figures |', '|---|---|---|---|']
  lines += [f'| {name} | {row["status"]} | {row["seconds"]:.0f} | {headline(name, row).replace("|", "/")} |'
            for name, row in found.items()]
  (out / 'results.json').write_text(json.dumps(results, indent=2, default=float) + '\n')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')
  print('\n'.join(lines))
  return 0 if all(row['status'] == 'ok' for row in found.values()) else 1


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('device_check', main))
