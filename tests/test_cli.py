import json
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

import jw2v
from jw2v.cli import build_parser, main
from jw2v.run_dir import read_run_start
from conftest import synthetic_text, write_text

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
  assert names == ['checkpoint.npz', 'config.json', 'corpus', 'history.json', 'params.npz', 'run.json',
                   'vectors.bin', 'vectors.txt', 'vocab.txt']
  assert sorted(p.name for p in (trained_dir / 'corpus').iterdir()) == ['corpus.json', 'ids.npy', 'offsets.npy',
                                                                        'vocab.txt']
  run = jw2v.load_run(trained_dir)
  assert run.config.model == 'skipgram' and run.config.dim == 10 and len(run.history['epochs']) == 2
  # config.json records what ran: the fields left to the devices, filled in
  assert run.config == jw2v.Config(**{**json.loads((trained_dir / 'config.json').read_text()), 'negative_pool': None,
                                      'batch_size': None}).resolved(jax.default_backend())
  assert run.history['raw_words'] > 0 and run.history['corpus'].endswith('corpus.txt')


def test_similar_and_analogy_print_neighbours(trained_dir, capsys):
  assert main(['similar', str(trained_dir), 'cat', '-n', '3']) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3 and all(len(line.split()) == 2 for line in lines)
  assert 'cat' not in [line.split()[1] for line in lines]
  assert main(['analogy', str(trained_dir / 'vectors.txt'), 'man', 'king', 'woman', '-n', '2']) == 0
  words = [line.split()[1] for line in capsys.readouterr().out.strip().splitlines()]
  assert len(words) == 2 and not {'man', 'king', 'woman'} & set(words)


@pytest.mark.parametrize('flag, value', [('--dim', '0'), ('--window', '0'), ('--negative', '-1'), ('--epochs', '0'),
                                         ('--sample', '-1'), ('--model', 'glove'), ('--alpha', '0'),
                                         ('--batch-size', '0'), ('--init-scale', '0'), ('--init-scale', 'nan'),
                                         ('--examples-on', 'gpu'), ('--negative-pool', '100'),
                                         ('--negative-pool-from', '-5'), ('--block-tokens', '0'),
                                         ('--steps-per-call', '0'), ('--merge-every', '0')])
def test_impossible_hyperparameters(tmp_path, capsys, corpus_file, flag, value):
  # the library's error names the Config field; the command names its flag instead
  _fails(capsys, ['train', str(corpus_file), '--out', str(tmp_path / 'o'), flag, value], f'error: {flag} must')
  assert not (tmp_path / 'o').exists()


def test_bad_corpora(tmp_path, capsys):
  _fails(capsys, ['train', str(tmp_path / 'missing.txt'), '--out', str(tmp_path / 'o')], 'not found')
  (tmp_path / 'nothing').mkdir()
  _fails(capsys, ['train', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'o')], 'holds no files')
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
  before = {p: p.read_bytes() for p in out.rglob('*') if p.is_file()}
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--min-count', '1'], 'already holds', '--force')
  assert {p: p.read_bytes() for p in out.rglob('*') if p.is_file()} == before
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


@pytest.fixture(scope='module')
def long_corpus(tmp_path_factory):
  """About 150k words: a training run lasts long enough to be interrupted."""
  return synthetic_text(tmp_path_factory.mktemp('long') / 'long.txt', 150_000, 2_000, seed=3)


