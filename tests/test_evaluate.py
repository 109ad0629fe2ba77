"""jw2v's evaluators give gensim's numbers on the same vectors."""

import logging

import numpy as np
import pytest

import jw2v
from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
from jw2v.vectors import WordVectors
from conftest import write_text

gensim_models = pytest.importorskip('gensim.models')
logging.getLogger('gensim').setLevel(logging.ERROR)


def _gensim(vectors: WordVectors):
  kv = gensim_models.KeyedVectors(vectors.vectors.shape[1])
  kv.add_vectors(list(vectors.words), vectors.vectors)
  return kv


def _gensim_sections(kv, path, **kw):
  score, sections = kv.evaluate_word_analogies(str(path), **kw)
  return score, {s['section']: (len(s['correct']), len(s['correct']) + len(s['incorrect']))
                 for s in sections if s['section'] != 'Total accuracy'}


def _same_as_gensim(vectors, pairs_paths, analogy_path, **kw):
  kv = _gensim(vectors)
  for path in pairs_paths:
    ours = evaluate_word_pairs(vectors, path, **kw)
    pearson, spearman, oov = kv.evaluate_word_pairs(str(path), **kw)
    assert abs(ours.spearman - spearman[0]) < 1e-6 and abs(ours.pearson - pearson[0]) < 1e-6
    assert ours.oov_ratio == pytest.approx(oov, abs=1e-12)
  ours = evaluate_word_analogies(vectors, analogy_path, **kw)
  score, sections = _gensim_sections(kv, analogy_path, **kw)
  assert ours.sections == sections
  assert ours.accuracy == pytest.approx(score, abs=1e-15)
  return ours


@pytest.fixture(scope='module')
def ptb_vectors(ptb_train, tmp_path_factory):
  corpus, vocab, _ = jw2v.load_corpus(ptb_train, min_count=1)
  config = jw2v.Config(model='skipgram', dim=50, min_count=1, epochs=2)
  return WordVectors.from_params(jw2v.train(corpus, vocab, config, progress=False).params, vocab)


@pytest.mark.parametrize('kw', [{}, {'case_insensitive': False}, {'restrict_vocab': 2000},
                                {'dummy4unknown': True}])
def test_trained_ptb_vectors_score_as_in_gensim(ptb_vectors, kw):
  result = _same_as_gensim(ptb_vectors, [standard_set('wordsim353'), standard_set('simlex999')],
                           standard_set('analogies'), **kw)
  assert result.questions == 19_544
  assert sum(c for c, _ in result.sections.values()) > 5  # some answers are right: a meaningful check


@pytest.fixture
def tricky(tmp_path):
  """Vectors with case variants that are nearest neighbours of the query words, OOV words, comments."""
  rng = np.random.default_rng(3)
  dim = 64  # random words then have cosine ~N(0, 1/8) with a query, well below the planted ones
  base = ['paris', 'france', 'rome', 'italy', 'berlin', 'germany', 'big', 'bigger', 'small', 'smaller']
  words = base + ['Paris', 'ITALY', 'Bigger', 'smaller'.upper()] + [f'w{i}' for i in range(60)]
  vecs = {w: rng.normal(size=dim) for w in words}
  # "rome italy paris france": 'Paris', a near copy of the query word 'paris', ranks first (cosine ~0.58);
  # the expected 'france' second (~0.44). gensim skips 'Paris' by name when folding case, and gets it right.
  vecs['Paris'] = vecs['paris'] + 0.01 * rng.normal(size=dim)
  vecs['france'] = vecs['italy'] - vecs['rome'] + vecs['paris'] + 1.5 * rng.normal(size=(3, dim)).sum(0)
  # "paris france rome italy": the later variant 'ITALY' is the best answer; folded, it counts as 'italy'.
  vecs['ITALY'] = vecs['rome'] - vecs['paris'] + vecs['france'] + 0.1 * rng.normal(size=dim)
  vecs['smaller'] = vecs['bigger'] - vecs['big'] + vecs['small'] + 0.05 * rng.normal(size=dim)
  vecs['SMALLER'] = vecs['smaller'] + 0.02 * rng.normal(size=dim)
  vecs['germany'] = vecs['berlin'] - vecs['paris'] + vecs['france']
  vectors = WordVectors(words, np.stack([vecs[w] for w in words]).astype(np.float32))
  analogies = write_text(tmp_path / 'q.txt', '\n'.join([
      ': capitals', 'paris france rome italy', 'Paris France Berlin Germany', 'paris france oslo norway',
      'rome italy paris france', 'bad line', 'paris france berlin germany extra',
      ': gram-comparative', 'big bigger small smaller', 'small smaller big bigger', 'big bigger tiny tinier',
      ': empty-section']))
  pairs = write_text(tmp_path / 'p.tsv', '# a comment\nparis\tfrance\t7.5\nrome\titaly\t8\nbig\tsmall\t2\n'
                                         'oslo\tnorway\t9\nBIG\tbigger\t6\nbad line\nx\ty\tnot-a-number\n'
                                         'small\tsmaller\t7.1\nw1\tw2\t0.5\n')
  return vectors, pairs, analogies


@pytest.mark.parametrize('kw', [{}, {'case_insensitive': False}, {'dummy4unknown': True}, {'restrict_vocab': 12}])
def test_edge_cases_score_as_in_gensim(tricky, kw):
  vectors, pairs, analogies = tricky
  result = _same_as_gensim(vectors, [pairs], analogies, **kw)
  assert list(result.sections) == ['capitals', 'gram-comparative', 'empty-section']
  assert result.sections['empty-section'] == (0, 0)


def test_case_variant_of_a_query_word_is_skipped(tricky):
  vectors, _, analogies = tricky
  query = ['paris', 'italy']  # positive: b, c; negative: a
  assert [w for w, _ in vectors.most_similar(query, ['rome'], topn=2)] == ['Paris', 'france']
  folded = evaluate_word_analogies(vectors, analogies)
  exact = evaluate_word_analogies(vectors, analogies, case_insensitive=False)
  assert folded.sections['capitals'][0] > exact.sections['capitals'][0]


def test_semantic_and_syntactic_subtotals(tricky):
  vectors, _, analogies = tricky
  result = evaluate_word_analogies(vectors, analogies)
  assert result.subtotal(syntactic=True) == result.sections['gram-comparative']
  assert result.subtotal(syntactic=False) == tuple(map(sum, zip(result.sections['capitals'],
                                                                result.sections['empty-section'])))


@pytest.mark.parametrize('content, message', [
    ('paris france rome italy\n', ':1: a question before'),
    ('', 'no analogy questions'),
    (': only a header\n', 'no analogy questions')])
def test_bad_analogy_files(tmp_path, tricky, content, message):
  with pytest.raises(jw2v.DataError, match=message):
    evaluate_word_analogies(tricky[0], write_text(tmp_path / 'bad.txt', content))


def test_bad_pair_files(tmp_path, tricky):
  with pytest.raises(jw2v.DataError, match='no usable word pairs'):
    evaluate_word_pairs(tricky[0], write_text(tmp_path / 'p.tsv', 'zzz\tyyy\t1\n'))
  (tmp_path / 'bin.tsv').write_bytes(b'paris\tfrance\t1\nab\xff\tc\t2\n')
  with pytest.raises(jw2v.DataError, match=r'bin.tsv:2: not valid UTF-8'):
    evaluate_word_pairs(tricky[0], tmp_path / 'bin.tsv')
  with pytest.raises(jw2v.DataError, match='not found'):
    evaluate_word_pairs(tricky[0], tmp_path / 'missing.tsv')
