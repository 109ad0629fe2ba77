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
  for line in ('make_examples:', 'negatives:', "jw2v's step", 'no scatter-add', 'forward only'):
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


def test_bench_vs_gensim_on_each_core_count(tmp_path, text_corpus):
  import os
  counts = sorted({1, min(2, len(os.sched_getaffinity(0)))})
  run('bench_vs_gensim.py', '--corpus', str(text_corpus), '--epochs', '1', '--dim', '16', '--models', 'cbow',
      '--cores', *map(str, counts), '--local-updates', '--steps-per-call', '16', '--out', str(tmp_path / 'out'),
      cwd=tmp_path)
  got = results(tmp_path / 'out')
  by_cores = got['by_cores']
  assert sorted(by_cores) == sorted(map(str, counts)) and got['runs'] == by_cores[str(counts[-1])]['runs']
  for n in counts:
    assert all(by_cores[str(n)]['runs']['cbow'][name]['cores_used'] == n for name in ('jw2v_cold', 'jw2v_warm', 'gensim'))
    assert by_cores[str(n)]['runs']['cbow']['jw2v_cold']['devices'] == n  # --local-updates: a CPU device a core
    assert by_cores[str(n)]['runs']['cbow']['jw2v_cold']['steps_per_call'] == 16
    for tool, name in (('jw2v', 'jw2v_cold'), ('gensim', 'gensim')):
      assert got['scaling']['cbow'][str(n)][tool] == pytest.approx(
          by_cores[str(counts[0])]['runs']['cbow'][name]['wall_seconds'] / by_cores[str(n)]['runs']['cbow'][name]['wall_seconds'])
  assert got['scaling']['cbow'][str(counts[0])] == {'jw2v': 1.0, 'gensim': 1.0}
  assert f'| {counts[-1]} cores: model |' in (tmp_path / 'out' / 'results.md').read_text()


def test_bench_vs_gensim_refuses_more_cores_than_it_has(tmp_path):
  import os
  done = run('bench_vs_gensim.py', '--cores', str(len(os.sched_getaffinity(0)) + 1), cwd=tmp_path, status=2)
  assert '--cores must lie between 1 and the' in done.stderr and 'Traceback' not in done.stderr
  done = run('bench_vs_gensim.py', '--steps-per-call', '0', cwd=tmp_path, status=2)
  assert '--steps-per-call must be at least 1, got 0' in done.stderr and 'Traceback' not in done.stderr


def test_device_check_runs_every_part_at_toy_sizes(tmp_path, text_corpus):
  run('device_check.py', '--toy', '--device', 'cpu', '--corpus', str(text_corpus), '--tests', 'tests/test_config.py',
      '--out', str(tmp_path / 'out'), cwd=tmp_path)
  got = results(tmp_path / 'out')
  names = ['machine', 'throughput', 'cbow', 'profile', 'train_many', 'sharded', 'cores', 'tests']
  assert list(got['parts']) == names and all(got['parts'][n]['status'] == 'ok' for n in names)
  assert got['parts']['throughput']['results']['synthetic']['16']['raw_words_per_sec'] > 0
  assert got['parts']['cbow']['results']['settings']['model'] == 'cbow'
  assert 'cbow' in got['parts']['cores']['results']['scaling']
  assert any('passed' in line for line in got['parts']['tests']['output_tail'])
  table = (tmp_path / 'out' / 'results.md').read_text()
  assert all(f'| {n} | ok |' in table for n in names) and "jw2v's step" in table


def test_device_check_skips_what_the_budget_leaves_no_time_for(tmp_path):
  run('device_check.py', '--budget', '5', '--only', 'machine', '--out', str(tmp_path / 'out'), cwd=tmp_path, status=1)
  assert results(tmp_path / 'out')['parts']['machine']['status'] == 'skipped: out of time'