def _jw2v(*args, **kw):
  return subprocess.Popen([sys.executable, '-m', 'jw2v', *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


LONG_RUN = ['--model', 'skipgram', '--dim', '16', '--min-count', '1', '--epochs', '12', '--batch-size', '512',
            '--quiet', '--deterministic']


def _wait_for(path, timeout=120, newer_than=0.0):
  """Waits until `path` exists and was last written after `newer_than` (a time.time() value)."""
  import time
  deadline = time.monotonic() + timeout
  while not path.exists() or path.stat().st_mtime <= newer_than:
    assert time.monotonic() < deadline, f'{path} was not written'
    time.sleep(0.01)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, long_corpus):
  out = tmp_path_factory.mktemp('full') / 'run'
  proc = _jw2v('train', str(long_corpus), '--out', str(out), *LONG_RUN)
  assert proc.wait(timeout=300) == 0, proc.stderr.read()
  return np.load(out / 'params.npz')['W_in']


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signals_checkpoint_and_resume_exactly(tmp_path, long_corpus, uninterrupted, signum):
  import time
  out = tmp_path / 'run'
  proc = _jw2v('train', str(long_corpus), '--out', str(out), *LONG_RUN, '--checkpoint-every', '0.2')
  _wait_for(out / '.training' / 'checkpoint.npz')
  time.sleep(0.3)
  proc.send_signal(signum)
  assert proc.wait(timeout=60) == 128 + signum
  err = proc.stderr.read().strip()
  assert 'Traceback' not in err and err.count('\n') == 0, err
  assert err.startswith(f'jw2v: {signal.Signals(signum).name}: stopped in epoch') and err.endswith(
      f'resume with: jw2v train --resume {out}')
  assert not (out / 'vectors.txt').exists()
  # a new run into the stopped run's directory is refused (its checkpoint would be lost), unless --force
  fresh = _jw2v('train', str(long_corpus), '--out', str(out), *LONG_RUN)
  assert fresh.wait(timeout=120) == 1
  assert f'holds an interrupted run (.training/checkpoint.npz); continue it (jw2v train --resume {out}' in fresh.stderr.read()
  resumed = _jw2v('train', '--resume', str(out), '--quiet')
  assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
  np.testing.assert_array_equal(np.load(out / 'params.npz')['W_in'], uninterrupted)
  history = json.loads((out / 'history.json').read_text())
  assert [e['epoch'] for e in history['epochs']] == list(range(1, 13))


def test_sigkill_during_checkpoint_writes_leaves_a_loadable_checkpoint(tmp_path):
  import time
  # Tables of about 22k words x 64: each checkpoint is ~12 MB, long enough to be killed while it is written.
  corpus, vocab = jw2v.synthetic_corpus(150_000, 40_000, seed=3)
  words = np.array(vocab.words)
  text = write_text(tmp_path / 'big.txt', '\n'.join(' '.join(words[corpus.ids[a:b]]) for a, b in
                                                      zip(corpus.offsets[:-1], corpus.offsets[1:])) + '\n')
  settings = ['--model', 'skipgram', '--dim', '64', '--min-count', '1', '--epochs', '3', '--batch-size', '512',
              '--quiet', '--checkpoint-every', '1e-6', '--deterministic']
  full = _jw2v('train', str(text), '--out', str(tmp_path / 'full'), *settings)
  assert full.wait(timeout=300) == 0, full.stderr.read()

  out = tmp_path / 'run'
  args, mid_write = ['train', str(text), '--out', str(out), *settings], 0
  for _ in range(3):
    stale = {p.name for p in (out / '.training').glob('.checkpoint.npz.*.tmp')}
    proc = _jw2v(*args)
    deadline = time.monotonic() + 120
    while not ((out / '.training' / 'checkpoint.npz').exists() and set(p.name for p in (out / '.training').glob('.checkpoint.npz.*.tmp')) - stale):
      assert proc.poll() is None and time.monotonic() < deadline, 'no checkpoint was being written'
      time.sleep(0.001)
    proc.kill()  # SIGKILL, while this process writes a checkpoint
    proc.wait()
    mid_write += bool(set(p.name for p in (out / '.training').glob('.checkpoint.npz.*.tmp')) - stale)
    config, corpus_dir, _ = read_run_start(out)
    jw2v.restore_checkpoint(out / '.training' / 'checkpoint.npz', config, len(jw2v.open_prepared(corpus_dir).vocab))  # loadable
    args = ['train', '--resume', str(out), '--quiet', '--checkpoint-every', '1e-6']
  assert mid_write >= 1, 'no kill landed in the middle of a checkpoint write'
  final = _jw2v(*args)
  assert final.wait(timeout=300) == 0, final.stderr.read()
  np.testing.assert_array_equal(np.load(out / 'params.npz')['W_in'], np.load(tmp_path / 'full' / 'params.npz')['W_in'])
  assert not list(out.glob('.*.tmp'))  # the resumed run removed what the kills left half-written


def test_resume_refuses_what_contradicts_the_run(tmp_path, capsys, corpus_file):
  out = tmp_path / 'run'
  assert main(['train', str(corpus_file), '--out', str(out), '--min-count', '1', '--epochs', '1', '--dim', '8',
               '--quiet']) == 0
  _fails(capsys, ['train', '--resume', str(out)], f'the run in {out} has finished: there is nothing to resume')
  (out / '.training').mkdir()  # as killed after its last checkpoint, before its outputs were moved in
  for name in ('run.json', 'checkpoint.npz', 'corpus'):
    os.replace(out / name, out / '.training' / name)
  _fails(capsys, ['train', '--resume', str(out), '--dim', '9'], '--dim 9 (the run has 8)', 'start a new run')
  _fails(capsys, ['train', '--resume', str(tmp_path / 'nothing')], 'holds no run to resume')
  data = (out / '.training' / 'checkpoint.npz').read_bytes()
  (out / '.training' / 'checkpoint.npz').write_bytes(data[:len(data) // 3])
  _fails(capsys, ['train', '--resume', str(out)], 'checkpoint.npz is damaged or truncated')
  (out / '.training' / 'checkpoint.npz').unlink()
  _fails(capsys, ['train', '--resume', str(out)], 'has no .training/checkpoint.npz to resume from')
  _fails(capsys, ['train', '--out', str(tmp_path / 'x')], 'train needs CORPUS and --out')
  _fails(capsys, ['train', str(corpus_file), '--out', str(tmp_path / 'y'), '--checkpoint-every', '0'],
         '--checkpoint-every must be > 0')


def test_more_hostile_inputs(tmp_path, capsys, corpus_file):
  (tmp_path / 'blob.bin').write_bytes(bytes(range(256)) * 100)
  _fails(capsys, ['train', str(tmp_path / 'blob.bin'), '--out', str(tmp_path / 'o')], 'binary file')
  (tmp_path / 'a_file').write_text('x')
  _fails(capsys, ['train', str(corpus_file), '--out', str(tmp_path / 'a_file' / 'out')],
         'cannot write to output directory')
  _fails(capsys, ['prepare', str(tmp_path / 'missing'), '--out', str(tmp_path / 'p')], 'not found')
  (tmp_path / 'subdirs_only' / 'inner').mkdir(parents=True)
  _fails(capsys, ['prepare', str(tmp_path / 'subdirs_only'), '--out', str(tmp_path / 'p')], 'holds no files')


def test_prepare_then_train_on_the_prepared_corpus(tmp_path, capsys, corpus_file):
  prepared = tmp_path / 'prepared'
  assert main(['prepare', str(corpus_file), '--out', str(prepared), '--min-count', '2']) == 0
  assert 'prepared' in capsys.readouterr().out
  _fails(capsys, ['prepare', str(corpus_file), '--out', str(prepared)], 'already holds a prepared corpus')
  _fails(capsys, ['train', str(prepared), '--out', str(tmp_path / 'o1'), '--min-count', '5'],
         'was prepared with min_count=2')
  assert main(['train', str(prepared), '--out', str(tmp_path / 'o2'), '--epochs', '1', '--dim', '4', '--quiet']) == 0
  run = jw2v.load_run(tmp_path / 'o2')
  assert run.config.min_count == 2 and not (tmp_path / 'o2' / 'corpus').exists()
  assert json.loads((tmp_path / 'o2' / 'run.json').read_text())['corpus'] == str(prepared.resolve())


def test_train_on_a_line_of_millions_of_tokens(tmp_path):
  rng = np.random.default_rng(0)
  words = np.array([f'w{i}' for i in range(300)])
  huge = write_text(tmp_path / 'huge.txt', ' '.join(words[rng.integers(0, 300, 2_000_000)]))
  assert main(['train', str(huge), '--out', str(tmp_path / 'o'), '--model', 'cbow', '--epochs', '1', '--dim', '4',
               '--window', '2', '--sample', '1e-4', '--quiet']) == 0
  info = json.loads((tmp_path / 'o' / 'corpus' / 'corpus.json').read_text())
  assert info['raw_words'] == 2_000_000 and info['sentences'] == 200


def test_divergence_stops_with_one_line_and_keeps_the_previous_outputs(tmp_path, capsys, corpus_file):
  out = tmp_path / 'o'
  assert main(['train', str(corpus_file), '--out', str(out), '--min-count', '1', '--epochs', '1', '--dim', '6',
               '--quiet']) == 0
  before = {name: (out / name).read_bytes() for name in ('vectors.txt', 'vectors.bin', 'params.npz', 'config.json')}
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--min-count', '1', '--epochs', '2', '--dim', '6',
                  '--alpha', '1e30', '--force', '--quiet'], 'try a lower learning rate (alpha, now 1e+30)')
  assert {name: (out / name).read_bytes() for name in before} == before


def test_a_sweep_writes_each_model_to_its_own_directory(tmp_path, capsys, corpus_file):
  out = tmp_path / 'sweep'
  assert main(['train', str(corpus_file), '--out', str(out), '--model', 'skipgram', '--dim', '8', '--min-count',
               '1', '--epochs', '2', '--replicas', '2', '--alphas', '0.025,0.05', '--quiet']) == 0
  names = ['seed1-alpha0.025', 'seed1-alpha0.05', 'seed2-alpha0.025', 'seed2-alpha0.05']
  summary = json.loads((out / 'sweep.json').read_text())
  assert [m['name'] for m in summary['models']] == names
  runs = [jw2v.load_run(out / name) for name in names]
  assert [(r.config.seed, r.config.alpha) for r in runs] == [(1, 0.025), (1, 0.05), (2, 0.025), (2, 0.05)]
  assert not np.allclose(runs[0].params['W_in'], runs[2].params['W_in'])
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--seeds', '1,2', '--min-count', '1'],
         'already holds')  # nothing overwritten without --force
  _fails(capsys, ['train', str(corpus_file), '--out', str(out / 'x'), '--replicas', '2', '--seeds', '1,2'],
         'not both')
  _fails(capsys, ['train', '--resume', str(out / names[0]), '--replicas', '2'], 'cannot be resumed')
  _fails(capsys, ['train', str(corpus_file), '--out', str(out / 'y'), '--seeds', '3,3'], 'same model twice')


