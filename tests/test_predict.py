"""predict_output_word: the centre words most likely given context words, as gensim computes them."""

import numpy as np
import pytest

import jw2v


def _trained():
  sentences = [['the', 'cat', 'sat', 'on', 'the', 'mat'], ['the', 'dog', 'sat', 'on', 'the', 'log'],
               ['a', 'cat', 'and', 'a', 'dog']] * 40
  corpus, vocab, _ = jw2v.load_corpus(sentences, min_count=1)
  config = jw2v.Config(model='cbow', dim=8, min_count=1, epochs=3, window=2)
  return sentences, vocab, jw2v.train(corpus, vocab, config, progress=False).params


def test_the_same_words_and_probabilities_as_gensim():
  gensim = pytest.importorskip('gensim')
  sentences, vocab, params = _trained()
  model = gensim.models.Word2Vec(vector_size=8, min_count=1, window=2, negative=5)
  model.build_vocab(sentences)
  order = [vocab.index[w] for w in model.wv.index_to_key]  # gensim's own order of the same words
  model.wv.vectors[:] = params['W_in'][order]
  model.syn1neg[:] = params['W_out'].T[order]
  for context in (['the', 'sat'], ['cat', 'on', 'unknown-word']):
    ours = jw2v.predict_output_word(params, vocab, context, topn=4)
    theirs = model.predict_output_word(context, topn=4)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([p for _, p in ours], [p for _, p in theirs], rtol=1e-4)


def test_sum_and_unknown_words():
  _, vocab, params = _trained()
  mean = dict(jw2v.predict_output_word(params, vocab, ['cat', 'dog'], topn=len(vocab)))
  summed = dict(jw2v.predict_output_word(params, vocab, ['cat', 'dog'], topn=len(vocab), cbow_mean=False))
  assert abs(sum(mean.values()) - 1) < 1e-9 and mean.keys() == summed.keys() and mean != summed
  with pytest.raises(jw2v.UnknownWordError, match="none of the context words is in the vocabulary: 'zebra'"):
    jw2v.predict_output_word(params, vocab, ['zebra'])
