import numpy as np
import pytest

import jw2v
from jw2v.errors import DataError
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


@pytest.fixture
def many():
  rng = np.random.default_rng(1)
  words = tuple(f'w{i}' for i in range(200)) + ('Cat', 'cat')
  return WordVectors(words, rng.normal(size=(len(words), 12)).astype(np.float32))


def _kv(vectors):
  kv = KeyedVectors(vectors.vectors.shape[1])
  kv.add_vectors(list(vectors.words), vectors.vectors)
  return kv


def _assert_same_ranking(ours, theirs):
  assert [w for w, _ in ours] == [w for w, _ in theirs]
  np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('pos, neg, restrict', [(['w1'], [], None), (['w1', 'w2'], ['w3'], None),
                                                (['w5', 'cat'], ['w7'], 50), (['Cat'], ['w0', 'w9'], 120)])
def test_most_similar_and_cosmul_match_gensim(many, pos, neg, restrict):
  kv = _kv(many)
  _assert_same_ranking(many.most_similar(pos, neg, topn=7, restrict_vocab=restrict),
                       kv.most_similar(pos, neg, topn=7, restrict_vocab=restrict))
  if restrict is None:  # gensim 4.4 ignores restrict_vocab in most_similar_cosmul
    _assert_same_ranking(many.most_similar_cosmul(pos, neg, topn=7), kv.most_similar_cosmul(pos, neg, topn=7))
  else:
    assert all(many.index[w] < restrict for w, _ in many.most_similar_cosmul(pos, neg, restrict_vocab=restrict))


def test_similarity_doesnt_match_and_rank_match_gensim(many):
  kv = _kv(many)
  for a, b in (('w1', 'w2'), ('cat', 'Cat'), ('w3', 'w3')):
    assert many.similarity(a, b) == pytest.approx(float(kv.similarity(a, b)), abs=1e-6)
    assert many.rank(a, b) == kv.rank(a, b)
  assert many.doesnt_match(['w1', 'w2', 'w3', 'w4']) == kv.doesnt_match(['w1', 'w2', 'w3', 'w4'])
  with pytest.warns(UserWarning, match='zebra'):
    assert many.doesnt_match(['cat', 'Cat', 'w10', 'zebra']) == kv.doesnt_match(['cat', 'Cat', 'w10', 'zebra'])


def test_batch_queries_equal_single_queries(many):
  batch = many.most_similar_batch(['w1', 'w2', 'cat'], topn=5)
  for word, result in zip(('w1', 'w2', 'cat'), batch):
    _assert_same_ranking(result, many.most_similar(word, topn=5))
  rows = np.arange(700) % len(many)  # more queries than one device block
  sims, idx = many.top_similar(many.vectors[rows], 3)
  assert idx.shape == (700, 3) and np.all(idx[:, 0] == rows)
  np.testing.assert_allclose(sims[:, 0], 1.0, rtol=1e-5)


def test_topn_beyond_the_vocabulary_never_returns_query_words(vectors):
  result = vectors.most_similar(['cat', 'dog'], topn=100)
  assert len(result) == len(WORDS) - 2 and not {'cat', 'dog'} & {w for w, _ in result}


def test_projector_export(tmp_path, vectors):
  vec_path, meta_path = vectors.save_projector(tmp_path / 'proj')
  rows = [line.split('\t') for line in vec_path.read_text(encoding='utf-8').splitlines()]
  np.testing.assert_array_equal(np.array(rows, dtype=np.float32), vectors.vectors)
  assert tuple(meta_path.read_text(encoding='utf-8').splitlines()) == WORDS


def test_lookups_have_gensim_names(many):
  kv = _kv(many)
  assert list(many.index_to_key) == kv.index_to_key and many.key_to_index == kv.key_to_index
  assert many.vector_size == kv.vector_size == 12
  for key in ('cat', 'w3', 7):
    np.testing.assert_array_equal(many.get_vector(key), kv.get_vector(key))
    np.testing.assert_allclose(many.get_vector(key, norm=True), kv.get_vector(key, norm=True), atol=1e-6)
  np.testing.assert_array_equal(many[['cat', 'w3', 'Cat']], kv[['cat', 'w3', 'Cat']])
  assert 7 in many and 202 not in many and 'bird' not in many
  with pytest.raises(KeyError, match="'bird'"):
    many[['cat', 'bird']]


@pytest.mark.parametrize('positive, negative', [
    (['w1', 'w2'], ['w3']),
    ([('w1', 2.0), 'w4'], [('w5', -0.5)]),
    ('w9', None),
    ('vector', ['w2']),
    (['vector', ('w8', 3.0)], None),
])
def test_most_similar_takes_words_vectors_and_weights_as_gensim(many, positive, negative):
  kv = _kv(many)
  vector = np.random.default_rng(3).normal(size=12).astype(np.float32)
  swap = lambda items: vector if isinstance(items, str) and items == 'vector' else (
      [vector if item == 'vector' else item for item in items] if isinstance(items, list) else items)
  positive = swap(positive)
  _assert_same_ranking(many.most_similar(positive, negative, topn=9), kv.most_similar(positive, negative, topn=9))
  np.testing.assert_allclose(many.most_similar(positive, negative, topn=None), kv.most_similar(positive, negative, topn=None),
                             atol=1e-5)
  _assert_same_ranking(many.most_similar(positive, negative, topn=5, clip_start=20, clip_end=120),
                       kv.most_similar(positive, negative, topn=5, clip_start=20, clip_end=120))
  np.testing.assert_allclose(many.most_similar(positive, negative, topn=None, restrict_vocab=50),
                             kv.most_similar(positive, negative, topn=None, restrict_vocab=50), atol=1e-5)


