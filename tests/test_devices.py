"""Scale-out: layouts, block slices, and equivalence across 1, 2 and 4 devices and across 2 processes.

Device counts are fixed when JAX starts, so the multi-device runs happen in subprocesses started with
XLA_FLAGS=--xla_force_host_platform_device_count=4 (CPU devices).

Stated tolerance: per-epoch losses within a relative 1e-6 and vectors within an absolute 1e-4 of the
one-device run; the only difference is the order in which float32 sums (the loss, repeated row
updates) are added up.
"""

import hashlib
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import jw2v
from jw2v import batches, devices
from jw2v.train.memory import memory_estimate
from jw2v.cli import main

LOSS_RTOL, VECTOR_ATOL = 1e-6, 1e-4

WORKER = r'''
import json, sys
import numpy as np
import jw2v, jax
from jw2v.train import dispatch
assert len(jax.devices()) == 4, jax.devices()
frequent_rows = dispatch.FREQUENT_ROWS
corpora = {words: jw2v.synthetic_corpus(30_000, words, seed=5) for words in (500, 499)}
runs = json.loads(sys.argv[2])
out = {}
for name, kw in runs.items():
  stop_after = kw.pop('stop_after', None)
  dispatch.FREQUENT_ROWS = kw.pop('frequent_rows', frequent_rows)
  corpus, vocab = corpora[kw.pop('words', 500)]
  config = jw2v.Config(**{**dict(dim=16, min_count=1, epochs=2, batch_size=128, block_tokens=4096, steps_per_call=8), **kw})
  resume = None
  if stop_after:  # stop after that many dispatches, then continue from the checkpoint
    polls = iter(range(10 ** 9))
    try:
      jw2v.train(corpus, vocab, config, progress=False, should_stop=lambda: next(polls) >= stop_after)
      raise AssertionError('the run did not stop')
    except jw2v.TrainingStopped as stopped:
      resume = stopped.checkpoint
  result = jw2v.train(corpus, vocab, config, progress=False, resume=resume)
  out[name + '/loss'] = np.array([e['loss'] for e in result.history['epochs']])
  out[name + '/W_in'], out[name + '/W_out'] = result.params['W_in'], result.params['W_out']
sweep = [jw2v.Config(model='skipgram', dim=16, min_count=1, epochs=2, batch_size=128, block_tokens=4096,
                     steps_per_call=8, devices=1, seed=seed, alpha=alpha) for seed, alpha in ((1, 0.025), (2, 0.05))]
for r, result in enumerate(jw2v.train_many(*corpora[500], sweep, progress=False)):
  out[f'sweep{r}/W_in'], out[f'sweep{r}/W_out'] = result.params['W_in'], result.params['W_out']
np.savez(sys.argv[1], **out)
'''

