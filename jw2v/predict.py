"""What a trained model predicts: the centre words most likely given context words (gensim's
`predict_output_word`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jw2v.errors import UnknownWordError
from jw2v.vocab import Vocab


def predict_output_word(params: dict, vocab: Vocab, context_words: Sequence[str], topn: int = 10,
                        cbow_mean: bool = True) -> list[tuple[str, float]]:
  """The words most likely to be the centre of `context_words`, as gensim computes it for negative sampling.

  h is the mean (`cbow_mean`, else the sum) of the context words' input vectors; each word's probability
  is the softmax over the vocabulary of h . its output vector. Context words outside the vocabulary are
  left out.

  Args:
    params: {'W_in': (V, H), 'W_out': (H, V)}, as `train` returns them.
    vocab: the vocabulary the params were trained with.
    context_words: the words around the centre.
    topn: how many words to return.
    cbow_mean: average the context vectors (gensim's default); False sums them.

  Returns:
    [(word, probability)], most likely first.

  Raises:
    UnknownWordError: none of the context words is in the vocabulary.
  """
  idx = [vocab.index[w] for w in context_words if w in vocab.index]
  if not idx:
    raise UnknownWordError(f'none of the context words is in the vocabulary: {", ".join(map(repr, context_words))}')
  h_H = np.asarray(params['W_in'], np.float64)[idx].sum(axis=0)
  if cbow_mean:
    h_H /= len(idx)
  scores_V = h_H @ np.asarray(params['W_out'], np.float64)
  prob_V = np.exp(scores_V - scores_V.max())
  prob_V /= prob_V.sum()
  top = np.argsort(-prob_V, kind='stable')[:topn]
  return [(vocab.words[i], float(prob_V[i])) for i in top]
