"""gensim's Word2Vec, trained the way the benchmarks compare jw2v against it."""

from __future__ import annotations

import logging
import time


def train_word2vec(path: str, model: str, *, dim: int, window: int, negative: int, min_count: int,
                   sample: float, epochs: int, seed: int, workers: int, hs: bool = False):
  """gensim's `Word2Vec(LineSentence(path), ...)` with jw2v's names for the settings, timed.

  Args:
    path: a text file, one sentence per line.
    model: 'skipgram' or 'cbow'.
    dim, window, negative, min_count, sample, epochs, seed, hs: as jw2v's Config fields.
    workers: gensim's threads.

  Returns:
    (the trained Word2Vec, wall seconds from the file to the vectors: vocabulary scan and training).
  """
  from gensim.models import Word2Vec
  from gensim.models.word2vec import LineSentence
  logging.getLogger('gensim').setLevel(logging.ERROR)
  start = time.perf_counter()
  w2v = Word2Vec(LineSentence(path), sg=int(model == 'skipgram'), vector_size=dim, window=window,
                 negative=negative, min_count=min_count, sample=sample, epochs=epochs, seed=seed,
                 workers=workers, hs=int(hs))
  return w2v, time.perf_counter() - start
