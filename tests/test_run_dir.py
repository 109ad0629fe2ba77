import json

import numpy as np
import pytest

import jw2v
from jw2v.run_dir import finish_run, prepare_output
from conftest import write_text


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  path = write_text(tmp_path_factory.mktemp('c') / 'c.txt', 'a b c d e f a b c a b a\n' * 50)
  corpus, vocab, _ = jw2v.load_corpus(path, min_count=1)
  config = jw2v.Config(model='skipgram', dim=6, min_count=1, epochs=2)
  return jw2v.train(corpus, vocab, config, progress=False), vocab, config, corpus


def test_save_and_load_run(tmp_path, trained):
  result, vocab, config, _ = trained
  jw2v.save_run(tmp_path, result.params, vocab, config, result.history)
  assert sorted(p.name for p in tmp_path.iterdir()) == ['config.json', 'history.json', 'params.npz',
                                                         'vectors.bin', 'vectors.txt', 'vocab.txt']
  run = jw2v.load_run(tmp_path)
  assert run.config == config and run.vocab.words == vocab.words
  np.testing.assert_array_equal(run.params['W_out'], result.params['W_out'])
  history = json.loads((tmp_path / 'history.json').read_text())
  assert [e['epoch'] for e in history['epochs']] == [1, 2]
  assert set(history['epochs'][0]) >= {'epoch', 'loss', 'seconds', 'words_per_sec'}
  for name in ('vectors.txt', 'vectors.bin'):
    loaded = jw2v.WordVectors.load(tmp_path / name)
    assert loaded.words == vocab.words
    np.testing.assert_array_equal(loaded.vectors, result.params['W_in'])


def test_continue_training_from_a_saved_run(tmp_path, trained):
  result, vocab, config, corpus = trained
  jw2v.save_run(tmp_path / 'new' / 'run', result.params, vocab, config, result.history)
  run = jw2v.load_run(tmp_path / 'new' / 'run')
  more = jw2v.train(corpus, run.vocab, run.config, params=run.params, progress=False)
  assert more.history['epochs'][0]['loss'] < result.history['epochs'][0]['loss']


def test_output_directory_with_vectors_is_refused(tmp_path):
  (tmp_path / 'vectors.bin').write_bytes(b'precious')
  with pytest.raises(jw2v.OutputExistsError, match='vectors.bin'):
    prepare_output(tmp_path)
  assert prepare_output(tmp_path, force=True) == tmp_path
  assert (tmp_path / 'vectors.bin').read_bytes() == b'precious'  # the previous run stays until the new one is done
  assert sorted(p.name for p in tmp_path.iterdir()) == ['.training', 'vectors.bin']
  assert not list((tmp_path / '.training').iterdir())  # no write-test file left behind


def test_finish_run_moves_the_new_run_in_whole(tmp_path):
  (tmp_path / 'corpus').mkdir()
  (tmp_path / 'corpus' / 'old.npy').write_bytes(b'old')
  (tmp_path / 'vectors.txt').write_text('old')
  (tmp_path / 'keep.txt').write_text('not a run file')
  prepare_output(tmp_path, force=True)
  (tmp_path / '.training' / 'corpus').mkdir()
  (tmp_path / '.training' / 'corpus' / 'ids.npy').write_bytes(b'new')
  (tmp_path / '.training' / 'vectors.txt').write_text('new')
  finish_run(tmp_path)
  assert sorted(p.name for p in tmp_path.iterdir()) == ['corpus', 'keep.txt', 'vectors.txt']
  assert [p.name for p in (tmp_path / 'corpus').iterdir()] == ['ids.npy'] and (tmp_path / 'vectors.txt').read_text() == 'new'


def test_incomplete_run_directory(tmp_path):
  with pytest.raises(jw2v.DataError, match='params.npz is missing'):
    jw2v.load_run(tmp_path)
