"""train_job / resume_job: a whole training job from Python, as `jw2v train` runs it."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import jw2v
from conftest import synthetic_text

SETTINGS = dict(model='skipgram', dim=8, min_count=1, epochs=6, batch_size=256, steps_per_call=4)


@pytest.fixture(scope='module')
def corpus_file(tmp_path_factory):
  return synthetic_text(tmp_path_factory.mktemp('corpus') / 'zipf.txt', 60_000, 800, seed=4)


def _vectors(out):
  return jw2v.load_run(out).params['W_in']


def _signal_once_training(out, signum):
  """Sends `signum` to this process once `out` holds a checkpoint: training has started."""
  deadline = time.monotonic() + 120
  while not (out / '.training' / 'checkpoint.npz').exists() and time.monotonic() < deadline:
    time.sleep(0.01)
  os.kill(os.getpid(), signum)


def test_a_job_stopped_by_a_signal_resumes_to_the_same_vectors(tmp_path, corpus_file):
  whole = tmp_path / 'whole'
  [history] = jw2v.train_job(str(corpus_file), whole, progress=False, log=lambda *a: None, **SETTINGS)
  assert len(history['epochs']) == 6 and history['vocab_size'] > 700

  stopped = tmp_path / 'stopped'
  sender = threading.Thread(target=_signal_once_training, args=(stopped, signal.SIGTERM))
  sender.start()
  with pytest.raises(jw2v.JobStopped) as raised:
    jw2v.train_job(str(corpus_file), stopped, progress=False, log=lambda *a: None, checkpoint_every=1e-6,
                   **SETTINGS)
  sender.join()
  assert raised.value.signum == signal.SIGTERM and raised.value.out == stopped
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the job's handlers are gone
  assert not (stopped / 'vectors.txt').exists() and (stopped / '.training' / 'checkpoint.npz').exists()
  with pytest.raises(jw2v.ConfigError) as clash:
    jw2v.resume_job(stopped, window=3, log=lambda *a: None)
  assert clash.value.field == 'window' and 'window 3 (the run has 5)' in str(clash.value)
  jw2v.resume_job(stopped, progress=False, log=lambda *a: None, **SETTINGS)  # the run's own settings: allowed
  np.testing.assert_array_equal(_vectors(stopped), _vectors(whole))


def test_a_job_checks_before_it_writes(tmp_path, corpus_file):
  out = tmp_path / 'out'
  with pytest.raises(jw2v.ConfigError) as raised:
    jw2v.train_job(str(corpus_file), out, batch_size=0, log=lambda *a: None)
  assert raised.value.field == 'batch_size' and not out.exists()
  with pytest.raises(jw2v.ConfigError, match='checkpoint_every must be > 0'):
    jw2v.train_job(str(corpus_file), out, checkpoint_every=0, log=lambda *a: None)
  with pytest.raises(jw2v.ConfigError, match='replicas or seeds, not both'):
    jw2v.train_job(str(corpus_file), out, replicas=2, seeds=[1, 2], log=lambda *a: None)
  assert not out.exists()
  jw2v.train_job(str(corpus_file), out, progress=False, log=lambda *a: None, **{**SETTINGS, 'epochs': 1})
  with pytest.raises(jw2v.OutputExistsError) as exists:
    jw2v.train_job(str(corpus_file), out, log=lambda *a: None, **SETTINGS)
  assert exists.value.field == 'force' and 'replace them with force' in str(exists.value)


def test_sweep_configs_name_each_model():
  config = jw2v.Config(seed=3)
  assert jw2v.run.sweep_configs(config) == []
  named = jw2v.run.sweep_configs(config, replicas=2, alphas=[0.01, 0.05])
  assert [name for name, _ in named] == ['seed3-alpha0.01', 'seed3-alpha0.05', 'seed4-alpha0.01', 'seed4-alpha0.05']
  with pytest.raises(jw2v.ConfigError, match='same model twice'):
    jw2v.run.sweep_configs(config, seeds=[1, 1])