RUNS = {
    'sg1': dict(model='skipgram', devices=1),
    'sg2': dict(model='skipgram', devices=2),
    'sg4': dict(model='skipgram', devices=4),
    'sg2_sharded': dict(model='skipgram', devices=2, shard_tables=True),
    'sg4_sharded': dict(model='skipgram', devices=4, shard_tables=True),
    'sg4_sharded_resumed': dict(model='skipgram', devices=4, shard_tables=True, stop_after=5),
    'sgc1': dict(model='skipgram', centre_negatives=8, devices=1),
    'sgc1_resumed': dict(model='skipgram', centre_negatives=8, devices=1, stop_after=5),
    'sgc4_sharded': dict(model='skipgram', centre_negatives=8, devices=4, shard_tables=True),
    'sgp1': dict(model='skipgram', negative_pool=64, negative_pool_from=50, devices=1),
    'sgp4_sharded': dict(model='skipgram', negative_pool=64, negative_pool_from=50, devices=4, shard_tables=True),
    'cbow1': dict(model='cbow', devices=1),
    'cbow4': dict(model='cbow', devices=4),
    'cbow4_sharded': dict(model='cbow', devices=4, shard_tables=True),
    # In one process the host makes the examples by default; the devices make the same ones.
    'sg4_device': dict(model='skipgram', devices=4, examples_on='device'),
    'cbow4_device': dict(model='cbow', devices=4, examples_on='device'),
    'adam1': dict(model='skipgram', optimizer='adam', devices=1),
    'adam_cbow1': dict(model='cbow', optimizer='adam', devices=1),
    'sgd_reference1': dict(model='skipgram', path='reference', devices=1),
    'adam2': dict(model='skipgram', optimizer='adam', devices=2),
    'adam4': dict(model='skipgram', optimizer='adam', devices=4),
    # Local updates: on one device nothing changes; with one step a dispatch the copies are summed after
    # every step, which is the synchronous step; with 8, the copies drift apart for 8 steps.
    'sg_local1': dict(model='skipgram', devices=1, local_updates=True),
    'sg1_step1': dict(model='skipgram', devices=1, steps_per_call=1),
    'sg_local2_step1': dict(model='skipgram', devices=2, local_updates=True, steps_per_call=1),
    'cbow1_step1': dict(model='cbow', devices=1, steps_per_call=1),
    'cbow_local4_step1': dict(model='cbow', devices=4, local_updates=True, steps_per_call=1),
    'hs1_step1': dict(model='skipgram', hs=True, negative=0, devices=1, steps_per_call=1),
    'hs_local2_step1': dict(model='skipgram', hs=True, negative=0, devices=2, local_updates=True, steps_per_call=1),
    'sg_local4': dict(model='skipgram', devices=4, local_updates=True),
    # merge_every: with every row frequent (500 words), merging every 4 steps of a dispatch of 8 is
    # dispatches of 4 steps; with 100 frequent rows, only those are merged in the middle.
    'sg_local2_s4': dict(model='skipgram', devices=2, local_updates=True, steps_per_call=4),
    'sg_local2_every4': dict(model='skipgram', devices=2, local_updates=True, merge_every=4),
    'hs_local2_s4': dict(model='skipgram', hs=True, negative=0, devices=2, local_updates=True, steps_per_call=4),
    'hs_local2_every4': dict(model='skipgram', hs=True, negative=0, devices=2, local_updates=True, merge_every=4),
    'sg_local2': dict(model='skipgram', devices=2, local_updates=True),
    'sg_local1_every4': dict(model='skipgram', devices=1, local_updates=True, merge_every=4),
    'sg_local2_every8_f100': dict(model='skipgram', devices=2, local_updates=True, merge_every=8,
                                  frequent_rows=100),
    'sg_local2_every4_f100': dict(model='skipgram', devices=2, local_updates=True, merge_every=4,
                                  frequent_rows=100),
    # 499 words: the merge's shares of rows need the tables padded to 500 rows.
    'sg1_step1_499': dict(model='skipgram', devices=1, steps_per_call=1, words=499),
    'sg_local4_step1_499': dict(model='skipgram', devices=4, local_updates=True, steps_per_call=1, words=499),
}