def test_a_runaway_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys, corpus_file):
  out = tmp_path / 'o'
  # A learning rate far too large: epochs 1 and 2 end (and are checkpointed), then the loss climbs.
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--model', 'skipgram', '--min-count', '1',
                  '--epochs', '3', '--dim', '8', '--alpha', '2', '--quiet'],
         'per example at step', '(epoch 3); try a lower learning rate (alpha, now 2.0)',
         f'the last good checkpoint is {out / ".training" / "checkpoint.npz"}')
  config, corpus_dir, _ = read_run_start(out)
  good, _ = jw2v.restore_checkpoint(out / '.training' / 'checkpoint.npz', config, len(jw2v.open_prepared(corpus_dir).vocab))
  assert (good.epoch, good.block, good.step) == (2, 0, 0) and len(good.history) == 2
  assert not (out / 'vectors.txt').exists() and not (out / 'vectors.bin').exists()


def test_cbow_mean_0_sums_the_contexts(tmp_path, corpus_file, capsys):
  out = tmp_path / 'sum'
  assert main(['train', str(corpus_file), '--out', str(out), '--dim', '8', '--min-count', '1', '--epochs', '1',
               '--cbow-mean', '0', '--quiet']) == 0
  assert json.loads((out / 'config.json').read_text())['cbow_mean'] is False
  with pytest.raises(SystemExit) as bad:
    main(['train', str(corpus_file), '--out', str(tmp_path / 'x'), '--cbow-mean', '2'])
  assert bad.value.code == 2 and "--cbow-mean: expected 0 or 1, got '2'" in capsys.readouterr().err


