import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jw2v
from jw2v.train.state import init_state
from conftest import write_text


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
  rng = np.random.default_rng(0)
  words = [f'w{i}' for i in range(80)]
  p = 1.0 / np.arange(1, 81)
  lines = [' '.join(rng.choice(words, size=rng.integers(3, 20), p=p / p.sum())) for _ in range(1500)]
  path = write_text(tmp_path_factory.mktemp('c') / 'c.txt', '\n'.join(lines))
  return jw2v.load_corpus(path, min_count=1)[:2]


def _config(**kw):
  # Small blocks and dispatches: a stop lands in the middle of a block and of an epoch.
  return jw2v.Config(**{**dict(model='skipgram', dim=12, min_count=1, epochs=3, batch_size=256, steps_per_call=4,
                               block_tokens=2048, deterministic=True), **kw})


def _template(config, vocab):
  zeros = {'W_in': jnp.zeros((len(vocab), config.dim)), 'W_out': jnp.zeros((config.dim, len(vocab)))}
  return init_state(config, zeros, key=jax.random.key(0))


def _stop_after(n):
  calls = [0]

  def should_stop():
    calls[0] += 1
    return calls[0] > n
  return should_stop


@pytest.mark.parametrize('kw', [{}, dict(model='cbow', optimizer='adam')])
def test_resumed_run_equals_uninterrupted_run(tmp_path, corpus, kw):
  corpus, vocab = corpus
  config = _config(**kw)
  full = jw2v.train(corpus, vocab, config, progress=False)
  with pytest.raises(jw2v.TrainingStopped) as stopped:
    jw2v.train(corpus, vocab, config, progress=False, should_stop=_stop_after(9),
               checkpoint=lambda c: jw2v.save_checkpoint(tmp_path / 'c.npz', c, {'run': 1}))
  at = stopped.value.checkpoint
  assert at.step > 0  # in the middle of a block, so of an epoch
  checkpoint, meta = jw2v.restore_checkpoint(tmp_path / 'c.npz', config, len(vocab))
  assert meta == {'run': 1} and (checkpoint.epoch, checkpoint.block, checkpoint.step) == (at.epoch, at.block, at.step)
  resumed = jw2v.train(corpus, vocab, config, progress=False, resume=checkpoint)
  for name in ('W_in', 'W_out'):
    np.testing.assert_array_equal(resumed.params[name], full.params[name])
  assert [e['loss'] for e in resumed.history['epochs']] == [e['loss'] for e in full.history['epochs']]
  assert [e['examples'] for e in resumed.history['epochs']] == [e['examples'] for e in full.history['epochs']]


def test_checkpoints_at_epoch_ends_and_on_a_timer(corpus):
  corpus, vocab = corpus
  seen = []
  jw2v.train(corpus, vocab, _config(), progress=False, checkpoint=seen.append)
  assert [(c.epoch, c.block, c.step) for c in seen] == [(1, 0, 0), (2, 0, 0), (3, 0, 0)]
  assert [len(c.history) for c in seen] == [1, 2, 3]
  often = []
  jw2v.train(corpus, vocab, _config(epochs=1), progress=False, checkpoint=often.append, checkpoint_every=1e-9)
  assert len(often) > 3 and all(isinstance(c.state.W_in, np.ndarray) for c in often)


@pytest.fixture
def saved(tmp_path, corpus):
  """A one-epoch run's last checkpoint, written to tmp_path/c.npz: (config, vocab, checkpoint)."""
  corpus, vocab = corpus
  config = _config(epochs=1)
  checkpoints = []
  jw2v.train(corpus, vocab, config, progress=False, checkpoint=checkpoints.append)
  jw2v.save_checkpoint(tmp_path / 'c.npz', checkpoints[-1])
  return config, vocab, checkpoints[-1]


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, saved, monkeypatch):
  before = (tmp_path / 'c.npz').read_bytes()

  def broken_savez(f, **arrays):
    f.write(b'PK\x03\x04 half a zip')
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(np, 'savez', broken_savez)
  with pytest.raises(OSError):
    jw2v.save_checkpoint(tmp_path / 'c.npz', saved[2])
  assert (tmp_path / 'c.npz').read_bytes() == before
  assert [p.name for p in tmp_path.iterdir()] == ['c.npz']


def test_damaged_and_mismatched_checkpoints(tmp_path, saved):
  config, vocab, _ = saved
  data = (tmp_path / 'c.npz').read_bytes()
  for cut in (10, len(data) // 2, len(data) - 20):
    (tmp_path / 'cut.npz').write_bytes(data[:cut])
    with pytest.raises(jw2v.DataError, match='cut.npz is damaged or truncated'):
      jw2v.load_checkpoint(tmp_path / 'cut.npz', _template(config, vocab))
  with pytest.raises(jw2v.DataError, match='another vocabulary or dimension'):
    jw2v.load_checkpoint(tmp_path / 'c.npz', _template(dataclasses.replace(config, dim=7), vocab))
  with pytest.raises(jw2v.DataError, match='another optimizer'):
    jw2v.load_checkpoint(tmp_path / 'c.npz', _template(dataclasses.replace(config, optimizer='adam'), vocab))
  with pytest.raises(jw2v.DataError, match='not found'):
    jw2v.load_checkpoint(tmp_path / 'none.npz', _template(config, vocab))


def test_divergence_names_the_step_and_saves_nothing_after_it(corpus):
  corpus, vocab = corpus
  saved = []
  with pytest.raises(jw2v.DivergenceError, match=r'at step \d+ \(epoch 1\); try a lower learning rate'):
    jw2v.train(corpus, vocab, _config(alpha=1e30), progress=False, checkpoint=saved.append, checkpoint_every=1e-9)
  assert all(np.all(np.isfinite(c.state.W_in)) and np.all(np.isfinite(c.state.W_out_T)) for c in saved)
