import numpy as np
import pytest

from jw2v.classes import save_classes, word_classes
from jw2v.errors import ConfigError, OutputExistsError
from jw2v.vectors import WordVectors


def _blobs(seed=0, per=40, dim=8, k=3):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(k, dim)) * 6
  rows = np.concatenate([c + rng.normal(size=(per, dim)) for c in centres]).astype(np.float32)
  return WordVectors(tuple(f'w{i}' for i in range(len(rows))), rows)


def test_separated_clusters_are_found():
  classes = word_classes(_blobs(), 3, seed=2)
  groups = classes.reshape(3, 40)
  assert all(len(set(g.tolist())) == 1 for g in groups) and len(set(groups[:, 0].tolist())) == 3


def test_the_result_is_a_fixed_point_of_spherical_k_means():
  rng = np.random.default_rng(1)
  vectors = WordVectors(tuple(f'w{i}' for i in range(300)), rng.normal(size=(300, 6)).astype(np.float32))
  classes = word_classes(vectors, 7, iterations=100, seed=3)
  unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
  sums = np.stack([unit[classes == c].sum(0) for c in range(7)])
  centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
  np.testing.assert_array_equal(np.argmax(unit @ centroids.T, axis=1), classes)


def test_same_seed_same_classes():
  vectors = _blobs(seed=5, k=4)
  np.testing.assert_array_equal(word_classes(vectors, 6, seed=9), word_classes(vectors, 6, seed=9))


@pytest.mark.parametrize('k, iterations, match', [(0, 10, 'k must be a whole number >= 1'), (121, 10, 'at most the number'),
                                                  (2, 0, 'iterations must be')])
def test_impossible_settings(k, iterations, match):
  with pytest.raises(ConfigError, match=match):
    word_classes(_blobs(), k, iterations)


def test_the_file_is_sorted_by_class_and_never_overwritten(tmp_path):
  path = tmp_path / 'classes.txt'
  save_classes(path, ('a', 'b', 'c', 'd'), np.array([1, 0, 1, 0]))
  assert path.read_text(encoding='utf-8') == 'b 0\nd 0\na 1\nc 1\n'
  with pytest.raises(OutputExistsError, match='already exists'):
    save_classes(path, ('a',), np.array([0]))
  save_classes(path, ('a',), np.array([0]), force=True)
  assert path.read_text(encoding='utf-8') == 'a 0\n'