def test_max_final_vocab_on_the_command_line(tmp_path, corpus_file, capsys):
  assert main(['prepare', str(corpus_file), '--out', str(tmp_path / 'p'), '--min-count', '1',
               '--max-final-vocab', '6']) == 0
  info = json.loads((tmp_path / 'p' / 'corpus.json').read_text())
  assert info['max_final_vocab'] == 6 and 2 <= info['vocab_size'] <= 6
  assert main(['train', str(corpus_file), '--out', str(tmp_path / 't'), '--dim', '4', '--min-count', '1',
               '--epochs', '1', '--max-final-vocab', '6', '--quiet']) == 0
  assert len((tmp_path / 't' / 'vocab.txt').read_text().splitlines()) == info['vocab_size']


def test_predict_prints_the_likeliest_centre_words(trained_dir, capsys):
  assert main(['predict', str(trained_dir), 'the', 'sat', '-n', '3']) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 3 and all(0 < float(line.split()[0]) < 1 for line in lines)
  _fails(capsys, ['predict', str(trained_dir), 'zebra'], 'none of the context words')


def test_init_from_continues_a_run_on_new_text(tmp_path, trained_dir, capsys):
  new = write_text(tmp_path / 'new.txt', '\n'.join(['the zebra sat on the mat', 'a zebra and a lion met'] * 30))
  out = tmp_path / 'more'
  assert main(['train', str(new), '--init-from', str(trained_dir), '--out', str(out), '--epochs', '1',
               '--quiet']) == 0
  old, more = jw2v.load_run(trained_dir), jw2v.load_run(out)
  assert more.vocab.words[:len(old.vocab)] == old.vocab.words and {'zebra', 'lion'} <= set(more.vocab.words)
  assert more.config.model == old.config.model and more.config.dim == old.config.dim and more.config.epochs == 1
  assert more.vocab.counts[old.vocab.index['the']] > old.vocab.counts[old.vocab.index['the']]  # counts merged
  assert not np.allclose(more.params['W_in'][:len(old.vocab)], old.params['W_in'])  # it trained on
  _fails(capsys, ['train', str(new), '--init-from', str(trained_dir), '--out', str(tmp_path / 'x'), '--dim', '7'],
         '--dim 7: the run continued from')