def test_device_check_names_a_part_it_does_not_have(tmp_path):
  done = run('device_check.py', '--only', 'nosuch', cwd=tmp_path, status=2)
  assert "argument --only: invalid choice: 'nosuch'" in done.stderr and 'Traceback' not in done.stderr
  assert not (tmp_path / 'runs').exists()


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


def test_quality_matrix(tmp_path, text_corpus):
  out = tmp_path / 'out'
  run('quality_matrix.py', '--corpora', f'toy={text_corpus}', '--seeds', '1', '2', '--epochs', '1', '--dim', '16',
      '--out', str(out), cwd=tmp_path)
  got = results(out)
  assert [(r['corpus'], r['model'], r['seed'], r['tool']) for r in got['runs']] == [
      ('toy', model, seed, tool) for model in ('skipgram', 'cbow') for seed in (1, 2) for tool in ('jw2v', 'gensim')]
  for row in got['summary']:
    for tool in ('jw2v', 'gensim'):
      mine = [r for r in got['runs'] if (r['model'], r['tool']) == (row['model'], tool)]
      assert row[tool]['raw_words'] == 40_000 and row[tool]['vocab_size'] == mine[0]['vocab_size'] > 400
      assert row[tool]['wall_seconds'] == pytest.approx(sum(r['wall_seconds'] for r in mine) / 2)
      for score in ('wordsim353', 'simlex999', 'analogy'):
        assert row[tool][score] == pytest.approx({'mean': sum(r[score] for r in mine) / 2,
                                                  'min': min(r[score] for r in mine)})
    for score, tolerance in got['tolerance'].items():
      difference = row['jw2v'][score]['mean'] - row['gensim'][score]['mean']
      assert row['difference'][score] == pytest.approx(difference)
      judged = row['covered'][score] >= got['min_covered']  # fewer pairs or questions: not judged (None)
      assert row['within'][score] == ((difference >= -tolerance) if judged else None)
    assert row['covered']['wordsim353'] > 100  # the toy corpus is made of WordSim-353's words
    assert row['covered']['analogy'] < 100  # and holds few of the analogies' words
  assert all(len(r['epoch_losses']) == 1 and r['config']['init_scale'] == 1.0 for r in got['runs'] if r['tool'] == 'jw2v')
  table = (out / 'results.md').read_text()
  assert '| toy | 0.04 M |' in table and 'questions: not judged)' in table
  # A variant of jw2v against the same gensim runs, reused rather than trained again.
  run('quality_matrix.py', '--corpora', f'toy={text_corpus}', '--seeds', '1', '2', '--epochs', '1', '--dim', '16',
      '--models', 'cbow', '--jw2v', 'init_scale=0.5', '--gensim-from', str(out / 'results.json'),
      '--out', str(tmp_path / 'variant'), cwd=tmp_path)
  variant = results(tmp_path / 'variant')
  assert variant['jw2v_extra'] == {'init_scale': 0.5}
  gensim_runs = [r for r in variant['runs'] if r['tool'] == 'gensim']
  assert all(r['reused'] for r in gensim_runs)
  assert gensim_runs == [{**r, 'reused': True} for r in got['runs'] if (r['tool'], r['model']) == ('gensim', 'cbow')]
  assert all(r['config']['init_scale'] == 0.5 for r in variant['runs'] if r['tool'] == 'jw2v')


def _corpora():
  sys.path.insert(0, str(EXPERIMENTS))
  try:
    import corpora
  finally:
    sys.path.remove(str(EXPERIMENTS))
  return corpora


def test_corpora_words_are_lower_case_letters_with_inner_apostrophes():
  corpora = _corpora()
  assert corpora.words("Café au lait, one's \\fBfont\\fR -- 1913 'quoted' don't!") == [
      'cafe', 'au', 'lait', "one's", 'fbfont', 'fr', 'quoted', "don't"]


