import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

import jw2v
from jw2v.corpus import Dataset, count_words, fetch
from conftest import write_text


def test_read_text_lines_tokens_and_invalid_bytes(tmp_path):
  path = tmp_path / 'c.txt'
  path.write_bytes(b'the cat \t sat\r\n\r\n   \nbad \xff\xfe byte\nlast')
  text = jw2v.read_text(path)
  assert text.tokens == ['the', 'cat', 'sat', 'bad', '\ufffd\ufffd', 'byte', 'last']
  assert text.line_lengths.tolist() == [3, 3, 1]  # blank and whitespace-only lines are not sentences
  assert text.invalid_bytes == 2


@pytest.mark.parametrize('make, message', [
    (lambda p: p / 'missing.txt', 'not found'),
    (lambda p: p, 'is a directory'),
])
def test_read_text_errors(tmp_path, make, message):
  with pytest.raises(jw2v.DataError, match=message):
    jw2v.read_text(make(tmp_path))


def test_load_corpus_rejects_empty_and_tiny_vocabularies(tmp_path):
  with pytest.raises(jw2v.DataError, match='empty'):
    jw2v.load_corpus(write_text(tmp_path / 'e.txt', ' \n\n'))
  with pytest.raises(jw2v.DataError, match='min_count=5'):
    jw2v.load_corpus(write_text(tmp_path / 'small.txt', 'a b c d e\n' * 4))


def test_encode_drops_unknown_words_and_keeps_sentences(tmp_path):
  text = jw2v.read_text(write_text(tmp_path / 'c.txt', 'a b zz a\nqq\nb b a\n'))
  vocab = jw2v.build_vocab(count_words(text), min_count=2)
  corpus = jw2v.encode(text, vocab)
  assert vocab.words == ('a', 'b')
  assert corpus.ids.tolist() == [0, 1, 0, 1, 1, 0]
  assert corpus.offsets.tolist() == [0, 3, 6]  # the line of only 'qq' disappears
  assert corpus.raw_words == 8 and corpus.ids.dtype == np.int32


def test_long_lines_are_cut_into_chunks(tmp_path):
  text = jw2v.read_text(write_text(tmp_path / 'c.txt', ' '.join(['a', 'b'] * 12) + '\na b\n'))
  vocab = jw2v.build_vocab(count_words(text), min_count=1)
  corpus = jw2v.encode(text, vocab, max_sentence_length=10)
  assert corpus.offsets.tolist() == [0, 10, 20, 24, 26]


def test_ptb_counts(ptb_train):
  corpus, vocab, text = jw2v.load_corpus(ptb_train, min_count=1)
  assert corpus.raw_words == 887_521 and len(text.line_lengths) == 42_068
  assert len(vocab) == 9_999 and vocab.words[0] == 'the'
  assert text.invalid_bytes == 0


def test_named_dataset_resolves_through_data_dir(tmp_path, monkeypatch):
  (tmp_path / 'ptb').mkdir()
  write_text(tmp_path / 'ptb' / 'ptb.valid.txt', 'x')
  monkeypatch.setenv('JW2V_DATA_DIR', str(tmp_path))
  assert jw2v.resolve_corpus('ptb:valid') == tmp_path / 'ptb' / 'ptb.valid.txt'
  with pytest.raises(jw2v.DataError, match='no split'):
    jw2v.resolve_corpus('ptb:nope')
  with pytest.raises(jw2v.DataError, match='not found'):
    jw2v.resolve_corpus(str(tmp_path / 'nothing-here.txt'))


@pytest.fixture
def http_server(tmp_path):
  """Serves tmp_path/www on 127.0.0.1; yields its base URL."""
  root = tmp_path / 'www'
  root.mkdir()
  class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
      pass

  handler = functools.partial(Quiet, directory=str(root))
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield root, f'http://127.0.0.1:{server.server_address[1]}'
  server.shutdown()


def test_download_into_cache_with_checksum(tmp_path, monkeypatch, http_server):
  root, url = http_server
  payload = b'the quick brown fox\njumps over the lazy dog\n'
  (root / 'small.txt').write_bytes(payload)
  md5 = hashlib.md5(payload).hexdigest()
  monkeypatch.delenv('JW2V_DATA_DIR', raising=False)
  monkeypatch.setenv('JW2V_CACHE_DIR', str(tmp_path / 'cache'))
  datasets = {'tiny': Dataset({'train': ('tiny/tiny.train.txt', f'{url}/small.txt', md5)}),
              'broken': Dataset({'train': ('broken/b.txt', f'{url}/small.txt', '0' * 32)}),
              'gone': Dataset({'train': ('gone/g.txt', f'{url}/missing.txt', md5)})}
  path = jw2v.resolve_corpus('tiny', datasets=datasets)
  assert path == tmp_path / 'cache' / 'tiny' / 'tiny.train.txt' and path.read_bytes() == payload
  (root / 'small.txt').unlink()  # the second time it comes from the cache
  assert jw2v.resolve_corpus('tiny', datasets=datasets) == path
  (root / 'small.txt').write_bytes(payload)
  with pytest.raises(jw2v.DataError, match='md5'):
    jw2v.resolve_corpus('broken', datasets=datasets)
  with pytest.raises(jw2v.DataError, match='cannot download'):
    jw2v.resolve_corpus('gone', datasets=datasets)
  assert sorted(p.name for p in (tmp_path / 'cache').rglob('*') if p.is_file()) == ['tiny.train.txt']


def test_fetch_refuses_a_closed_port(tmp_path):
  with pytest.raises(jw2v.DataError, match='cannot download'):
    fetch('http://127.0.0.1:9/x.txt', tmp_path / 'x.txt', '0' * 32, timeout=5)
  assert not list(tmp_path.iterdir())


def test_unreadable_file_is_one_clear_error(tmp_path, monkeypatch):
  path = write_text(tmp_path / 'locked.txt', 'a b')

  def deny(self):
    raise PermissionError(13, 'Permission denied', str(self))

  monkeypatch.setattr(type(path), 'read_bytes', deny)
  with pytest.raises(jw2v.DataError, match='cannot read corpus .*locked.txt: Permission denied'):
    jw2v.read_text(path)


def test_synthetic_corpus_is_zipf_and_ordered_by_count():
  corpus, vocab = jw2v.synthetic_corpus(200_000, 1000, sentence_length=10, seed=1)
  assert corpus.raw_words == len(corpus.ids) == 200_000 and corpus.offsets[-1] == 200_000
  assert np.all(np.diff(corpus.offsets) >= 1) and 5 < np.diff(corpus.offsets).mean() < 15
  counts = np.bincount(corpus.ids, minlength=len(vocab))
  np.testing.assert_array_equal(counts, vocab.counts)
  assert np.all(np.diff(vocab.counts) <= 0) and vocab.counts.min() >= 1
  # Zipf with exponent 1: the r-th word is about r times rarer than the first.
  assert 8 < vocab.counts[0] / vocab.counts[9] < 12.5
  assert vocab.words[:2] == ('w0', 'w1') and vocab.index['w5'] == 5
