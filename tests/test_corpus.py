import bz2
import functools
import gc
import gzip
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
    (lambda p: p, 'holds no files'),
])
def test_read_text_errors(tmp_path, make, message):
  with pytest.raises(jw2v.DataError, match=message):
    jw2v.read_text(make(tmp_path))


def test_load_corpus_rejects_empty_and_tiny_vocabularies(tmp_path):
  with pytest.raises(jw2v.DataError, match='empty'):
    jw2v.load_corpus(write_text(tmp_path / 'e.txt', ' \n\n'))
  with pytest.raises(jw2v.DataError, match='min_count=5'):
    jw2v.load_corpus(write_text(tmp_path / 'small.txt', 'a b c d e\n' * 4))


def test_load_corpus_leaves_the_garbage_collector_as_it_found_it(tmp_path):
  # load_corpus pauses the collector while it reads; it must come back on, also after an error.
  good = write_text(tmp_path / 'good.txt', 'a b a b\n')
  assert gc.isenabled()
  seen = []
  original = jw2v.corpus._number_words
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(jw2v.corpus, '_number_words', lambda tokens: seen.append(gc.isenabled()) or original(tokens))
    jw2v.load_corpus(good, min_count=1)
  assert seen == [False] and gc.isenabled()
  with pytest.raises(jw2v.DataError, match='empty'):
    jw2v.load_corpus(write_text(tmp_path / 'e.txt', ' \n'))
  assert gc.isenabled()
  gc.disable()
  try:
    jw2v.load_corpus(good, min_count=1)
    assert not gc.isenabled()  # a caller's choice is kept
  finally:
    gc.enable()


def test_encode_drops_unknown_words_and_keeps_sentences(tmp_path):
  text = jw2v.read_text(write_text(tmp_path / 'c.txt', 'a b zz a\nqq\nb b a\n'))
  vocab = jw2v.build_vocab(count_words(text), min_count=2)
  corpus = jw2v.encode(text, vocab)
  assert vocab.words == ('a', 'b')
  assert corpus.ids.tolist() == [0, 1, 0, 1, 1, 0]
  assert corpus.offsets.tolist() == [0, 3, 6]  # the line of only 'qq' disappears
  assert corpus.raw_words == 8 and corpus.ids.dtype == np.int32


@pytest.mark.parametrize('min_count, max_vocab_size', [(1, None), (2, None), (1, 3), (3, 2), (2, 1)])
def test_load_corpus_is_count_build_and_encode(tmp_path, min_count, max_vocab_size):
  # load_corpus's one-pass numbering gives what the three public steps give: the vocabulary's order (ties
  # in order of first occurrence), the ids, and the sentences, also when words fall out of the vocabulary.
  lines = ['d c b a', 'e', 'a b c d a b c a b a', '', 'f f f e e', 'c d', 'x', 'e f x y z x']
  path = write_text(tmp_path / 'c.txt', '\n'.join(lines) + '\n')
  text = jw2v.read_text(path)
  vocab = jw2v.build_vocab(count_words(text), min_count, max_vocab_size)
  if len(vocab) < 2:
    with pytest.raises(jw2v.DataError, match='distinct word'):
      jw2v.load_corpus(path, min_count, max_vocab_size, max_sentence_length=3)
    return
  expected = jw2v.encode(text, vocab, max_sentence_length=3)
  corpus, got_vocab, _ = jw2v.load_corpus(path, min_count, max_vocab_size, max_sentence_length=3)
  assert got_vocab.words == vocab.words and got_vocab.counts.tolist() == vocab.counts.tolist()
  assert corpus.ids.dtype == np.int32 and corpus.ids.tolist() == expected.ids.tolist()
  assert corpus.offsets.tolist() == expected.offsets.tolist() and corpus.raw_words == expected.raw_words


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

  def deny(path):
    raise PermissionError(13, 'Permission denied', str(path))

  monkeypatch.setattr(jw2v.corpus, '_open_binary', deny)
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


