import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import jw2v
from jw2v.cli import main
from conftest import write_text

SENTENCES = ['the cat sat on the mat', 'the dog sat on the log', 'a cat and a dog met on a mat',
             'the king and the queen sat', 'a man and a woman met the king']


@pytest.fixture(scope='module')
def corpus_file(tmp_path_factory):
  rng = np.random.default_rng(0)
  lines = [SENTENCES[i] for i in rng.integers(0, len(SENTENCES), 400)]
  return write_text(tmp_path_factory.mktemp('corpus') / 'corpus.txt', '\n'.join(lines) + '\n')


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory, corpus_file):
  out = tmp_path_factory.mktemp('run') / 'out'
  assert main(['train', str(corpus_file), '--out', str(out), '--model', 'skipgram', '--dim', '10',
               '--min-count', '1', '--epochs', '2', '--quiet']) == 0
  return out


def _fails(capsys, argv, *expected):
  assert main(argv) != 0
  err = capsys.readouterr().err.strip()
  assert err.count('\n') == 0, err  # one line
  assert err.startswith('jw2v: error:') and 'Traceback' not in err
  for text in expected:
    assert text in err, err
  return err


def test_train_writes_every_output(trained_dir):
  names = sorted(p.name for p in trained_dir.iterdir())
  assert names == ['config.json', 'history.json', 'params.npz', 'vectors.bin', 'vectors.txt', 'vocab.txt']
  run = jw2v.load_run(trained_dir)
  assert run.config.model == 'skipgram' and run.config.dim == 10 and len(run.history['epochs']) == 2
  assert run.history['raw_words'] > 0 and run.history['corpus'].endswith('corpus.txt')


def test_similar_and_analogy_print_neighbours(trained_dir, capsys):
  assert main(['similar', str(trained_dir), 'cat', '-n', '3']) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3 and all(len(line.split()) == 2 for line in lines)
  assert 'cat' not in [line.split()[1] for line in lines]
  assert main(['analogy', str(trained_dir / 'vectors.txt'), 'man', 'king', 'woman', '-n', '2']) == 0
  words = [line.split()[1] for line in capsys.readouterr().out.strip().splitlines()]
  assert len(words) == 2 and not {'man', 'king', 'woman'} & set(words)


@pytest.mark.parametrize('flag, value, field', [('--dim', '0', 'dim'), ('--window', '0', 'window'),
                                                ('--negative', '-1', 'negative'), ('--epochs', '0', 'epochs'),
                                                ('--sample', '-1', 'sample'), ('--model', 'glove', 'model'),
                                                ('--alpha', '0', 'alpha'), ('--batch-size', '0', 'batch_size')])
def test_impossible_hyperparameters(tmp_path, capsys, corpus_file, flag, value, field):
  _fails(capsys, ['train', str(corpus_file), '--out', str(tmp_path / 'o'), flag, value], field)
  assert not (tmp_path / 'o').exists()


def test_bad_corpora(tmp_path, capsys):
  _fails(capsys, ['train', str(tmp_path / 'missing.txt'), '--out', str(tmp_path / 'o')], 'not found')
  _fails(capsys, ['train', str(tmp_path), '--out', str(tmp_path / 'o')], 'directory')
  empty = write_text(tmp_path / 'empty.txt', '\n  \n')
  _fails(capsys, ['train', str(empty), '--out', str(tmp_path / 'o')], 'empty')
  few = write_text(tmp_path / 'few.txt', 'only one word here\n' * 3)
  _fails(capsys, ['train', str(few), '--out', str(tmp_path / 'o')], 'min_count=5', 'need at least 2')
  one = write_text(tmp_path / 'one.txt', 'same same same same same\n')
  _fails(capsys, ['train', str(one), '--out', str(tmp_path / 'o'), '--min-count', '1'], 'need at least 2')


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0, reason='root reads any file')
def test_unreadable_corpus(tmp_path, capsys, corpus_file):
  locked = tmp_path / 'locked.txt'
  shutil.copy(corpus_file, locked)
  locked.chmod(0)
  _fails(capsys, ['train', str(locked), '--out', str(tmp_path / 'o')], 'cannot read corpus')


def test_invalid_utf8_is_counted_not_fatal(tmp_path, capsys, corpus_file):
  bad = tmp_path / 'bad.txt'
  bad.write_bytes(corpus_file.read_bytes() + b'caf\xe9 au lait\n')
  assert main(['train', str(bad), '--out', str(tmp_path / 'o'), '--min-count', '1', '--epochs', '1',
               '--dim', '4']) == 0
  assert '1 byte(s) of invalid UTF-8' in capsys.readouterr().err


