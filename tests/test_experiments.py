"""The benchmarks in experiments/ run end to end at toy sizes and write what their docstrings promise.

Their figures at these sizes mean nothing; what is checked is that each script still runs against the
current API (none of them is imported by the package) and that its results hold the fields the README
quotes. book_ptb.py is left out: it needs the whole PTB and takes 20 s an epoch.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parent.parent / 'experiments'


def run(script: str, *args: str, cwd: Path, status: int = 0) -> subprocess.CompletedProcess:
  """Runs an experiment in a fresh process; checks its exit status."""
  done = subprocess.run([sys.executable, str(EXPERIMENTS / script), *args], cwd=cwd, capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == status, f'{script} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}'
  return done


def results(out: Path) -> dict:
  return json.loads((out / 'results.json').read_text())


@pytest.fixture(scope='module')
def text_corpus(tmp_path_factory) -> Path:
  """Zipf-distributed lines over the words of WordSim-353, so that the benchmarks' scores have pairs to
  score."""
  from gensim.test.utils import datapath
  pairs = [line.split('\t') for line in Path(datapath('wordsim353.tsv')).read_text().splitlines()
           if not line.startswith('#')]
  words = sorted({w.lower() for pair in pairs for w in pair[:2]})
  assert len(words) > 400 and all(w.isalpha() for w in words)
  rng = np.random.default_rng(0)
  p = 1.0 / np.arange(1, len(words) + 1)
  ids = rng.choice(len(words), size=40_000, p=p / p.sum())
  lines = [' '.join(words[i] for i in chunk) for chunk in np.array_split(ids, 2_000)]
  path = tmp_path_factory.mktemp('corpus') / 'zipf.txt'
  path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
  return path


def test_profile_step(tmp_path):
  out = run('profile_step.py', '--batch-size', '256', '--steps', '8', '--vocab', '2000', '--tokens', '200000',
            '--repeats', '2', cwd=tmp_path).stdout
  # The script itself fails if its copy of the step no longer computes what jw2v's step computes.
  for line in ('make_examples:', 'negatives:', "jw2v's step", 'copy of the step', 'no scatter-add', 'forward only'):
    assert line in out


def test_bench_vocab_scaling(tmp_path):
  run('bench_vocab_scaling.py', '--vocabs', '1000', '20000', '--steps', '4', '--reference-steps', '1',
      '--repeats', '1', '--tokens', '100000', '--out', str(tmp_path / 'out'), cwd=tmp_path)
  rows = results(tmp_path / 'out')['rows']
  assert [r['vocab'] for r in rows] == [1000, 20000]
  assert all(r['sparse_ms'] > 0 and r['reference_ms'] > 0 for r in rows)
  assert rows[0]['sparse_vs_smallest'] == 1.0
  assert '| 20,000 |' in (tmp_path / 'out' / 'results.md').read_text()


def test_bench_throughput(tmp_path):
  run('bench_throughput.py', '--vocab', '2000', '--tokens', '200000', '--dims', '16', '--epochs', '2',
      '--batch-size', '256', '--quality-epochs', '0', '--out', str(tmp_path / 'out'), cwd=tmp_path)
  run16 = results(tmp_path / 'out')['synthetic']['16']
  assert len(run16['epoch_seconds']) == 2 and run16['raw_words_per_sec'] > 0
  assert run16['steady_words_per_sec'] > run16['raw_words_per_sec']  # compilation is outside the steady figure


def test_bench_vs_gensim(tmp_path, text_corpus):
  run('bench_vs_gensim.py', '--corpus', str(text_corpus), '--epochs', '1', '--dim', '16',
      '--out', str(tmp_path / 'out'), cwd=tmp_path)
  runs = results(tmp_path / 'out')['runs']
  for model in ('skipgram', 'cbow'):
    for tool in ('jw2v_cold', 'jw2v_warm', 'gensim'):
      got = runs[model][tool]
      assert got['raw_words'] == 40_000 and got['wall_seconds'] > 0
      assert all(math.isfinite(got[k]) for k in ('wordsim353', 'simlex999', 'analogy'))
    assert runs[model]['speedup_cold'] == pytest.approx(
        runs[model]['gensim']['wall_seconds'] / runs[model]['jw2v_cold']['wall_seconds'])
  assert '| skipgram |' in (tmp_path / 'out' / 'results.md').read_text()


def test_bench_replicas(tmp_path, text_corpus):
  run('bench_replicas.py', str(text_corpus), '--models', '2', '--epochs', '1', '--out', str(tmp_path / 'out'),
      cwd=tmp_path)
  got = results(tmp_path / 'out')
  first, second = got['models']
  assert (first['seed'], second['seed']) == (1, 2) and got['speedup'] > 0
  # train_many's models share the first model's examples, so that one is trained as `train` trains it alone
  # (the same vectors up to summation order); the other sees other examples than its own run alone.
  assert first['together_wordsim353'] == pytest.approx(first['apart_wordsim353'], abs=1e-3)
  assert math.isfinite(second['together_wordsim353']) and math.isfinite(second['apart_wordsim353'])


def test_pool_quality(tmp_path, text_corpus):
  run('pool_quality.py', '--corpus', str(text_corpus), '--rare', '20000', '--seeds', '1', '--models', 'cbow',
      '--epochs', '1', '--dim', '16', '--out', str(tmp_path / 'out'), cwd=tmp_path)
  got = results(tmp_path / 'out')
  assert got['vocab'] > 20_000 and 0 < got['pooled_share'] < 1  # some rare words lie beyond rank 16,384
  assert [(r['model'], r['pool'], r['seed']) for r in got['rows']] == [('cbow', 512, 1), ('cbow', 0, 1)]
  assert all(math.isfinite(r['wordsim353']) for r in got['rows'])


def test_bench_analogies(tmp_path):
  run('bench_analogies.py', '--vocab', '2000', '--dim', '16', '--repeat', '1', '--out', str(tmp_path / 'out'),
      cwd=tmp_path)
  got = results(tmp_path / 'out')
  assert got['same_results'] and got['accuracy'] == got['gensim_accuracy'] > 0


def test_bench_sharded_tables(tmp_path):
  run('bench_sharded_tables.py', '--vocab', '20000', '--dim', '16', '--devices', '2', '--tokens', '50000',
      '--out', str(tmp_path / 'out'), cwd=tmp_path)
  row, = results(tmp_path / 'out')['rows']
  assert row['shard_tables'] and row['fraction_per_device'] == [0.5, 0.5]


def test_bench_memory(tmp_path):
  run('bench_memory.py', '--gb', '0.002', '--vocab', '2000', '--dim', '16', '--workdir', str(tmp_path / 'work'),
      '--out', str(tmp_path / 'out'), cwd=tmp_path)
  got = results(tmp_path / 'out')
  assert got['corpus']['raw_words'] > 0 and got['prepare_within_bound'] and got['train_within_bound']


@pytest.mark.parametrize('script, args, message', [
    ('bench_vs_gensim.py', ['--corpus', 'missing.txt'], 'bench_vs_gensim: error: corpus not found: missing.txt'),
    ('bench_replicas.py', ['missing.txt'], 'bench_replicas: error: corpus not found: missing.txt'),
    ('bench_throughput.py', ['--tokens', '0', '--quality-epochs', '0'],
     'bench_throughput: error: synthetic_corpus: n_tokens must be a positive integer, got 0'),
    ('bench_vs_gensim.py', ['--corpus', 'empty.txt'],  # found by the worker process, reported by the parent
     'bench_vs_gensim: error: the jw2v skipgram run failed: corpus is empty (no words): empty.txt'),
])
def test_bad_input_is_one_line_and_a_failure(tmp_path, script, args, message):
  (tmp_path / 'empty.txt').write_text('')
  done = run(script, *args, cwd=tmp_path, status=1)
  assert 'Traceback' not in done.stderr
  assert done.stderr.strip().splitlines()[-1].startswith(message), done.stderr
  assert not (tmp_path / 'runs').exists()  # nothing written