def test_similar_by_word_and_vector_match_gensim(many):
  kv = _kv(many)
  vector = many.vectors[4] + many.vectors[9]
  _assert_same_ranking(many.similar_by_vector(vector, topn=6), kv.similar_by_vector(vector, topn=6))
  _assert_same_ranking(many.similar_by_word('cat', topn=6, restrict_vocab=100),
                       kv.similar_by_word('cat', topn=6, restrict_vocab=100))
  _assert_same_ranking(many.similar_by_key('w4', topn=3), kv.similar_by_key('w4', topn=3))
  np.testing.assert_allclose(many.similar_by_vector(vector, topn=None), kv.similar_by_vector(vector, topn=None), atol=1e-5)
  assert many.most_similar('cat', topn=0) == kv.most_similar('cat', topn=0) == []


def test_distances_and_means_match_gensim(many):
  kv = _kv(many)
  assert many.n_similarity(['w1', 'w2'], ['cat', 'w9', 'w4']) == pytest.approx(
      float(kv.n_similarity(['w1', 'w2'], ['cat', 'w9', 'w4'])), abs=1e-5)
  assert many.distance('w1', 'Cat') == pytest.approx(float(kv.distance('w1', 'Cat')), abs=1e-6)
  np.testing.assert_allclose(many.distances('w3'), kv.distances('w3'), atol=1e-5)
  np.testing.assert_allclose(many.distances(many.vectors[5], ['w1', 'cat']), kv.distances(many.vectors[5], ['w1', 'cat']),
                             atol=1e-5)
  for a, b in (('w1', 'w2'), ('cat', 'w150'), ('Cat', 'cat')):
    assert many.closer_than(a, b) == kv.closer_than(a, b)
    assert many.words_closer_than(a, b) == kv.closer_than(a, b)
    assert many.rank(a, b) == kv.rank(a, b)
  vector = np.ones(12, np.float32)
  for keys, weights, pre, post in ((['w1', 'w2'], None, True, False), (['w1', vector, 'bird'], [1.0, -2.0, 3.0], False, True),
                                   ([vector], None, True, True)):
    np.testing.assert_allclose(many.get_mean_vector(keys, weights, pre, post), kv.get_mean_vector(keys, weights, pre, post),
                               atol=1e-6)
  with pytest.raises(KeyError):
    many.get_mean_vector(['w1', 'bird'], ignore_missing=False)


def test_doesnt_match_warns_about_the_words_it_ignores(many):
  with pytest.warns(UserWarning, match=r"ignoring words not in the vocabulary: \['bird', 'zebra'\]"):
    assert many.doesnt_match(['w1', 'zebra', 'w2', 'bird', 'w3']) == _kv(many).doesnt_match(['w1', 'w2', 'w3'])


def test_load_limit_and_files_without_a_header_as_gensim(tmp_path, many):
  many.save(tmp_path / 'v.txt')
  many.save(tmp_path / 'v.bin', binary=True)
  for name, binary in (('v.txt', False), ('v.bin', True)):
    ours = WordVectors.load(tmp_path / name, limit=30)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / name), binary=binary, limit=30)
    assert list(ours.words) == kv.index_to_key and len(ours) == 30
    np.testing.assert_array_equal(ours.vectors, kv.vectors)
  lines = (tmp_path / 'v.txt').read_text(encoding='utf-8').splitlines()[1:]
  (tmp_path / 'glove.txt').write_text('\n'.join(lines) + '\n', encoding='utf-8')
  ours = WordVectors.load(tmp_path / 'glove.txt', no_header=True)
  kv = KeyedVectors.load_word2vec_format(str(tmp_path / 'glove.txt'), no_header=True)
  assert list(ours.words) == kv.index_to_key
  np.testing.assert_array_equal(ours.vectors, kv.vectors)
  assert len(WordVectors.load(tmp_path / 'glove.txt', no_header=True, limit=4)) == 4
  with pytest.raises(DataError, match='glove.txt:1: expected a "count dimension" header'):
    WordVectors.load(tmp_path / 'glove.txt')
  with pytest.raises(DataError, match='text files only'):
    WordVectors.load(tmp_path / 'v.bin', no_header=True)


def test_to_and_from_gensim_keep_words_and_vectors(many):
  kv = many.to_gensim()
  assert isinstance(kv, KeyedVectors) and kv.index_to_key == list(many.words)
  np.testing.assert_array_equal(kv.vectors, many.vectors)
  back = WordVectors.from_gensim(kv)
  assert back.words == many.words
  np.testing.assert_array_equal(back.vectors, many.vectors)
  _assert_same_ranking(back.most_similar('cat'), kv.most_similar('cat'))
