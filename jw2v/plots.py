"""PNG plots with matplotlib: a 2-D PCA projection of chosen words, and the training-loss curve."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError
from jw2v.vectors import WordVectors


def _figure():
  try:
    from matplotlib.figure import Figure  # the object API: no pyplot state, no display needed
  except ImportError:
    raise DataError("plots need matplotlib: pip install 'jw2v[plot]'") from None
  return Figure(figsize=(7, 6), dpi=120)


def pca_2d(x_NxH: np.ndarray) -> np.ndarray:
  """Projects rows onto their first two principal components; (N, 2)."""
  centered = x_NxH - x_NxH.mean(axis=0)
  _, _, vt = np.linalg.svd(centered, full_matrices=False)
  return centered @ vt[:2].T


def plot_words(vectors: WordVectors, words: Sequence[str], path) -> None:
  """Draws the chosen words at their 2-D PCA coordinates (fitted on those words), labelled, as a PNG.

  Raises:
    UnknownWordError: a word is not in the vocabulary.
    DataError: fewer than two distinct words.
  """
  words = list(dict.fromkeys(words))
  if len(words) < 2:
    raise DataError('a PCA plot needs at least two distinct words')
  xy = pca_2d(vectors.vectors[[vectors.get_index(w) for w in words]].astype(np.float64))
  fig = _figure()
  ax = fig.subplots()
  ax.scatter(xy[:, 0], xy[:, 1], s=12)
  for (x, y), word in zip(xy, words):
    ax.annotate(word, (x, y), xytext=(3, 3), textcoords='offset points')
  ax.set_title(f'PCA of {len(words)} word vectors')
  ax.set_xlabel('PC 1')
  ax.set_ylabel('PC 2')
  _save(fig, path)


def plot_loss(history: dict, path) -> None:
  """Draws the mean training loss per epoch from a run's history, as a PNG."""
  epochs = history.get('epochs') or []
  if not epochs:
    raise DataError('the history holds no epochs to plot')
  fig = _figure()
  ax = fig.subplots()
  ax.plot([e['epoch'] for e in epochs], [e['loss'] for e in epochs], marker='o')
  ax.set_xlabel('epoch')
  ax.set_ylabel('mean loss per example')
  ax.set_title('training loss')
  ax.grid(alpha=0.3)
  _save(fig, path)


def _save(fig, path) -> None:
  with atomic_write(path, 'wb') as f:
    fig.savefig(f, format='png', bbox_inches='tight')