def test_hs_on_the_command_line(tmp_path, corpus_file, capsys):
  out = tmp_path / 'hs'
  assert main(['train', str(corpus_file), '--out', str(out), '--model', 'skipgram', '--dim', '8', '--min-count', '1',
               '--epochs', '2', '--hs', '--negative', '0', '--quiet']) == 0
  config = json.loads((out / 'config.json').read_text())
  with np.load(out / 'params.npz') as params:
    assert config['hs'] is True and config['negative'] == 0 and params['W_hs'].shape == (8, params['W_in'].shape[0] - 1)
  _fails(capsys, ['train', str(corpus_file), '--out', str(tmp_path / 'x'), '--negative', '0'],
         'error: --negative must be a whole number >= 1 (>= 0 with hs)')


def test_every_command_has_help_without_a_traceback():
  import argparse
  commands = [name for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)
              for name in action.choices]
  assert {'train', 'prepare', 'phrases', 'similar', 'analogy', 'predict', 'eval', 'export', 'plot'} <= set(commands)
  for command in commands:
    done = subprocess.run([sys.executable, '-m', 'jw2v', command, '--help'], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and 'Traceback' not in done.stderr and done.stdout.startswith('usage: jw2v'), command


def test_export_infers_the_format_from_the_name(tmp_path, capsys, trained_dir):
  expected = jw2v.WordVectors.load(trained_dir).vectors
  assert main(['export', str(trained_dir), str(tmp_path / 'v.txt')]) == 0  # a file of word2vec text
  np.testing.assert_allclose(jw2v.load_word2vec(tmp_path / 'v.txt', binary=False).vectors, expected, atol=1e-6)
  assert main(['export', str(trained_dir), str(tmp_path / 'v.bin')]) == 0
  np.testing.assert_array_equal(jw2v.load_word2vec(tmp_path / 'v.bin', binary=True).vectors, expected)
  assert main(['export', str(trained_dir), str(tmp_path / 'proj')]) == 0 and (tmp_path / 'proj' / 'vectors.tsv').is_file()
  # an existing directory named like a file: the projector by default; a file format is one clear line
  (tmp_path / 'odd.txt').mkdir()
  _fails(capsys, ['export', str(trained_dir), str(tmp_path / 'odd.txt'), '--format', 'text'],
         'odd.txt is a directory; --format text writes a file')
  assert main(['export', str(trained_dir), str(tmp_path / 'odd.txt')]) == 0 and (tmp_path / 'odd.txt' / 'metadata.tsv').is_file()
  assert not list(tmp_path.glob('.*.tmp'))


def test_classes_writes_word_class_lines(tmp_path, capsys, trained_dir):
  out = tmp_path / 'classes.txt'
  assert main(['classes', str(trained_dir), '--k', '3', '--out', str(out)]) == 0
  lines = [line.split(' ') for line in out.read_text(encoding='utf-8').splitlines()]
  words = jw2v.WordVectors.load(trained_dir).words
  assert sorted(w for w, _ in lines) == sorted(words) and [int(c) for _, c in lines] == sorted(int(c) for _, c in lines)
  assert {int(c) for _, c in lines} <= {0, 1, 2}
  before = out.read_text(encoding='utf-8')
  _fails(capsys, ['classes', str(trained_dir), '--k', '3', '--out', str(out)], 'classes.txt already exists')
  _fails(capsys, ['classes', str(trained_dir), '--k', '0', '--out', str(tmp_path / 'c2.txt')], '--k must be a whole number >= 1')
  assert out.read_text(encoding='utf-8') == before and not (tmp_path / 'c2.txt').exists()


def test_similar_takes_several_words(trained_dir, capsys):
  assert main(['similar', str(trained_dir), 'cat', 'dog', '-n', '3']) == 0
  printed = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
  expected = [w for w, _ in jw2v.WordVectors.load(trained_dir).most_similar(['cat', 'dog'], topn=3)]
  assert printed == expected and not {'cat', 'dog'} & set(printed)


COMMAND_ARGS = {  # a complete command line for each subcommand
    'train': ['c.txt', '--out', 'x'], 'prepare': ['c.txt', '--out', 'x'], 'phrases': ['c.txt', '--out', 'x'],
    'similar': ['v', 'cat'], 'analogy': ['v', 'a', 'b', 'c'], 'predict': ['d', 'cat'], 'eval': ['v'],
    'export': ['v', 'o.txt'], 'classes': ['v', '--k', '2', '--out', 'x'], 'plot': ['v'],
}
WRONG_TYPE = {'train': ['--dim', '1.5'], 'prepare': ['--min-count', 'x'], 'phrases': ['--threshold', 'x'],
              'similar': ['-n', 'x'], 'analogy': ['-n', '1.5'], 'predict': ['-n', 'x'], 'eval': ['--restrict-vocab', 'x'],
              'export': ['--format', 'csv'], 'classes': ['--iterations', 'x'], 'plot': ['--bogus']}


def _usage_error(capsys, argv):
  with pytest.raises(SystemExit) as exit_:
    main(argv)
  lines = capsys.readouterr().err.strip().splitlines()
  assert exit_.value.code == 2 and len(lines) == 2 and 'Traceback' not in lines[1], (argv, lines)
  assert lines[0].startswith(f'usage: jw2v {argv[0]}') and lines[1].startswith(f'jw2v {argv[0]}: error:'), lines
  return lines[1]


@pytest.mark.parametrize('command', sorted(COMMAND_ARGS))
def test_missing_extra_and_wrongly_typed_arguments_give_the_usage_line(capsys, command):
  assert set(COMMAND_ARGS) == set(build_parser().commands)
  if command != 'train':  # train alone says what it needs itself (it may be --resume DIR)
    assert 'required' in _usage_error(capsys, [command])
  if command not in ('similar', 'predict'):  # these take any number of words
    assert "unexpected argument 'extra'" in _usage_error(capsys, [command, *COMMAND_ARGS[command], 'extra'])
  assert 'error:' in _usage_error(capsys, [command, *COMMAND_ARGS[command], *WRONG_TYPE[command]])


@pytest.mark.parametrize('flag, meant', [('--min_count', 'did you mean --min-count?'), ('--epoch', 'did you mean --epochs?'),
                                         ('-size', '-size is --dim here'), ('-iter', '-iter is --epochs here'),
                                         ('-threads', 'uses every core'), ('-cbow', '--model cbow or --model skipgram'),
                                         ('-hs', '-hs is --hs here'), ('-min-count', 'is --min-count here'),
                                         ('--no-such-thing', 'see jw2v train --help')])
def test_unknown_flags_get_the_flag_meant(capsys, flag, meant):
  assert meant in _usage_error(capsys, ['train', 'c.txt', '--out', 'x', flag, '1'])


def test_a_failed_write_keeps_the_previous_run_whole_and_names_the_file(tmp_path, capsys, corpus_file, monkeypatch):
  out = tmp_path / 'run'
  small = ['--min-count', '1', '--epochs', '1', '--quiet']
  assert main(['train', str(corpus_file), '--out', str(out), '--dim', '8', *small]) == 0
  files = lambda: {str(p.relative_to(out)): p.read_bytes() for p in out.rglob('*')
                   if p.is_file() and '.training' not in p.parts}
  before = files()
  savez = np.savez

  def full_disk(f, **arrays):
    if 'W_in' not in arrays:  # checkpoints
      return savez(f, **arrays)
    f.write(b'PK\x03\x04 half a zip')
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(np, 'savez', full_disk)
  _fails(capsys, ['train', str(corpus_file), '--out', str(out), '--dim', '9', '--force', *small],
         f'error: {out / "params.npz"}: No space left on device; {out} still holds the previous run, unchanged',
         f'resume it once there is room (jw2v train --resume {out})')
  assert files() == before  # run.json, config, vectors, checkpoint and corpus: all the previous run's
  monkeypatch.undo()
  assert main(['train', '--resume', str(out), '--quiet']) == 0
  assert jw2v.load_run(out).params['W_in'].shape[1] == 9 and json.loads((out / 'run.json').read_text())['config']['dim'] == 9
  assert not (out / '.training').exists()


def _stderr_on_a_terminal(argv) -> str:
  import fcntl
  import pty
  import struct
  import termios
  master, slave = pty.openpty()
  fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # a terminal 100 columns wide
  proc = subprocess.Popen([sys.executable, '-m', 'jw2v', *argv], stdout=subprocess.DEVNULL, stderr=slave)
  os.close(slave)
  chunks = []
  while True:
    try:
      chunk = os.read(master, 4096)
    except OSError:  # the other end closed
      break
    if not chunk:
      break
    chunks.append(chunk)
  os.close(master)
  assert proc.wait(timeout=300) == 0
  return b''.join(chunks).decode('utf-8', 'replace')


def test_progress_is_a_line_per_epoch_and_a_bar_only_on_a_terminal(tmp_path, corpus_file):
  argv = ['train', str(corpus_file), '--out', str(tmp_path / 'a'), '--min-count', '1', '--dim', '8', '--epochs', '3']
  piped = subprocess.run([sys.executable, '-m', 'jw2v', *argv], capture_output=True, text=True, timeout=300)
  assert piped.returncode == 0 and '\r' not in piped.stderr
  epochs = [line for line in piped.stderr.splitlines() if line.startswith('epoch ')]
  assert [line.split(':')[0] for line in epochs] == ['epoch 1/3', 'epoch 2/3', 'epoch 3/3']
  assert all(' words/s, ' in line and line.endswith('s elapsed') for line in epochs), epochs
  history = json.loads((tmp_path / 'a' / 'history.json').read_text())
  assert [f'loss {e["loss"]:.4f}' in line for e, line in zip(history['epochs'], epochs)] == [True] * 3
  shown = _stderr_on_a_terminal([*argv[:3], str(tmp_path / 'b'), *argv[4:]])
  assert '\r' in shown and 'word/s' in shown  # the bar, redrawn
  kept = [line.split(':')[0] for line in shown.replace('\r', '\n').splitlines() if line.endswith('s elapsed')]
  assert kept == ['epoch 1/3', 'epoch 2/3', 'epoch 3/3']  # each on a line of its own, not overdrawn
