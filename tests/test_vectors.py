import numpy as np
import pytest

import jw2v
from jw2v.vectors import WordVectors

gensim_models = pytest.importorskip('gensim.models')
KeyedVectors = gensim_models.KeyedVectors

WORDS = ('the', 'König', 'naïve', '日本', 'straße', 'cat', 'dog', 'x')


@pytest.fixture
def vectors():
  rng = np.random.default_rng(0)
  return WordVectors(WORDS, rng.normal(size=(len(WORDS), 5)).astype(np.float32))


@pytest.mark.parametrize('binary', [False, True])
def test_gensim_reads_what_we_write(tmp_path, vectors, binary):
  path = tmp_path / ('v.bin' if binary else 'v.txt')
  vectors.save(path, binary=binary)
  kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
  assert tuple(kv.index_to_key) == WORDS
  np.testing.assert_array_equal(kv.vectors, vectors.vectors)


@pytest.mark.parametrize('binary', [False, True])
def test_we_read_what_gensim_writes(tmp_path, vectors, binary):
  kv = KeyedVectors(5)
  kv.add_vectors(list(WORDS), vectors.vectors)
  path = tmp_path / ('g.bin' if binary else 'g.txt')
  kv.save_word2vec_format(str(path), binary=binary)
  loaded = jw2v.load_word2vec(path, binary=binary)
  assert loaded.words == WORDS
  np.testing.assert_allclose(loaded.vectors, vectors.vectors, rtol=1e-6)


@pytest.mark.parametrize('binary', [False, True])
def test_truncated_file_names_file_and_place(tmp_path, vectors, binary):
  path = tmp_path / ('v.bin' if binary else 'v.txt')
  vectors.save(path, binary=binary)
  data = path.read_bytes()
  path.write_bytes(data[:len(data) * 2 // 3])
  with pytest.raises(jw2v.DataError, match=r'v\.(bin|txt).*truncated'):
    jw2v.load_word2vec(path)


@pytest.mark.parametrize('content, where', [
    (b'', ':1:'), (b'3\n', ':1:'), (b'2 3\na 1 2 3\nb 1 2\n', ':3:'), (b'1 2\na 1 zz\n', ':2:')])
def test_malformed_text_files(tmp_path, content, where):
  (tmp_path / 'v.txt').write_bytes(content)
  with pytest.raises(jw2v.DataError, match=where):
    jw2v.load_word2vec(tmp_path / 'v.txt')


def test_missing_file(tmp_path):
  with pytest.raises(jw2v.DataError, match='not found'):
    WordVectors.load(tmp_path / 'nope.bin')


def test_most_similar_matches_gensim(vectors):
  kv = KeyedVectors(5)
  kv.add_vectors(list(WORDS), vectors.vectors)
  for pos, neg in ((['cat'], []), (['König', 'naïve'], ['the']), ([], ['dog'])):
    ours = vectors.most_similar(positive=pos, negative=neg, topn=4)
    theirs = kv.most_similar(positive=pos, negative=neg, topn=4)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5, atol=1e-6)


def test_lookup(vectors):
  assert 'cat' in vectors and 'bird' not in vectors and len(vectors) == len(WORDS)
  np.testing.assert_array_equal(vectors['cat'], vectors.vectors[5])
  with pytest.raises(KeyError, match="'bird' is not in the vocabulary"):
    vectors.most_similar('bird')
  with pytest.raises(ValueError):
    vectors.vectors[0, 0] = 1.0  # immutable