@pytest.mark.parametrize('args, name', [((0, 100), 'n_tokens'), ((100, 0), 'vocab_size'), ((10.5, 100), 'n_tokens'),
                                        ((100, True), 'vocab_size')])
def test_synthetic_corpus_refuses_impossible_sizes(args, name):
  with pytest.raises(jw2v.ConfigError, match=f'{name} must be a positive integer'):
    jw2v.synthetic_corpus(*args)
  with pytest.raises(jw2v.ConfigError, match='sentence_length'):
    jw2v.synthetic_corpus(100, 10, sentence_length=0)


def test_pieces_split_a_huge_line_but_keep_it_one_line(tmp_path):
  words = [f'w{i % 97}' for i in range(300_000)]
  path = write_text(tmp_path / 'one.txt', ' '.join(words))  # a single line, no line end
  got = list(jw2v.corpus.pieces(path, piece_bytes=1 << 16))
  assert len(got) > 10 and all(p.open_end for p in got[:-1]) and not got[-1].open_end
  text = jw2v.read_text(path)
  assert text.tokens == words and text.line_lengths.tolist() == [300_000]


def test_a_line_of_millions_of_tokens_is_cut_into_sentences(tmp_path):
  rng = np.random.default_rng(0)
  vocab_words = np.array([f'w{i}' for i in range(500)])
  path = write_text(tmp_path / 'huge.txt', 'short line here\n' + ' '.join(vocab_words[rng.integers(0, 500, 3_000_000)]))
  prepared = jw2v.prepare_corpus(path, tmp_path / 'prep', min_count=1, piece_bytes=1 << 20)
  assert prepared.info['raw_words'] == 3_000_003 and prepared.info['sentences'] == 1 + 300
  lengths = np.diff(prepared.corpus.offsets)
  assert lengths[0] == 3 and np.all(lengths[1:] == 10_000)


def test_binary_files_are_refused(tmp_path):
  (tmp_path / 'image.png').write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(range(256)) * 10)
  with pytest.raises(jw2v.DataError, match='image.png looks like a binary file'):
    jw2v.read_text(tmp_path / 'image.png')


def test_whitespace_only_corpus_is_empty(tmp_path):
  path = write_text(tmp_path / 'blank.txt', ' \t \n\r\n\n   \x0c\n')
  with pytest.raises(jw2v.DataError, match='empty'):
    jw2v.load_corpus(path)
  with pytest.raises(jw2v.DataError, match='empty'):
    jw2v.prepare_corpus(path, tmp_path / 'prep')
  assert not (tmp_path / 'prep').exists()


@pytest.mark.parametrize('opener, name', [(open, 'c.txt'), (gzip.open, 'c.txt.gz'), (bz2.open, 'c.txt.bz2')])
def test_prepared_corpus_equals_the_in_memory_one(tmp_path, opener, name):
  rng = np.random.default_rng(1)
  words = [f'w{i}' for i in range(40)]
  lines = [' '.join(rng.choice(words, size=rng.integers(0, 30))) for _ in range(2000)]
  plain = write_text(tmp_path / 'plain.txt', '\r\n'.join(lines))
  with opener(tmp_path / name, 'wt', encoding='utf-8') as f:
    f.write('\r\n'.join(lines))
  for piece_bytes in (97, 1 << 20):  # pieces far smaller than a line, and one piece for everything
    prepared = jw2v.prepare_corpus(tmp_path / name, tmp_path / f'prep{piece_bytes}', min_count=3,
                                   max_sentence_length=7, piece_bytes=piece_bytes)
    corpus, vocab, _ = jw2v.load_corpus(plain, min_count=3, max_sentence_length=7)
    assert prepared.vocab.words == vocab.words and prepared.vocab.counts.tolist() == vocab.counts.tolist()
    np.testing.assert_array_equal(prepared.corpus.ids[0:len(corpus.ids)], corpus.ids)
    np.testing.assert_array_equal(prepared.corpus.offsets, corpus.offsets)
    assert prepared.corpus.raw_words == corpus.raw_words
    again = jw2v.open_prepared(tmp_path / f'prep{piece_bytes}')
    np.testing.assert_array_equal(again.corpus.ids[5:50], corpus.ids[5:50])