# sha256 (first 16 hex digits) of each run's float32 vectors, recorded before the training code was
# reorganised into the jw2v.train package (issue 21), which was to change no arithmetic. The runs are
# capped at AVX2 instructions so that a CPU with AVX-512 and one without compile the same programs.
RECORDED = {
    'adam1/W_in': 'cb486976b998fd99',
    'adam1/W_out': '578c1963a30efad7',
    'adam2/W_in': 'a67904602429d853',
    'adam2/W_out': 'cc3a8fd349a976c1',
    'adam4/W_in': '19318186f72fc9de',
    'adam4/W_out': 'c2fd9db4b38aa3ec',
    'adam_cbow1/W_in': 'bfe1bdf889f04ece',
    'adam_cbow1/W_out': 'bec5a9c2f9a926ac',
    'cbow1/W_in': '678a5a6db90920d2',
    'cbow1/W_out': 'a3ccb79c35f0514a',
    'cbow4/W_in': '1cebc292550e9cc7',
    'cbow4/W_out': 'b5eaff2e18dc71b1',
    'cbow4_sharded/W_in': '1cebc292550e9cc7',
    'cbow4_sharded/W_out': 'b5eaff2e18dc71b1',
    'sg1/W_in': 'bead0019988e4739',
    'sg1/W_out': '219b31ea61afe651',
    'sg2/W_in': 'bead0019988e4739',
    'sg2/W_out': '219b31ea61afe651',
    'sg2_sharded/W_in': 'bead0019988e4739',
    'sg2_sharded/W_out': '219b31ea61afe651',
    'sg4/W_in': 'bead0019988e4739',
    'sg4/W_out': '219b31ea61afe651',
    'sg4_sharded/W_in': 'bead0019988e4739',
    'sg4_sharded/W_out': '219b31ea61afe651',
    'sg4_sharded_resumed/W_in': 'bead0019988e4739',
    'sg4_sharded_resumed/W_out': '219b31ea61afe651',
    'sgc1/W_in': '122490aac509825f',
    'sgc1/W_out': '31dc26220c141cbf',
    'sgc1_resumed/W_in': '122490aac509825f',
    'sgc1_resumed/W_out': '31dc26220c141cbf',
    'sgc4_sharded/W_in': '20a641678c2d6fc2',
    'sgc4_sharded/W_out': 'a486b7fcb3a37dfd',
    'sgd_reference1/W_in': '60662a1753593e0f',
    'sgd_reference1/W_out': 'a83044d0fff03e88',
    'sgp1/W_in': 'ae96a84406722b30',
    'sgp1/W_out': '20d9027b1ca666e5',
    'sgp4_sharded/W_in': 'ae96a84406722b30',
    'sgp4_sharded/W_out': '20d9027b1ca666e5',
    'sweep0/W_in': '1a099177300c210b',
    'sweep0/W_out': 'd57d7ff786bb3b40',
    'sweep1/W_in': '7684d585e4b8c42c',
    'sweep1/W_out': 'dc0a0145ae0d3bcb',
}