def test_existing_vectors_are_not_overwritten(tmp_path, capsys, corpus_file, trained_dir):
  out = tmp_path / 'o'
  shutil.copytree(trained_dir, out)
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--min-count', '1'], 'already holds', '--force')
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before
  assert main(['train', str(corpus_file), '--out', str(out), '--min-count', '1', '--epochs', '1',
               '--dim', '4', '--force', '--quiet']) == 0
  assert jw2v.load_run(out).config.dim == 4


def test_unknown_words_and_missing_vectors(tmp_path, capsys, trained_dir):
  _fails(capsys, ['similar', str(trained_dir), 'zebra'], "'zebra' is not in the vocabulary")
  _fails(capsys, ['analogy', str(trained_dir), 'cat', 'zebra', 'dog'], "'zebra'")
  _fails(capsys, ['similar', str(tmp_path / 'nothing.bin'), 'cat'], 'not found')
  _fails(capsys, ['similar', str(tmp_path), 'cat'], 'no vectors.bin or vectors.txt')
  truncated = tmp_path / 'cut.bin'
  truncated.write_bytes((trained_dir / 'vectors.bin').read_bytes()[:-30])
  _fails(capsys, ['similar', str(truncated), 'cat'], 'cut.bin', 'truncated')


def test_console_script_and_module_exit_codes(tmp_path, trained_dir):
  script = shutil.which('jw2v', path=os.path.dirname(sys.executable))
  assert script, 'the package installs a jw2v console script'
  for cmd in ([script], [sys.executable, '-m', 'jw2v']):
    ok = subprocess.run(cmd + ['similar', str(trained_dir), 'cat', '-n', '2'], capture_output=True, text=True)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 2
    bad = subprocess.run(cmd + ['train', str(tmp_path / 'nope.txt'), '--out', str(tmp_path / 'o')],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and 'Traceback' not in bad.stderr
    assert bad.stderr.strip().splitlines() == [f'jw2v: error: corpus not found: {tmp_path / "nope.txt"} '
                                               '(not a file, nor a dataset name: ptb)']


def test_eval_prints_a_table_and_writes_json(tmp_path, capsys, trained_dir):
  pytest.importorskip('gensim')
  pairs = write_text(tmp_path / 'pairs.tsv', 'cat\tdog\t8\nking\tqueen\t9\nmat\tlog\t3\ncat\tking\t1\n')
  analogies = write_text(tmp_path / 'q.txt', ': animals\ncat dog king queen\n: gram-x\nman woman king queen\n')
  assert main(['eval', str(trained_dir), '--pairs', str(pairs), '--analogies', str(analogies),
               '--json', str(tmp_path / 'r.json')]) == 0
  out = capsys.readouterr().out
  assert 'pairs' in out and 'semantic' in out and 'syntactic' in out
  import json
  results = json.loads((tmp_path / 'r.json').read_text())
  assert results['pairs']['pairs']['pairs'] == 4 and results['analogies']['questions'] == 2
  assert set(results['analogies']['sections']) == {'animals', 'gram-x'}
  assert main(['eval', str(trained_dir / 'vectors.bin')]) == 0  # the standard sets from gensim
  assert 'WordSim-353' in capsys.readouterr().out


def test_export_and_plot(tmp_path, capsys, trained_dir):
  assert main(['export', str(trained_dir), str(tmp_path / 'proj')]) == 0
  assert (tmp_path / 'proj' / 'metadata.tsv').read_text().splitlines() == list(jw2v.load_run(trained_dir).vocab.words)
  assert main(['export', str(trained_dir), str(tmp_path / 'v.bin'), '--format', 'binary']) == 0
  np.testing.assert_array_equal(jw2v.load_word2vec(tmp_path / 'v.bin').vectors,
                                jw2v.WordVectors.load(trained_dir).vectors)
  pytest.importorskip('matplotlib')
  out = tmp_path / 'plots'
  assert main(['plot', str(trained_dir), '--words', 'cat', 'dog', 'king', 'queen', '--out-dir', str(out)]) == 0
  assert sorted(p.name for p in out.iterdir()) == ['loss.png', 'words.png']
  _fails(capsys, ['plot', str(trained_dir / 'vectors.txt'), '--words', 'cat', 'dog'], '--out-dir')
  _fails(capsys, ['plot', str(trained_dir), '--words', 'cat', 'zebra', '--out-dir', str(out)], 'zebra')
  _fails(capsys, ['eval', str(tmp_path / 'none.txt')], 'not found')