def test_directory_corpus_keeps_files_apart(tmp_path):
  (tmp_path / 'd').mkdir()
  write_text(tmp_path / 'd' / 'a.txt', 'one two three')  # no final line end
  with gzip.open(tmp_path / 'd' / 'b.gz', 'wt') as f:
    f.write('four five\nsix\n')
  with bz2.open(tmp_path / 'd' / 'c.bz2', 'wt') as f:
    f.write('seven eight')
  write_text(tmp_path / 'd' / '.hidden', 'ignored words')
  text = jw2v.read_text(tmp_path / 'd')
  assert text.tokens == ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight']
  assert text.line_lengths.tolist() == [3, 2, 1, 2]


def test_damaged_prepared_corpus(tmp_path):
  path = write_text(tmp_path / 'c.txt', 'a b c a b a\n' * 10)
  jw2v.prepare_corpus(path, tmp_path / 'p', min_count=1)
  ids = (tmp_path / 'p' / 'ids.npy').read_bytes()
  (tmp_path / 'p' / 'ids.npy').write_bytes(ids[:-8])
  with pytest.raises(jw2v.DataError, match='shorter than its header says'):
    jw2v.open_prepared(tmp_path / 'p')
  (tmp_path / 'p' / 'corpus.json').write_text('{not json')
  with pytest.raises(jw2v.DataError, match='corpus.json: not valid JSON'):
    jw2v.open_prepared(tmp_path / 'p')


def test_in_memory_sentences_give_what_the_same_text_in_a_file_gives(tmp_path):
  sentences = [['the', 'cat', 'sat'], [], ['the', 'dog', 'sat', 'on', 'the', 'mat'], ['a', 'cat']] * 50
  path = write_text(tmp_path / 'c.txt', '\n'.join(' '.join(s) for s in sentences) + '\n')
  from_file, vocab, _ = jw2v.load_corpus(path, min_count=2, max_sentence_length=4)
  for source in (sentences, (list(s) for s in sentences), map(tuple, sentences)):  # a list, a generator, an iterator
    corpus, same_vocab, text = jw2v.load_corpus(source, min_count=2, max_sentence_length=4)
    assert same_vocab.words == vocab.words and text.path == '<sentences>'
    np.testing.assert_array_equal(same_vocab.counts, vocab.counts)
    np.testing.assert_array_equal(corpus.ids, from_file.ids)
    np.testing.assert_array_equal(corpus.offsets, from_file.offsets)
    assert corpus.raw_words == from_file.raw_words


@pytest.mark.parametrize('sentences, message', [(['the cat sat'], 'sentence 0 is a str, not a list of tokens'),
                                                ([['a'], ['b', 3]], 'sentence 1 holds a token that is not a string'),
                                                ([[], []], 'corpus is empty')])
def test_bad_in_memory_sentences(sentences, message):
  with pytest.raises(jw2v.DataError, match=message):
    jw2v.load_corpus(sentences, min_count=1)


def test_load_corpus_grows_a_base_vocabulary():
  _, old, _ = jw2v.load_corpus([['a', 'b', 'a']] * 5, min_count=1)
  corpus, vocab, _ = jw2v.load_corpus([['b', 'z', 'a', 'y']] * 3, min_count=3, base_vocab=old)
  assert vocab.words == ('a', 'b', 'z', 'y') and vocab.counts.tolist() == [13, 8, 3, 3]
  np.testing.assert_array_equal(corpus.ids[:4], [1, 2, 0, 3])
  # words of the base vocabulary that the new text lacks keep their ids and counts
  _, old, _ = jw2v.load_corpus([['a', 'b', 'c', 'a']] * 5, min_count=1)
  corpus, vocab, _ = jw2v.load_corpus([['b', 'z']] * 6, min_count=5, base_vocab=old)
  assert vocab.words == ('a', 'b', 'c', 'z') and vocab.counts.tolist() == [10, 11, 5, 6]
  np.testing.assert_array_equal(corpus.ids[:2], [1, 3])
