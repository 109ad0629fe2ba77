"""Word classes: k-means clustering of word vectors on the device (word2vec.c's `-classes K`)."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import ConfigError, OutputExistsError
from jw2v.vectors import WordVectors

_BLOCK = 8192  # words scored against the centroids at once: the (block, K) scores stay small


def word_classes(vectors: WordVectors, k: int, iterations: int = 10, seed: int = 1) -> np.ndarray:
  """Clusters the words into k classes by spherical k-means of their unit vectors, as word2vec.c's
  `-classes` does (each centroid the normalised sum of its words' unit vectors, each word in the class of
  the nearest centroid by cosine), starting from k distinct words chosen by `seed`.

  Args:
    vectors: the word vectors.
    k: number of classes, 1 <= k <= len(vectors).
    iterations: rounds of assignment and centroid update (word2vec.c: 10).
    seed: chooses the starting centroids; the same seed gives the same classes.

  Returns:
    (V,) int32: the class of each word, in the vectors' row order.
  """
  for name, value, low in (('k', k, 1), ('iterations', iterations, 1)):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
      raise ConfigError(f'{name} must be a whole number >= {low}, got {value!r}', field=name)
  if k > len(vectors):
    raise ConfigError(f'k must be at most the number of words ({len(vectors)}), got {k}', field='k')
  unit_VxH = vectors.unit_vectors
  pad = -len(vectors) % _BLOCK
  unit_NxH = jnp.pad(unit_VxH, ((0, pad), (0, 0)))
  first_K = jax.random.choice(jax.random.key(seed), len(vectors), (k,), replace=False)
  classes_N = _kmeans(unit_NxH, unit_VxH[first_K], len(vectors), iterations)
  return np.asarray(classes_N[:len(vectors)])


@functools.partial(jax.jit, static_argnums=(2, 3))
def _kmeans(unit_NxH, centroids_KxH, words, iterations):
  """The class of each (padded) row after `iterations` rounds; padding rows (past `words`) count nowhere."""
  real_N = jnp.arange(unit_NxH.shape[0]) < words

  def round_(_, centroids_KxH):
    classes_N = _nearest(unit_NxH, centroids_KxH)
    sums_KxH = jax.ops.segment_sum(jnp.where(real_N[:, None], unit_NxH, 0.0), classes_N,
                                   num_segments=centroids_KxH.shape[0])
    norms_Kx1 = jnp.linalg.norm(sums_KxH, axis=1, keepdims=True)
    return jnp.where(norms_Kx1 > 0, sums_KxH / jnp.maximum(norms_Kx1, 1e-30), centroids_KxH)  # an empty class stays

  return _nearest(unit_NxH, jax.lax.fori_loop(0, iterations, round_, centroids_KxH))


def _nearest(unit_NxH, centroids_KxH):
  """The centroid of highest cosine for each row, a block of rows at a time."""
  blocks = unit_NxH.reshape(-1, _BLOCK, unit_NxH.shape[1])
  return jax.lax.map(lambda block_BxH: jnp.argmax(block_BxH @ centroids_KxH.T, axis=1), blocks).reshape(-1)


def check_classes_output(path, force: bool = False) -> None:
  """Raises OutputExistsError if `path` exists and `force` is False (`save_classes` would refuse it)."""
  if Path(path).exists() and not force:
    raise OutputExistsError(f'{path} already exists; choose another --out, or pass --force')


def save_classes(path, words, classes, force: bool = False) -> None:
  """Writes `word class` lines sorted by class (words of a class in vocabulary order), as word2vec.c's
  demo-classes.sh leaves them; atomically.

  Args:
    path: the file.
    words: the words, in row order.
    classes: (V,) the class of each word (`word_classes`).
    force: replace the file if it exists.
  """
  check_classes_output(path, force)
  order = np.argsort(np.asarray(classes), kind='stable')
  with atomic_write(path, 'w', encoding='utf-8') as f:
    for i in order:
      f.write(f'{words[i]} {int(classes[i])}\n')