def test_corpora_dictionary_entries_follow_the_dictd_index():
  corpora = _corpora()
  data = b'Abandon v. t. To give up.\nAbase v. t. To lower.\n'
  number = lambda n: corpora._BASE64[n // 64] + corpora._BASE64[n % 64] if n >= 64 else corpora._BASE64[n]
  index = [f'00-database-info\t{number(0)}\t{number(5)}', f'abase\t{number(26)}\t{number(22)}',
           f'abandon\t{number(0)}\t{number(26)}', f'give up\t{number(0)}\t{number(26)}']
  assert list(corpora.dictionary_entries(data, index)) == ['Abandon v. t. To give up.\n', 'Abase v. t. To lower.\n']
  assert corpora._dictd_number('BQ+') == 1 * 64 * 64 + 16 * 64 + 62


def test_corpora_bible_verses_skip_headings_and_numbers():
  printed = ['', 'Genesis 1', '', '  1 In the beginning God created the heaven and the earth.',
             '  2 And the earth was without form, and void.', 'Exodus 2', '  10 And the child grew.']
  assert list(_corpora().bible_verses(printed)) == [
      'In the beginning God created the heaven and the earth.', 'And the earth was without form, and void.',
      'And the child grew.']


def test_corpora_strip_roff_keeps_the_running_text():
  source = '\n'.join(['.\\" a comment', '.TH OPEN 2', '.SH NAME', 'open \\- open a file', '.PP', '.B O_RDONLY',
                      'opens \\fIpathname\\fP for\\ reading \\(em see', '.BR close (2)', '.nf', '.in +4n'])
  assert _corpora().words(_corpora().strip_roff(source)) == [
      'name', 'open', 'open', 'a', 'file', 'o', 'rdonly', 'opens', 'pathname', 'for', 'reading', 'see', 'close']


def test_corpora_fortunes_and_a_missing_source(tmp_path, monkeypatch):
  corpora = _corpora()
  (tmp_path / 'wisdom').write_text('First fortune.\n%\nSecond\none.\n%\n')
  (tmp_path / 'wisdom.dat').write_bytes(b'\0\1')  # the index strfile writes, skipped
  assert [corpora.words(t) for t in corpora.fortune_texts(tmp_path)] == [['first', 'fortune'], ['second', 'one'], []]
  built = corpora.write_corpus(([w] for w in ('a', 'b', 'c')), tmp_path / 'out' / 'x.txt')
  assert (built.lines, built.tokens, built.longest_line) == (3, 3, 1)
  assert (tmp_path / 'out' / 'x.txt').read_text() == 'a\nb\nc\n'
  monkeypatch.setitem(corpora.SOURCES, 'fortunes', corpora.Source(
      corpora._tokenised(lambda: corpora.fortune_texts(tmp_path / 'none')), 'Debian: fortunes fortunes-min'))
  with pytest.raises(corpora.DataError, match='cannot build the fortunes corpus: .* is missing; install Debian: '
                                              'fortunes fortunes-min'):
    corpora.build('fortunes', tmp_path / 'out')
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['x.txt']  # nothing partial left


def test_corpora_builds_the_wiki_sample(tmp_path):
  done = run('corpora.py', '--out', str(tmp_path), 'wiki', cwd=tmp_path)
  assert f'{tmp_path / "wiki.txt"}: 106 lines, 452,944 tokens, longest line 15,298' in done.stdout
  lines = (tmp_path / 'wiki.txt').read_text().splitlines()
  assert len(lines) == 106 and lines[0].split()[:2] == ['anarchism', 'is']


@pytest.mark.parametrize('script, args, message', [
    ('quality_matrix.py', ['--corpora', 'x=missing.txt'], 'quality_matrix: error: corpus not found: missing.txt'),
    ('quality_matrix.py', ['--corpora', 'nosuch'], "quality_matrix: error: unknown corpus 'nosuch'"),
    ('quality_matrix.py', ['--jw2v', 'dim=3'], 'quality_matrix: error: --jw2v takes FIELD=VALUE'),
    ('quality_matrix.py', ['--jw2v', 'batch_size=0'], 'quality_matrix: error: batch_size must be a whole number'),
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