def _four_devices_env():
  return dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4 --xla_cpu_max_isa=AVX2',
              JAX_PLATFORMS='cpu')


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  path = tmp_path_factory.mktemp('mesh') / 'runs.npz'
  done = subprocess.run([sys.executable, '-c', WORKER, str(path), json.dumps(RUNS)], env=_four_devices_env(),
                        capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  return dict(np.load(path))


def _assert_same_training(runs, name: str, reference: str):
  """Run `name` has the losses and the vectors of run `reference`, within the file's tolerances."""
  np.testing.assert_allclose(runs[name + '/loss'], runs[reference + '/loss'], rtol=LOSS_RTOL)
  for table in ('W_in', 'W_out'):
    np.testing.assert_allclose(runs[name + '/' + table], runs[reference + '/' + table], rtol=0, atol=VECTOR_ATOL)


@pytest.mark.parametrize('name, reference', [
    ('sg2', 'sg1'), ('sg4', 'sg1'), ('sg2_sharded', 'sg1'), ('sg4_sharded', 'sg1'),
    ('sg4_sharded_resumed', 'sg4_sharded'), ('sgc1_resumed', 'sgc1'), ('sgc4_sharded', 'sgc1'),
    ('sgp4_sharded', 'sgp1'),
    ('cbow4', 'cbow1'), ('cbow4_sharded', 'cbow1'), ('adam2', 'adam1'), ('adam4', 'adam1'),
    ('sg4_device', 'sg1'), ('cbow4_device', 'cbow1')])
def test_same_global_batch_same_training_on_any_number_of_devices(runs, name, reference):
  _assert_same_training(runs, name, reference)


@pytest.mark.parametrize('name, reference', [
    ('sg_local1', 'sg1'), ('sg1_step1', 'sg1'), ('sg_local2_step1', 'sg1'), ('cbow_local4_step1', 'cbow1_step1'),
    ('hs_local2_step1', 'hs1_step1'), ('sg_local4_step1_499', 'sg1_step1_499')])
def test_local_updates_summed_after_every_step_are_the_synchronous_step(runs, name, reference):
  _assert_same_training(runs, name, reference)


@pytest.mark.parametrize('name, reference', [
    ('sg_local2_every4', 'sg_local2_s4'), ('hs_local2_every4', 'hs_local2_s4'),
    ('sg_local2_every8_f100', 'sg_local2'), ('sg_local1_every4', 'sg1')])
def test_merging_frequent_rows_mid_dispatch_is_merging_them_as_often(runs, name, reference):
  # Every row frequent: the same as dispatches of merge_every steps; one chunk a dispatch: no change; one
  # device: the same steps (negatives drawn a chunk at a time are the same negatives).
  _assert_same_training(runs, name, reference)


def test_merging_only_the_frequent_rows_mid_dispatch(runs):
  # The first 100 rows are merged every 4 steps as in dispatches of 4, the others every 8: a third run
  # (vectors apart from both by far more than rounding), trained as well as both.
  mixed, every4, every8 = (runs[name + '/W_in'] for name in ('sg_local2_every4_f100', 'sg_local2_s4', 'sg_local2'))
  for other in (every4, every8):
    assert np.abs(mixed - other).max() > 10 * VECTOR_ATOL
  for name in ('sg_local2_s4', 'sg_local2'):
    np.testing.assert_allclose(runs['sg_local2_every4_f100/loss'][-1], runs[name + '/loss'][-1], rtol=0.02)


def test_local_updates_over_several_steps_train_copies_apart(runs):
  # Each device sees only its own updates for 8 steps: other vectors than the synchronous run's, as good a loss.
  assert np.abs(runs['sg_local4/W_in'] - runs['sg4/W_in']).max() > 100 * VECTOR_ATOL
  np.testing.assert_allclose(runs['sg_local4/loss'][-1], runs['sg4/loss'][-1], rtol=0.02)


def test_the_vectors_are_exactly_those_recorded(runs):
  digest = lambda x: hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()[:16]
  got = {name: digest(runs[name]) for name in RECORDED}
  assert got == RECORDED


def test_the_pool_for_rare_negatives_was_used(runs):
  # sg1 has the default pool, which starts at rank 16384: nothing of a 500-word vocabulary is rare.
  assert not np.allclose(runs['sgp1/W_in'], runs['sg1/W_in'], atol=VECTOR_ATOL)


def test_the_runs_learned_something(runs):
  """The comparisons above would pass for runs that did nothing: the loss must fall."""
  for name in RUNS:
    first, last = runs[name + '/loss']
    assert last < first, name


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_match_one_process_with_two_devices(tmp_path):
  corpus, vocab = jw2v.synthetic_corpus(20_000, 300, seed=2)
  prepared = tmp_path / 'prepared'
  words = np.array(vocab.words)
  text = tmp_path / 'corpus.txt'
  text.write_text('\n'.join(' '.join(words[corpus.ids[a:b]]) for a, b in zip(corpus.offsets[:-1],
                                                                           corpus.offsets[1:])) + '\n')
  assert main(['prepare', str(text), '--out', str(prepared), '--min-count', '1']) == 0
  common = ['-m', 'jw2v', 'train', str(prepared), '--model', 'skipgram', '--dim', '16', '--epochs', '2',
            '--batch-size', '128', '--block-tokens', '4096']
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  one = subprocess.run([sys.executable, *common, '--out', str(tmp_path / 'one')], capture_output=True, text=True,
                       env=dict(env, XLA_FLAGS='--xla_force_host_platform_device_count=2'), timeout=300)
  assert one.returncode == 0, one.stderr[-3000:]
  port = _free_port()
  one_device = dict(env, XLA_FLAGS='--xla_force_host_platform_device_count=1')
  procs = [subprocess.Popen([sys.executable, *common, '--out', str(tmp_path / 'two'), '--coordinator',
                             f'127.0.0.1:{port}', '--num-processes', '2', '--process-id', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=one_device),
           # process 1 is configured by the environment variables instead of the flags
           subprocess.Popen([sys.executable, *common, '--out', str(tmp_path / 'two')], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(one_device, JAX_COORDINATOR_ADDRESS=f'127.0.0.1:{port}',
                                     JAX_NUM_PROCESSES='2', JAX_PROCESS_ID='1'))]
  try:
    outputs = [p.communicate(timeout=300) for p in procs]
  finally:
    for p in procs:
      p.kill()
  for p, (_, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  assert '2 cpu device(s) in 2 process(es)' in outputs[0][1]
  assert 'trained skipgram' in outputs[0][1] and 'trained' not in outputs[1][1]  # process 1 reports nothing
  history = [json.loads((tmp_path / d / 'history.json').read_text()) for d in ('one', 'two')]
  assert history[1]['processes'] == 2 and history[0]['processes'] == 1
  assert history[0]['devices'] == history[1]['devices'] == 2
  np.testing.assert_allclose([e['loss'] for e in history[1]['epochs']], [e['loss'] for e in history[0]['epochs']],
                             rtol=LOSS_RTOL)
  with np.load(tmp_path / 'one' / 'params.npz') as a, np.load(tmp_path / 'two' / 'params.npz') as b:
    for table in ('W_in', 'W_out'):
      np.testing.assert_allclose(b[table], a[table], rtol=0, atol=VECTOR_ATOL)


def test_a_process_reads_only_its_slice_of_a_block():
  corpus, _ = jw2v.synthetic_corpus(5_000, 100, seed=1)
  size = batches.block_size(corpus, 1024, multiple=4)
  for span, (start, block) in zip(batches.block_spans(corpus, size), batches.corpus_blocks(corpus, size)):
    assert span.lo == start
    parts = [batches.read_block(corpus, span, size, i * size // 4, (i + 1) * size // 4) for i in range(4)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), block.ids_T)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), block.sentence_T)


def test_block_size_is_a_multiple_of_the_device_count():
  corpus, _ = jw2v.synthetic_corpus(5_000, 100, seed=1)
  assert batches.block_size(corpus, 1000) == 1024
  assert batches.block_size(corpus, 1000, multiple=3) == 1536
  assert batches.block_size(corpus, 1000, multiple=8) == 1024


def test_layout_and_memory_estimate():
  layout = devices.make_layout(10, 1, shard_tables=True)
  assert layout.rows == 10 and layout.rows_per_device == 10
  config = jw2v.Config(dim=300, model='skipgram', window=5, batch_size=1024, block_tokens=1 << 18, centre_negatives=0)
  estimate = memory_estimate(2_000_000, config, devices.make_layout(2_000_000, 1))
  width = 304 if jax.default_backend() == 'cpu' else 300  # `devices.table_width`: a multiple of 8 on a CPU
  assert estimate.tables == estimate.total_tables == 2 * 2_000_000 * width * 4
  assert estimate.examples == (1 << 18) * 10 * 3 * 4 and estimate.optimizer == estimate.gradients == 0
  adam = memory_estimate(1000, jw2v.Config(dim=10, optimizer='adam'), devices.make_layout(1000, 1))
  assert adam.optimizer == 2 * adam.tables and adam.gradients == adam.tables
  assert ('4.9 GB' if width == 304 else '4.8 GB') in estimate.describe()  # 4.864e9 / 4.8e9 bytes
  with pytest.raises(jw2v.ConfigError, match='devices must be between'):
    devices.make_layout(10, 99)


def test_agree_is_the_identity_in_one_process():
  assert devices.agree(True, False) == (True, False)


@pytest.mark.parametrize('argv, expected', [
    (['--coordinator', '127.0.0.1:1234'], 'needs --coordinator HOST:PORT, --num-processes N and --process-id I'),
    (['--coordinator', 'nohost', '--num-processes', '2', '--process-id', '0'], 'HOST:PORT'),
    (['--coordinator', '127.0.0.1:1', '--num-processes', '2', '--process-id', '2'], '--process-id'),
])
def test_bad_multi_process_arguments(tmp_path, capsys, argv, expected):
  assert main(['train', 'x', '--out', str(tmp_path / 'o'), *argv]) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('jw2v: error:') and '\n' not in err and expected in err, err


def test_sharded_tables_and_batches_must_fit_the_devices(tmp_path, capsys):
  corpus, vocab = jw2v.synthetic_corpus(2_000, 50, seed=1)
  with pytest.raises(jw2v.ConfigError, match='devices must be between'):
    jw2v.train(corpus, vocab, jw2v.Config(devices=len(__import__('jax').devices()) + 1, epochs=1), progress=False)


def _two_processes(args, port, **popen):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=1')
  return [subprocess.Popen([sys.executable, '-m', 'jw2v', *args, '--coordinator', f'127.0.0.1:{port}',
                            '--num-processes', '2', '--process-id', str(i)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, **popen) for i in range(2)]


def _finish(procs, timeout=300):
  try:
    outputs = [p.communicate(timeout=timeout) for p in procs]
  finally:
    for p in procs:
      p.kill()
  return [(p.returncode, err) for p, (_, err) in zip(procs, outputs)]


def test_a_signal_to_one_process_stops_all_and_the_run_resumes(tmp_path):
  """SIGTERM to process 1 only: both stop at the same step, process 0 saves, and two processes resume."""
  import signal
  import time
  corpus, vocab = jw2v.synthetic_corpus(100_000, 1_000, seed=4)
  words = np.array(vocab.words)
  text = tmp_path / 'corpus.txt'
  text.write_text('\n'.join(' '.join(words[corpus.ids[a:b]]) for a, b in zip(corpus.offsets[:-1],
                                                                           corpus.offsets[1:])) + '\n')
  prepared = tmp_path / 'prepared'
  assert main(['prepare', str(text), '--out', str(prepared), '--min-count', '1']) == 0
  settings = [str(prepared), '--model', 'skipgram', '--dim', '16', '--epochs', '8', '--batch-size', '256',
              '--block-tokens', '8192', '--quiet']
  whole = subprocess.run([sys.executable, '-m', 'jw2v', 'train', *settings, '--out', str(tmp_path / 'whole')],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, JAX_PLATFORMS='cpu',
                                  XLA_FLAGS='--xla_force_host_platform_device_count=2'))
  assert whole.returncode == 0, whole.stderr[-3000:]

  out = tmp_path / 'run'
  procs = _two_processes(['train', *settings, '--out', str(out), '--checkpoint-every', '0.2'], _free_port())
  deadline = time.monotonic() + 120
  while not (out / '.training' / 'checkpoint.npz').exists():
    assert time.monotonic() < deadline and all(p.poll() is None for p in procs), 'no checkpoint was written'
    time.sleep(0.01)
  procs[1].send_signal(signal.SIGTERM)
  (code0, err0), (code1, err1) = _finish(procs)
  assert (code0, code1) == (143, 143), (err0[-2000:], err1[-2000:])
  assert 'another process of the run was stopped' in err0 and 'SIGTERM: stopped' in err1
  assert not (out / 'vectors.txt').exists()

  resumed = _finish(_two_processes(['train', '--resume', str(out), '--quiet'], _free_port()))
  assert [code for code, _ in resumed] == [0, 0], resumed[0][1][-2000:]
  with np.load(tmp_path / 'whole' / 'params.npz') as a, np.load(out / 'params.npz') as b:
    np.testing.assert_allclose(b['W_in'], a['W_in'], rtol=0, atol=VECTOR_ATOL)
  assert [e['epoch'] for e in json.loads((out / 'history.json').read_text())['epochs']] == list(range(1, 9))


def test_a_coordinator_that_cannot_start_or_be_reached_is_one_line(tmp_path):
  """JAX's runtime would abort the process with a C++ log; jw2v checks the two usual mistakes first."""
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    common = [sys.executable, '-m', 'jw2v', 'train', 'ptb', '--out', str(tmp_path / 'o'), '--coordinator',
              f'127.0.0.1:{port}', '--num-processes', '2', '--quiet']
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    lead = subprocess.run([*common, '--process-id', '0'], capture_output=True, text=True, timeout=120, env=env)
  other = subprocess.run([*common, '--process-id', '1', '--join-timeout', '1'], capture_output=True, text=True,
                         timeout=120, env=env)
  for done, expected in ((lead, 'cannot start the coordinator'), (other, 'no coordinator answered')):
    err = done.stderr.strip()
    assert done.returncode == 1 and err.startswith('jw2v: error:') and '\n' not in err and expected in err, err
